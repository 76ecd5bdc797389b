"""Point sampling of mask logits (PointRend), as Mask2Former's matcher and mask losses use it."""
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.compute_mode import fast_mode

#: A draw function with the signature of ``torch.rand(*size, dtype=..., device=...)``.
RandFn = Callable[..., Tensor]


def point_sample(inputs: Tensor, coords: Tensor) -> Tensor:
    """Sample ``inputs`` (N, C, H, W) bilinearly at ``coords`` (N, P, 2); returns (N, C, P).

    ``coords`` are (x, y) in [0, 1] over the whole map (0 and 1 are the outer pixel edges,
    ``align_corners=False``); points outside the map read zeros.
    """
    grid = 2.0 * coords.unsqueeze(2) - 1.0
    return F.grid_sample(inputs, grid, mode='bilinear', padding_mode='zeros',
                         align_corners=False).squeeze(3)


def uncertain_point_coords(logits: Tensor, *, num_points: int, oversample_ratio: float,
                           importance_sample_ratio: float, rand: RandFn) -> Tensor:
    """Choose ``num_points`` points per mask, mostly where the prediction is uncertain.

    Draws ``int(num_points * oversample_ratio)`` uniform points per mask, keeps the
    ``int(importance_sample_ratio * num_points)`` with the highest uncertainty ``-|logit|`` (in
    an unspecified order), then appends uniform points up to ``num_points``. Two draws, in this
    order: ``rand(M, oversampled, 2)`` and, if any are needed, ``rand(M, random, 2)``.

    Args:
        logits: mask logits (M, 1, h, w).
        num_points: points per mask.
        oversample_ratio: candidates per point (>= 1).
        importance_sample_ratio: share of the points taken by uncertainty (in [0, 1]).
        rand: the draw function.

    Returns:
        (M, num_points, 2) coordinates in [0, 1].
    """
    num_masks = logits.shape[0]
    num_candidates = int(num_points * oversample_ratio)
    num_uncertain = int(importance_sample_ratio * num_points)
    num_random = num_points - num_uncertain
    candidates = rand(num_masks, num_candidates, 2, dtype=torch.float32, device=logits.device)
    uncertainty = -point_sample(logits, candidates)[:, 0].abs()
    # fast mode: unsorted top-k - the same points, faster; the order only changes float rounding
    chosen = uncertainty.topk(num_uncertain, dim=1, sorted=not fast_mode()).indices
    coords = torch.gather(candidates, 1, chosen.unsqueeze(-1).expand(-1, -1, 2))
    if num_random > 0:
        uniform = rand(num_masks, num_random, 2, dtype=torch.float32, device=logits.device)
        coords = torch.cat([coords, uniform], dim=1)
    return coords
