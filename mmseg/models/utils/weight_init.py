"""Weight initialisers the original took from timm, fvcore and detectron2."""
import math

import torch
from torch import nn


def trunc_normal_(tensor: torch.Tensor, std: float = 0.02) -> torch.Tensor:
    """Normal(0, std) truncated to [-2, 2] (absolute bounds, as timm's ``trunc_normal_``)."""
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2.0, b=2.0)


def c2_xavier_fill(module: nn.Module) -> None:
    """Caffe2's XavierFill as fvcore applies it: kaiming-uniform weights with a=1, zero bias."""
    nn.init.kaiming_uniform_(module.weight, a=1)
    if module.bias is not None:
        nn.init.constant_(module.bias, 0)


def segformer_init(module: nn.Module) -> None:
    """SegFormer's MiT initialisation of one module (Linear, LayerNorm or Conv2d)."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)
    elif isinstance(module, nn.LayerNorm):
        nn.init.constant_(module.bias, 0)
        nn.init.constant_(module.weight, 1.0)
    elif isinstance(module, nn.Conv2d):
        fan_out = (module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                   // module.groups)
        module.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            module.bias.data.zero_()
