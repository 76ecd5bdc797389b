"""Confusion-matrix metrics against the worked example of docs/evaluation.md and a brute-force
reference."""
import numpy as np
import pytest

from mmseg.core.evaluation import confusion_matrix, summarize_confusion
from mmseg.datasets.file_io import reduce_zero_label


def test_worked_example():
    """docs/evaluation.md, "mIoU": mIoU_present 0.4167 (VSPW Evaluator), mIoU 0.2778 (mmseg)."""
    gt = reduce_zero_label(np.array([[0, 1, 1], [2, 2, 255]], np.uint8))
    np.testing.assert_array_equal(gt, [[255, 0, 0], [1, 1, 255]])
    pred = np.array([[0, 0, 1], [1, 2, 0]])
    res = summarize_confusion(confusion_matrix(gt, pred, 124))
    assert res['mIoU_present'] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert round(res['mIoU_present'], 4) == 0.4167
    assert res['mIoU'] == pytest.approx((1 / 2 + 1 / 3 + 0) / 3)
    assert round(res['mIoU'], 4) == 0.2778
    np.testing.assert_allclose(res['IoU'][:3], [1 / 2, 1 / 3, 0])
    assert np.isnan(res['IoU'][3:]).all()
    assert res['aAcc'] == pytest.approx(2 / 4)
    assert res['mAcc'] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert res['mDice'] == pytest.approx((2 / 3 + 2 / 4 + 0) / 3)


def brute_force(gts, preds, num_classes, ignore=255):
    inter, union, label, predicted = (np.zeros(num_classes) for _ in range(4))
    correct = total = 0
    for gt, pred in zip(gts, preds):
        for g, p in zip(gt.ravel(), pred.ravel()):
            if g == ignore:
                continue
            total += 1
            correct += g == p
            label[g] += 1
            predicted[p] += 1
            inter[g] += g == p
    union = label + predicted - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / union
        acc = inter / label
        dice = 2 * inter / (label + predicted)
    return dict(aAcc=correct / total, mIoU=np.nanmean(iou), mIoU_present=iou[label > 0].mean(),
                mAcc=np.nanmean(acc), mDice=np.nanmean(dice), IoU=iou)


def test_random_against_brute_force():
    rng = np.random.default_rng(0)
    num_classes = 7
    gts = [rng.choice([0, 1, 2, 3, 255], (9, 11)) for _ in range(5)]
    preds = [rng.integers(0, num_classes, (9, 11)) for _ in range(5)]  # classes 4..6 only predicted
    conf = sum(confusion_matrix(g, p, num_classes) for g, p in zip(gts, preds))
    res, ref = summarize_confusion(conf), brute_force(gts, preds, num_classes)
    for key in ('aAcc', 'mIoU', 'mIoU_present', 'mAcc', 'mDice'):
        assert res[key] == pytest.approx(ref[key], rel=1e-12), key
    np.testing.assert_allclose(res['IoU'], ref['IoU'])
    assert res['mIoU'] < res['mIoU_present']
