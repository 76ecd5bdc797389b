"""OnlineSegmenter: per-frame feature cache gives exactly the clip the training sampler builds."""
import gc
import glob
import os
import weakref

import cv2
import numpy as np
import pytest
import torch

from mmseg.apis import OnlineSegmenter, inference_segmentor, init_segmentor
from mmseg.apis.inference import prepare_clip
from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
from mmseg.utils.config import load_config
from mmseg.utils.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO_CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
STAGE1_CONFIG = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')


def build(config=VIDEO_CONFIG, dilation=None):
    cfg = load_config(config)
    cfg.model.pretrained = None
    if dilation is not None:
        cfg.data.train.dataset.dilation = dilation
        cfg.model.decode_head.transformer_decoder_cfg.num_frames = len(dilation) + 1
    torch.manual_seed(0)
    return init_segmentor(cfg)


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    """The 12 frame files of one synthetic video (96x128)."""
    out = str(tmp_path_factory.mktemp('online') / 'vspw')
    make_synthetic_vspw(out, videos=4, size=(96, 128), frames=(12, 12), seed=0)
    paths = sorted(glob.glob(os.path.join(out, 'data', '*', 'origin', '*.jpg')))
    first = os.path.dirname(paths[0])
    return [p for p in paths if os.path.dirname(p) == first]


def reference_scores(model, clip):
    data = prepare_clip(model, clip)
    with torch.no_grad():
        return model.inference(data['img'][0][None], [data['img_metas'][0]])


def check_every_frame(model, frames, offsets):
    seg = OnlineSegmenter(model)
    assert seg.offsets == offsets
    target = offsets.index(0)
    for t, frame in enumerate(frames):
        clip = [frames[max(t + d, 0)] for d in offsets]
        labels, scores = seg(frame, return_scores=True)
        expected = reference_scores(model, clip)[target]
        torch.testing.assert_close(scores, expected, atol=1e-5, rtol=0)
        np.testing.assert_array_equal(labels, inference_segmentor(model, clip)[target])
    return seg


def test_online_equals_the_clip_of_every_frame_two_frames(video):
    assert len(video) == 12
    model = build(dilation=[-3])
    seg = check_every_frame(model, video, [-3, 0])
    assert len(seg._cache) == 4  # bounded: the target and the 3 frames before it


@pytest.mark.slow
def test_online_equals_the_clip_of_every_frame_four_frames():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(12)]
    model = build(dilation=[-9, -6, -3])
    seg = check_every_frame(model, frames, [-9, -6, -3, 0])
    assert seg.clip_indices(2) == [0, 0, 0, 2]  # the first frame repeats at the start
    assert seg.clip_indices(11) == [2, 5, 8, 11]
    assert len(seg._cache) == 10


def test_online_in_reference_mode_reads_the_full_size_features_of_every_frame(video):
    """Reference mode predicts every frame at every layer, so the cache keeps no shrunk features."""
    from mmseg.models.utils import reference_mode
    model = build(dilation=[-3])
    with reference_mode():
        seg = check_every_frame(model, video[:5], [-3, 0])
        assert all(f.attention_features is None for f in seg._cache)


def test_reset_and_dilation_override_and_stage1():
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (64, 80, 3), dtype=np.uint8) for _ in range(5)]
    model = build(dilation=[-3])
    seg = OnlineSegmenter(model, dilation=[-2, -1])
    assert seg.offsets == [-2, -1, 0]
    first = seg(frames[0])
    for frame in frames[1:]:
        seg(frame)
    seg.reset()
    np.testing.assert_array_equal(seg(frames[0]), first)
    stage1 = build(STAGE1_CONFIG)
    one = OnlineSegmenter(stage1)
    assert one.offsets == [0]
    for frame in frames:
        np.testing.assert_array_equal(one(frame), inference_segmentor(stage1, frame))


def test_wrong_use_is_one_clear_error():
    model = build(dilation=[-3])
    with pytest.raises(UsageError, match='integers <= 0'):
        OnlineSegmenter(model, dilation=[3])
    seg = OnlineSegmenter(model)
    seg(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(UsageError, match='reset'):
        seg(np.zeros((128, 160, 3), np.uint8))
    with pytest.raises(UsageError, match='uint8 BGR'):
        seg(np.zeros((64, 64, 3), np.float32))


def test_inference_segmentor_one_frame_classes_palette(video):
    model = build(dilation=[-3])
    assert len(model.CLASSES) == len(model.PALETTE) == model.num_classes
    assert model.CLASSES[0] == 'wall' and all(len(c) == 3 for c in model.PALETTE)
    from_path = inference_segmentor(model, video[0])
    from_array = inference_segmentor(model, cv2.imread(video[0]))
    assert isinstance(from_path, np.ndarray) and from_path.shape == (96, 128)
    np.testing.assert_array_equal(from_path, from_array)
    np.testing.assert_array_equal(from_path, inference_segmentor(model, [video[0]])[0])
    with pytest.raises(UsageError, match=r'\(H, W, 3\) uint8 BGR array'):
        inference_segmentor(model, cv2.imread(video[0]).astype(np.float32) / 255)


def cached_tensors(segmenter):
    return [t for f in segmenter._cache for t in torch.utils._pytree.tree_leaves(tuple(f))
            if isinstance(t, torch.Tensor)]


@pytest.mark.slow
def test_memory_stays_flat_over_500_frames():
    """The cache holds the same tensors' worth after frame 10 as after frame 500, and a frame that
    left the clip window is freed (its tensors are no longer referenced)."""
    cfg = load_config(VIDEO_CONFIG)
    cfg.model.pretrained = None
    cfg.data.train.dataset.dilation = [-9, -6, -3]
    cfg.data.test.pipeline[1].img_scale = (64, 64)  # tiny network input: 500 frames stay fast
    torch.manual_seed(0)
    model = init_segmentor(cfg)
    seg = OnlineSegmenter(model)
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(8)]
    seg(frames[0])
    first = [weakref.ref(t) for t in cached_tensors(seg)]
    held = set()
    for i in range(1, 500):
        seg(frames[i % 8])
        if i >= seg.span - 1:
            tensors = cached_tensors(seg)
            held.add((len(tensors), sum(t.numel() * t.element_size() for t in tensors)))
    assert seg.frame_index == 499 and len(seg._cache) == seg.span == 10
    assert len(held) == 1, held  # the same count and bytes from the 10th frame to the 500th
    gc.collect()
    assert all(ref() is None for ref in first)  # the first frame's features were freed
