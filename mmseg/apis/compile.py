"""``torch.compile`` of a THE-Mask segmentor, in place (the ``compile`` config key / ``--compile``).

The backbone and the transformer decoder are compiled as modules (``nn.Module.compile``: their
state-dict keys do not change, so checkpoints stay loadable either way), and the pixel decoder's
``forward_features``, which the head calls, as a function. The reference-mode switch and the
training flag are guarded, so eval/train and fast/reference each get their own graphs. Without a
C++ compiler inductor cannot build CPU kernels; then ``backend='aot_eager'`` still works.
"""
from typing import Optional

import torch
from torch import nn

__all__ = ['compile_segmentor']


def compile_segmentor(model: nn.Module, *, backend: Optional[str] = None,
                      mode: Optional[str] = None, dynamic: Optional[bool] = False) -> nn.Module:
    """Compile ``model``'s backbone, pixel decoder and transformer decoder in place; returns it."""
    options = dict(dynamic=dynamic)
    if backend is not None:
        options['backend'] = backend
    if mode is not None:
        options['mode'] = mode
    model.backbone.compile(**options)
    head = model.decode_head
    pixel_decoder = head.pixel_decoder
    pixel_decoder.forward_features = torch.compile(pixel_decoder.forward_features, **options)
    head.predictor.compile(**options)
    return model
