"""Mask-classification targets from a semantic label map: one binary mask per class present."""
from typing import List, NamedTuple

import torch
from torch import Tensor


class MaskTargets(NamedTuple):
    """The targets of one clip (or one frame).

    Attributes:
        labels: (K,) int64 class ids, ascending.
        masks: (K, T, H, W) float32, 1 where the pixel has that class, else 0.
    """
    labels: Tensor
    masks: Tensor


def clip_targets(gt_semantic_seg: Tensor, *, num_classes: int,
                 ignore_value: int) -> List[MaskTargets]:
    """One target per class present in each clip (``ignore_value`` excluded).

    Ignored pixels are 0 in every mask, so the mask losses count them as negatives for every
    matched query (as the original: ``ignore_value`` only removes 255 from the label set).

    Args:
        gt_semantic_seg: (B, T, 1, H, W) integer labels in [0, num_classes) or ``ignore_value``.
        num_classes: number of classes K.
        ignore_value: the label of unannotated pixels.

    Returns:
        B targets with masks (K_b, T, H, W).
    """
    if gt_semantic_seg.dim() != 5 or gt_semantic_seg.shape[2] != 1:
        raise ValueError('gt_semantic_seg must have shape (B, T, 1, H, W), got '
                         f'{tuple(gt_semantic_seg.shape)}')
    if gt_semantic_seg.dtype.is_floating_point or gt_semantic_seg.dtype == torch.bool:
        raise TypeError(f'gt_semantic_seg must hold integer labels, got {gt_semantic_seg.dtype}')
    values = gt_semantic_seg.unique()
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_value)]
    if bad.numel():
        raise ValueError(f'gt_semantic_seg has labels {bad.tolist()}; expected '
                         f'0..{num_classes - 1} or the ignore value {ignore_value}')
    targets = []
    for video in gt_semantic_seg[:, :, 0]:
        labels = video.unique()
        labels = labels[labels != ignore_value]
        masks = (video[None] == labels[:, None, None, None]).float()
        targets.append(MaskTargets(labels=labels, masks=masks))
    return targets


def frame_targets(targets: List[MaskTargets]) -> List[MaskTargets]:
    """Split each clip target into per-frame targets, batch-major (frame b*T + t).

    Each frame keeps the clip's label list: a class absent from a frame has an all-zero mask
    there, and is still matched and supervised (as the original).
    """
    return [MaskTargets(labels=target.labels, masks=target.masks[:, t:t + 1])
            for target in targets for t in range(target.masks.shape[1])]
