"""Multi-scale deformable attention (Deformable DETR), as used by the Mask2Former pixel decoder.

``functions`` holds the PyTorch reference (the specification), the registration of the compiled
kernels as the operators ``torch.ops.themask.ms_deform_attn_forward``/``_backward`` and the
device-based dispatcher; ``modules`` holds the ``MSDeformAttn`` layer.
The kernels are optional: build them with ``sh make.sh`` in this folder; without them every call
runs the reference.
"""
from .functions import (MSDeformAttnFunction, available_backends, ms_deform_attn_core_pytorch,
                        multi_scale_deformable_attn, select_backend)
from .modules import MSDeformAttn

__all__ = ['MSDeformAttn', 'MSDeformAttnFunction', 'available_backends',
           'ms_deform_attn_core_pytorch', 'multi_scale_deformable_attn', 'select_backend']
