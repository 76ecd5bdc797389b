"""Multi-scale deformable attention (Deformable DETR), as used by the Mask2Former pixel decoder.

``functions`` holds the PyTorch reference (the specification), the registration of the compiled
kernels as the operators ``torch.ops.themask.ms_deform_attn_forward``/``_backward``, the Triton
kernels (for CUDA tensors without the compiled CUDA kernel) and the dispatcher; ``modules`` holds
the ``MSDeformAttn`` layer; ``src`` the C++/CUDA sources. The compiled kernels are optional:
build them with ``sh make.sh`` in this folder; without them CUDA tensors run the Triton kernels
(when triton is installed, as with PyTorch's CUDA wheels) and everything else the reference.
"""
from .functions import (
    MSDeformAttnFunction,
    available_backends,
    backend_forced,
    ms_deform_attn_core_pytorch,
    ms_deform_attn_triton,
    multi_scale_deformable_attn,
    select_backend,
)
from .modules import MSDeformAttn

__all__ = ['MSDeformAttn', 'MSDeformAttnFunction', 'available_backends', 'backend_forced',
           'ms_deform_attn_core_pytorch', 'ms_deform_attn_triton', 'multi_scale_deformable_attn',
           'select_backend']
