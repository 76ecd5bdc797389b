"""Confusion-matrix segmentation metrics (docs/evaluation.md, "mIoU").

One global (K, K) matrix, rows ground truth and columns prediction, is accumulated over every frame
of every video; pixels whose ground truth is ``ignore_index`` are not counted. From it:

- IoU_c = TP_c / (row_c + col_c - TP_c), NaN when that union is 0;
- ``mIoU``: nanmean of IoU over all K classes (mmseg ``eval_metrics``; what the original printed):
  a class only predicted, never in the ground truth, counts with IoU 0;
- ``mIoU_present``: mean of IoU over the classes present in the ground truth (VSPW/CFFM
  ``Evaluator``);
- ``aAcc`` = trace / total, ``Acc_c`` = TP_c / row_c, ``Dice_c`` = 2 TP_c / (row_c + col_c);
  ``mAcc``, ``mDice`` are their nanmeans.
"""
from typing import Dict

import numpy as np

__all__ = ['confusion_matrix', 'summarize_confusion']


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """The (K, K) int64 confusion matrix of one frame.

    Args:
        gt: (H, W) ground truth in 0..K-1 or ``ignore_index``.
        pred: (H, W) prediction in 0..K-1 (checked by the caller).
        num_classes: K.
        ignore_index: ground-truth value that is not scored.
    """
    valid = gt != ignore_index
    index = gt[valid].astype(np.int64) * num_classes + pred[valid]
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float('nan')


def summarize_confusion(confusion: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-class ``IoU``, ``Acc``, ``Dice`` arrays and the scalars ``aAcc``, ``mIoU``,
    ``mIoU_present``, ``mAcc``, ``mDice`` (fractions; NaN where undefined)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    rows = confusion.sum(axis=1)
    cols = confusion.sum(axis=0)
    iou = _ratio(tp, rows + cols - tp)
    acc = _ratio(tp, rows)
    dice = _ratio(2 * tp, rows + cols)
    total = confusion.sum()
    present = rows > 0
    return dict(
        aAcc=float(tp.sum() / total) if total > 0 else float('nan'),
        mIoU=_nanmean(iou),
        mIoU_present=float(iou[present].mean()) if present.any() else float('nan'),
        mAcc=_nanmean(acc),
        mDice=_nanmean(dice),
        IoU=iou, Acc=acc, Dice=dice)
