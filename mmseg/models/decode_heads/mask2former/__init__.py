from .pixel_decoder import MSDeformAttnPixelDecoder
from .transformer_decoder import (
    MultiScaleMaskedTransformerDecoder,
    VideoMultiScaleMaskedTransformerDecoder,
)

__all__ = ['MSDeformAttnPixelDecoder', 'MultiScaleMaskedTransformerDecoder',
           'VideoMultiScaleMaskedTransformerDecoder']
