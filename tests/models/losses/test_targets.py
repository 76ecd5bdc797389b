import pytest
import torch

from mmseg.models.losses import clip_targets, frame_targets


def _gt():
    # B=2, T=2, H=2, W=3; clip 0 has classes {0, 3} (3 only in frame 1), clip 1 only 255 and 1.
    gt = torch.tensor([[[[0, 0, 255], [0, 0, 0]],
                        [[3, 0, 0], [255, 3, 3]]],
                       [[[255, 255, 255], [1, 1, 255]],
                        [[255, 255, 255], [255, 255, 255]]]])
    return gt[:, :, None]


def test_one_binary_target_per_class_present_ignoring_255():
    targets = clip_targets(_gt(), num_classes=4, ignore_value=255)
    assert [t.labels.tolist() for t in targets] == [[0, 3], [1]]
    clip0 = targets[0].masks
    assert clip0.shape == (2, 2, 2, 3) and clip0.dtype == torch.float32
    assert clip0[0].tolist() == [[[1, 1, 0], [1, 1, 1]], [[0, 1, 1], [0, 0, 0]]]
    assert clip0[1].tolist() == [[[0, 0, 0], [0, 0, 0]], [[1, 0, 0], [0, 1, 1]]]
    assert targets[1].masks.tolist() == [[[[0, 0, 0], [1, 1, 0]], [[0, 0, 0], [0, 0, 0]]]]


def test_frame_targets_keep_the_clip_labels_batch_major():
    targets = frame_targets(clip_targets(_gt(), num_classes=4, ignore_value=255))
    assert [t.labels.tolist() for t in targets] == [[0, 3], [0, 3], [1], [1]]
    assert all(t.masks.shape[1] == 1 for t in targets)
    assert targets[0].masks[1].sum() == 0  # class 3 is absent from frame 0: an empty target
    assert targets[1].masks[:, 0].tolist() == [[[0, 1, 1], [0, 0, 0]], [[1, 0, 0], [0, 1, 1]]]
    assert targets[3].masks.sum() == 0


def test_bad_ground_truth_is_reported():
    with pytest.raises(ValueError, match=r'labels \[4, 7\]; expected 0..3 or the ignore value 255'):
        clip_targets(torch.tensor([0, 4, 7, 255]).view(1, 1, 1, 2, 2), num_classes=4,
                     ignore_value=255)
    with pytest.raises(ValueError, match=r'\(B, T, 1, H, W\)'):
        clip_targets(torch.zeros(1, 2, 4, 4, dtype=torch.int64), num_classes=4, ignore_value=255)
    with pytest.raises(TypeError, match='integer labels'):
        clip_targets(torch.zeros(1, 1, 1, 4, 4), num_classes=4, ignore_value=255)
