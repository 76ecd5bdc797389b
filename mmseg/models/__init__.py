from . import backbones, decode_heads, losses, segmentors  # noqa: F401  (register the modules)
from .builder import (
    BACKBONES,
    HEADS,
    LOSSES,
    PIXEL_DECODERS,
    SEGMENTORS,
    TRANSFORMER_DECODERS,
    build_backbone,
    build_head,
    build_segmentor,
)

__all__ = ['BACKBONES', 'HEADS', 'LOSSES', 'PIXEL_DECODERS', 'SEGMENTORS', 'TRANSFORMER_DECODERS',
           'build_backbone', 'build_head', 'build_segmentor']
