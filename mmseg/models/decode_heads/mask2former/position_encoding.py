"""Sine positional encodings of the pixel decoder (2-D) and of the transformer decoders (3-D).

Both follow DETR's normalised sine encoding: positions are 1-based cumulative counts, normalised to
(0, 2*pi], and each (sin, cos) channel pair shares a frequency (interleaved channels). The y part
comes first. The 3-D encoding *adds* a frame term computed with twice as many frequencies.
"""
import math

import torch
from torch import nn


def _sine_channels(positions: torch.Tensor, dim_t: torch.Tensor) -> torch.Tensor:
    """(..., ) positions -> (..., F) interleaved sin/cos channels."""
    pos = positions[..., None] / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)


def _frequencies(num_feats: int, temperature: float, device: torch.device) -> torch.Tensor:
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * (dim_t // 2) / num_feats)


def _normalised_positions(length: int, scale: float, eps: float,
                          device: torch.device) -> torch.Tensor:
    """1..length divided by (length + eps), times ``scale`` (the cumsum form of the original)."""
    embed = torch.arange(1, length + 1, dtype=torch.float32, device=device)
    return embed / (embed[-1:] + eps) * scale


class PositionEmbeddingSine(nn.Module):
    """2-D encoding of a (N, C, H, W) map's grid -> (N, 2 * num_pos_feats, H, W)."""

    def __init__(self, num_pos_feats: int = 64, temperature: float = 10000, normalize: bool = True,
                 scale: float = 2 * math.pi) -> None:
        super().__init__()
        if not normalize:
            raise ValueError('only the normalised encoding (normalize=True) is used by THE-Mask')
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.scale = scale

    def grid_encoding(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """(h, w, 2F): cat(y channels, x channels) of every grid position."""
        dim_t = _frequencies(self.num_pos_feats, self.temperature, device)
        pos_y = _sine_channels(_normalised_positions(h, self.scale, 1e-6, device), dim_t)  # (h, F)
        pos_x = _sine_channels(_normalised_positions(w, self.scale, 1e-6, device), dim_t)  # (w, F)
        return torch.cat((pos_y[:, None, :].expand(h, w, -1), pos_x[None, :, :].expand(h, w, -1)),
                         dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        return (self.grid_encoding(h, w, x.device).permute(2, 0, 1)[None]
                .expand(n, -1, -1, -1).to(x.dtype))


class PositionEmbeddingSine3D(PositionEmbeddingSine):
    """3-D encoding of a (B, T, C, H, W) clip -> (B, T, 2 * num_pos_feats, H, W).

    The frame term uses 2 * num_pos_feats frequencies and is added to cat(y, x).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _, h, w = x.shape
        dim_t_z = _frequencies(2 * self.num_pos_feats, self.temperature, x.device)
        # (t, 2F)
        pos_z = _sine_channels(_normalised_positions(t, self.scale, 1e-6, x.device), dim_t_z)
        pos = self.grid_encoding(h, w, x.device)[None] + pos_z[:, None, None, :]  # (t, h, w, 2F)
        return pos.permute(0, 3, 1, 2)[None].expand(b, -1, -1, -1, -1).to(x.dtype)
