"""Small building blocks shared by the backbone and the heads."""
from typing import Callable, Optional

import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of a sample with probability
    ``drop_prob``."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class ConvNormAct(nn.Conv2d):
    """A Conv2d followed by an optional ``norm`` module and an optional activation.

    The norm is a child named ``norm``, so the state_dict keys are ``weight``, ``bias``,
    ``norm.weight``, ``norm.bias`` as in detectron2's ``Conv2d`` wrapper.
    """

    def __init__(self, *args, norm: Optional[nn.Module] = None,
                 activation: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def group_norm(norm: str, channels: int) -> Optional[nn.Module]:
    """``'GN'`` -> GroupNorm(32, channels); ``''`` -> None (detectron2's ``get_norm`` for what we
    use)."""
    if norm == 'GN':
        return nn.GroupNorm(32, channels)
    if norm == '':
        return None
    raise ValueError(f'unsupported norm {norm!r}: expected "GN" or ""')


class MLP(nn.Module):
    """``num_layers`` Linear layers with ReLU in between (``layers.{i}`` in the state_dict)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x
