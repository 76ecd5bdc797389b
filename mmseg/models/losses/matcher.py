"""Two-round Hungarian matching between queries and ground-truth class masks."""
import logging
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from .mask_losses import pairwise_dice, pairwise_sigmoid_bce
from .point_sample import RandFn, point_sample
from .targets import MaskTargets

logger = logging.getLogger(__name__)

#: Per batch element: (query indices, target indices), int64, queries ascending.
Pairs = List[Tuple[Tensor, Tensor]]


@dataclass(kw_only=True)
class TwoRoundHungarianMatcher:
    """Match each ground truth to a primary query (round 1) and a distinct secondary one (round 2).

    Cost of query q for target k: ``mask_weight * BCE + class_weight * (-softmax prob of k's class)
    + dice_weight * dice``, where BCE and dice are computed on ``num_points`` uniform random points
    shared by all masks of a sample and taken jointly over its T frames. Round 1 is one-to-one over
    all queries. Round 2 solves again over the queries unused in round 1, with the full cost
    (``second_round_cost='full'``, stage 2) or the unweighted mask BCE alone (``'mask_bce'``,
    stage 1). The original blocks the round-1 rows with ``1000 * |max C|``, which is above every
    free entry, so its optimum is the optimum over the free rows computed here. Where fewer free
    queries than ground truths are left, as many as possible are matched and a debug line says so
    (the original asserted). The matcher has no parameters and no buffers.

    Args:
        class_weight, mask_weight, dice_weight: the cost weights (2, 5, 5 in the configs).
        num_points: points per sample (``train_num_points``).
        second_round_cost: ``'full'`` or ``'mask_bce'``.
    """

    class_weight: float
    mask_weight: float
    dice_weight: float
    num_points: int
    second_round_cost: str

    def __post_init__(self) -> None:
        if self.class_weight == 0 and self.mask_weight == 0 and self.dice_weight == 0:
            raise ValueError('the matcher needs at least one non-zero cost weight, got all zero')
        if self.num_points < 1:
            raise ValueError(f'num_points must be >= 1, got {self.num_points}')
        if self.second_round_cost not in ('full', 'mask_bce'):
            raise ValueError(f"second_round_cost must be 'full' or 'mask_bce', got "
                             f"{self.second_round_cost!r}")

    def cost_matrices(self, logits: Tensor, masks: Tensor, target: MaskTargets,
                      point_coords: Tensor) -> Tuple[Tensor, Tensor]:
        """The round-1 and round-2 cost matrices (Q, K) of one sample, in float32.

        Args:
            logits: (Q, K+1) class logits.
            masks: (Q, T, h, w) mask logits.
            target: labels (K,) and masks (K, T, H, W).
            point_coords: (1, N, 2) points in [0, 1], used for every mask and every frame.
        """
        logits, masks = logits.float(), masks.float()
        cost_class = -logits.softmax(-1)[:, target.labels]
        pred_points = point_sample(masks, point_coords.expand(masks.shape[0], -1, -1)).flatten(1)
        target_masks = target.masks.float()
        target_points = point_sample(
            target_masks, point_coords.expand(target_masks.shape[0], -1, -1)).flatten(1)
        cost_mask = pairwise_sigmoid_bce(pred_points, target_points)
        cost_dice = pairwise_dice(pred_points, target_points)
        cost = (self.mask_weight * cost_mask + self.class_weight * cost_class
                + self.dice_weight * cost_dice)
        return cost, (cost if self.second_round_cost == 'full' else cost_mask)

    @torch.no_grad()
    def __call__(self, pred_logits: Tensor, pred_masks: Tensor, targets: Sequence[MaskTargets],
                 rand: RandFn) -> Tuple[Pairs, Pairs]:
        """Match a batch; one draw ``rand(1, num_points, 2)`` per batch element, in order.

        Args:
            pred_logits: (B, Q, K+1) class logits.
            pred_masks: (B, Q, T, h, w) mask logits.
            targets: B targets.
            rand: the draw function.

        Returns:
            (round 1 pairs, round 2 pairs), one (query indices, target indices) per batch element,
            on the device of ``pred_masks``.
        """
        return self.match_many([(pred_logits, pred_masks)], targets, rand)[0]

    @torch.no_grad()
    def match_many(self, predictions: Sequence[Tuple[Tensor, Tensor]],
                   targets: Sequence[MaskTargets], rand: RandFn) -> List[Tuple[Pairs, Pairs]]:
        """Match several predictions of one batch against the same targets: the result of calling
        the matcher on each in turn (the same draws, in the same order), but every cost matrix is
        computed first and all of them reach the host in one transfer (one device sync).

        Args:
            predictions: ``[(pred_logits (B, Q, K+1), pred_masks (B, Q, T, h, w))]``.
            targets: B targets.
            rand: the draw function.
        """
        if not predictions:
            return []
        device = predictions[0][1].device
        costs = []
        for pred_logits, pred_masks in predictions:
            for b, target in enumerate(targets):
                point_coords = rand(1, self.num_points, 2, dtype=torch.float32, device=device)
                costs.extend(self.cost_matrices(pred_logits[b], pred_masks[b], target,
                                                point_coords))
        flat = torch.cat([c.reshape(-1) for c in costs]).cpu().numpy()  # the one sync
        host, offset = [], 0
        for c in costs:
            host.append(flat[offset:offset + c.numel()].reshape(c.shape))
            offset += c.numel()
        results, index = [], 0
        for _ in predictions:
            first, second = [], []
            for b in range(len(targets)):
                cost, cost2 = _finite(host[index]), _finite(host[index + 1])
                index += 2
                rows, cols = linear_sum_assignment(cost)
                rows2, cols2 = _second_round(cost2, rows)
                num_targets = cost.shape[1]
                if len(cols) < num_targets or len(cols2) < num_targets:
                    logger.debug('batch element %d: %d ground truths, %d queries; %d got a primary '
                                 'and %d a secondary query (the original asserted when queries ran '
                                 'out)',
                                 b, num_targets, cost.shape[0], len(cols), len(cols2))
                first.append(_as_pair(rows, cols, device))
                second.append(_as_pair(rows2, cols2, device))
            results.append((first, second))
        return results


def _finite(cost: np.ndarray) -> np.ndarray:
    """Non-finite costs (from NaN/Inf predictions) become large finite ones, so the assignment still
    runs and the non-finite loss reaches the runner's guard, which names the iteration and the
    terms."""
    if np.isfinite(cost).all():
        return cost
    return np.nan_to_num(cost, nan=1e8, posinf=1e8, neginf=-1e8)


def _second_round(cost: np.ndarray, first_rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Solve ``cost`` over the rows not in ``first_rows``; rows returned in ascending order."""
    free_rows = np.setdiff1d(np.arange(cost.shape[0]), first_rows)
    rows, cols = linear_sum_assignment(cost[free_rows])
    return free_rows[rows], cols


def _as_pair(rows: np.ndarray, cols: np.ndarray, device: torch.device) -> Tuple[Tensor, Tensor]:
    return (torch.as_tensor(rows, dtype=torch.int64, device=device),
            torch.as_tensor(cols, dtype=torch.int64, device=device))
