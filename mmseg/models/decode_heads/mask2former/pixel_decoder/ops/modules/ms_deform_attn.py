"""The multi-scale deformable attention layer of Deformable DETR, as the Mask2Former pixel decoder
uses it (parameter names and initialisation as in the original)."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..functions import multi_scale_deformable_attn


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention.

    Args:
        d_model: channels of queries, values and output.
        n_levels: number of feature levels.
        n_heads: attention heads; ``d_model`` must be divisible by it.
        n_points: sampling points per head and level.
    """

    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8,
                 n_points: int = 4) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f'MSDeformAttn: d_model must be divisible by n_heads, got '
                             f'd_model={d_model} and n_heads={n_heads}')
        self.im2col_step = 128
        self.d_model = d_model
        self.n_levels = n_levels
        self.n_heads = n_heads
        self.n_points = n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Offsets start on a radial grid: head m points at angle 2*pi*m/M, scaled so the larger
        coordinate is 1, times (p + 1) for point p; attention starts uniform."""
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        angles = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        directions = torch.stack([angles.cos(), angles.sin()], dim=-1)
        directions = directions / directions.abs().max(dim=-1, keepdim=True)[0]
        scale = torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        grid = directions.view(self.n_heads, 1, 1, 2).repeat(1, self.n_levels, self.n_points, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_((grid * scale).flatten())
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def forward(self, query: torch.Tensor, reference_points: torch.Tensor,
                input_flatten: torch.Tensor, input_spatial_shapes: torch.Tensor,
                input_level_start_index: torch.Tensor,
                input_padding_mask: Optional[torch.Tensor] = None, *,
                level_shapes: Optional[Sequence[Tuple[int, int]]] = None) -> torch.Tensor:
        """Attend from each query to P points per head and level around its reference point.

        Args:
            query: (N, Lq, C).
            reference_points: (N, Lq, L, 2), (x, y) in [0, 1] for each level.
            input_flatten: (N, S, C), the levels flattened row-major and concatenated.
            input_spatial_shapes: (L, 2) int64, rows (H_l, W_l).
            input_level_start_index: (L,) int64.
            input_padding_mask: optional (N, S) bool, True where the input is padding.
            level_shapes: the rows of ``input_spatial_shapes`` as ints, for the reference (no
                level size read back from a tensor: exports with dynamic sizes).

        Returns:
            (N, Lq, C).
        """
        n, num_queries, _ = query.shape
        _, num_values, _ = input_flatten.shape
        expected = (n, num_queries, self.n_levels, 2)
        if tuple(reference_points.shape) != expected:
            raise ValueError(f'MSDeformAttn: reference_points must have shape (N, Lq, n_levels, 2) '
                             f'= {expected}, got {tuple(reference_points.shape)}')
        value = self.value_proj(input_flatten)
        if input_padding_mask is not None:
            value = value.masked_fill(input_padding_mask[..., None], 0.0)
        value = value.view(n, num_values, self.n_heads, self.d_model // self.n_heads)
        offsets = self.sampling_offsets(query).view(
            n, num_queries, self.n_heads, self.n_levels, self.n_points, 2)
        weights = self.attention_weights(query).view(
            n, num_queries, self.n_heads, self.n_levels * self.n_points)
        weights = F.softmax(weights, dim=-1).view(
            n, num_queries, self.n_heads, self.n_levels, self.n_points)
        # offsets are in pixels of each level: divide x by W_l and y by H_l
        normalizer = torch.stack([input_spatial_shapes[..., 1], input_spatial_shapes[..., 0]], -1)
        locations = (reference_points[:, :, None, :, None, :]
                     + offsets / normalizer[None, None, None, :, None, :])
        output = multi_scale_deformable_attn(value, input_spatial_shapes, input_level_start_index,
                                             locations, weights, self.im2col_step,
                                             level_shapes=level_shapes)
        return self.output_proj(output)
