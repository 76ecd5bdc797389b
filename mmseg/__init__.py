"""THE-Mask: temporal-aware hierarchical mask classification for video semantic segmentation.

The package keeps the import name ``mmseg`` of the mmsegmentation-0.x fork the original code was
written in, so that configs and scripts read the same; it does not depend on mmcv or mmsegmentation.
"""
from .version import __version__

__all__ = ['__version__']
