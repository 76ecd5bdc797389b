from .ms_deform_attn_func import (MSDeformAttnFunction, available_backends,
                                  ms_deform_attn_core_pytorch, multi_scale_deformable_attn,
                                  reference_op_forced, select_backend, use_reference_op)

__all__ = ['MSDeformAttnFunction', 'available_backends', 'ms_deform_attn_core_pytorch',
           'multi_scale_deformable_attn', 'reference_op_forced', 'select_backend',
           'use_reference_op']
