"""VC_k exactly as docs/evaluation.md ("mVC8 and mVC16") defines it."""
import numpy as np
import pytest

from mmseg.core.evaluation import VideoConsistency
from mmseg.datasets.file_io import reduce_zero_label

RAW_GT = np.array([[1, 1, 5, 0], [1, 1, 5, 255], [1, 2, 5, 255], [1, 2, 5, 255], [7, 7, 7, 7]],
                  np.uint8)
PRED = np.array([[0, 0, 4, 9], [0, 0, 3, 9], [0, 1, 4, 9], [0, 1, 4, 3], [0, 0, 0, 0]])


def vc3(gts):
    vc = VideoConsistency(ks=(3,), skip_max_frames=3)
    for t in range(5):
        vc.add('v', t, 5, gts[t][None], PRED[t][None])
    return vc.mean_from_statistics(vc.statistics())['mVC3']


def test_worked_example_shifted_and_raw():
    shifted = reduce_zero_label(RAW_GT)
    np.testing.assert_array_equal(shifted[0], [0, 0, 4, 255])
    assert vc3(shifted) == pytest.approx(0.5)  # windows 2/3 and 1/3; frame 4 in no window
    assert vc3(RAW_GT) == pytest.approx((1 / 2 + 1 / 3) / 2)  # raw 0 != 255
    assert round(vc3(RAW_GT), 3) == 0.417


def test_last_frame_and_short_videos_are_not_scored():
    vc = VideoConsistency(ks=(3,), skip_max_frames=3)
    gts = reduce_zero_label(RAW_GT)
    wild = PRED.copy()
    wild[4] = 99  # the last frame takes part in no window
    for t in range(5):
        vc.add('v', t, 5, gts[t][None], wild[t][None])
    for t in range(3):  # a 3-frame video is skipped
        vc.add('short', t, 3, gts[t][None], PRED[t][None] + t)
    assert vc.statistics().tolist() == [pytest.approx(1.0), 2.0]
    assert vc.pending_videos() == []


def test_frames_in_any_order_and_buffer_release():
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 2, (3, 3)) for _ in range(30)]
    preds = [rng.integers(0, 2, (3, 3)) for _ in range(30)]
    results = []
    for order in (range(30), rng.permutation(30), list(range(29, -1, -1))):
        vc = VideoConsistency(ks=(8, 16))
        for t in order:
            vc.add('v', int(t), 30, gts[t], preds[t])
        results.append(vc.statistics())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
    np.testing.assert_allclose(results[2], results[0], rtol=1e-12)
    vc = VideoConsistency(ks=(8, 16))
    for t in range(20):  # in order, frames no window needs any more are dropped
        vc.add('v', t, 30, gts[t], preds[t])
    assert sorted(vc._videos['v'].frames) == list(range(5, 20)) and vc.pending_videos() == ['v']


def test_invalid_window_lengths():
    with pytest.raises(ValueError, match='>= 2'):
        VideoConsistency(ks=(1, 8))
