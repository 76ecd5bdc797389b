from .compute_mode import fast_mode, reference_mode, set_fast_mode
from .layers import MLP, ConvNormAct, DropPath, group_norm
from .official_keys import map_official_keys
from .weight_init import c2_xavier_fill, segformer_init, trunc_normal_

__all__ = ['fast_mode', 'reference_mode', 'set_fast_mode', 'MLP', 'ConvNormAct',
           'DropPath', 'group_norm', 'map_official_keys', 'c2_xavier_fill', 'segformer_init',
           'trunc_normal_']
