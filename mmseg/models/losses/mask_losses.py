"""Sigmoid binary cross-entropy and dice between mask logits and binary (or soft) targets.

The per-pair versions are the loss terms; the pairwise versions are the matcher's cost terms
(every prediction against every target on shared points).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.compute_mode import fast_mode


def sigmoid_bce_loss(logits: Tensor, labels: Tensor, num_masks: float, num_frames: float) -> Tensor:
    """Mean BCE per row, summed over rows, divided by ``num_masks`` and then by ``num_frames``.

    Args:
        logits, labels: (R, P): one row per (mask, frame), P sampled points or pixels.
        num_masks: the criterion's normaliser (targets per batch, averaged over processes).
        num_frames: frames per mask (T for the clip branch, 1 for frames).
    """
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction='none')
    return loss.mean(1).sum() / num_masks / num_frames


def dice_loss(logits: Tensor, labels: Tensor, num_masks: float, num_frames: float) -> Tensor:
    """``1 - (2|p*y| + 1) / (|p| + |y| + 1)`` per row with ``p = sigmoid(logits)``, normalised as
    :func:`sigmoid_bce_loss`."""
    probs = logits.sigmoid()
    numerator = 2 * (probs * labels).sum(-1)
    denominator = probs.sum(-1) + labels.sum(-1)
    loss = 1 - (numerator + 1) / (denominator + 1)
    return loss.sum() / num_masks / num_frames


def pairwise_sigmoid_bce(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean BCE of every prediction (Q, P) against every target (K, P); returns (Q, K).

    ``BCE(x, y) = BCE(x, 0) - x y`` for any ``y``, so the sum over points is one BCE pass and one
    matrix product: ``sum_p BCE(x_p, 0) - x . y`` (the original's two passes and two products give
    the same cost up to float rounding; reference mode computes those).
    """
    if not fast_mode():
        pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction='none')
        neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction='none')
        cost = torch.einsum('qp,kp->qk', pos, labels) + torch.einsum('qp,kp->qk', neg, 1 - labels)
        return cost / logits.shape[1]
    neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction='none')
    cost = neg.sum(-1)[:, None] - torch.einsum('qp,kp->qk', logits, labels)
    return cost / logits.shape[1]


def pairwise_dice(logits: Tensor, labels: Tensor) -> Tensor:
    """Dice loss of every prediction (Q, P) against every target (K, P); returns (Q, K)."""
    probs = logits.sigmoid()
    numerator = 2 * torch.einsum('qp,kp->qk', probs, labels)
    denominator = probs.sum(-1)[:, None] + labels.sum(-1)[None, :]
    return 1 - (numerator + 1) / (denominator + 1)
