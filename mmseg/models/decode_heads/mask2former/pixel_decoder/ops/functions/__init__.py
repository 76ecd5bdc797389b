from .ms_deform_attn_func import (
    MSDeformAttnFunction,
    available_backends,
    backend_forced,
    ms_deform_attn_core_pytorch,
    multi_scale_deformable_attn,
    select_backend,
)
from .ms_deform_attn_triton_func import ms_deform_attn_triton

__all__ = ['MSDeformAttnFunction', 'available_backends', 'backend_forced',
           'ms_deform_attn_core_pytorch', 'ms_deform_attn_triton', 'multi_scale_deformable_attn',
           'select_backend']
