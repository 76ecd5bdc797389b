from .attention import reference_attention, set_fused_attention, use_fused_attention
from .official_keys import map_official_keys
from .layers import MLP, ConvNormAct, DropPath, group_norm
from .weight_init import c2_xavier_fill, segformer_init, trunc_normal_

__all__ = ['reference_attention', 'set_fused_attention', 'use_fused_attention', 'MLP', 'ConvNormAct',
           'DropPath', 'group_norm', 'map_official_keys', 'c2_xavier_fill', 'segformer_init', 'trunc_normal_']
