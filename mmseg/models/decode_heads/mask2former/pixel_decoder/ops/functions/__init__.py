from .ms_deform_attn_func import (MSDeformAttnFunction, available_backends,
                                  ms_deform_attn_core_pytorch, multi_scale_deformable_attn,
                                  select_backend)

__all__ = ['MSDeformAttnFunction', 'available_backends', 'ms_deform_attn_core_pytorch',
           'multi_scale_deformable_attn', 'select_backend']
