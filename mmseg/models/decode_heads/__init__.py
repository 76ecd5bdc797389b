from . import mask2former  # noqa: F401  (registers the pixel decoder and the transformer decoders)
from .the_mask_1f_head import THEMask1fHead
from .the_mask_head import THEMaskHead

__all__ = ['THEMask1fHead', 'THEMaskHead']
