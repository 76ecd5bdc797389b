"""Clip transforms: one geometric draw per clip, applied identically to every frame and mask."""
import numpy as np
import pytest

from mmseg.datasets.pipelines import (
    AlignedResize_clips,
    Compose,
    Normalize_clips,
    Pad_clips,
    PhotoMetricDistortion_clips,
    RandomCrop_clips,
    Resize_clips,
)


def coordinate_clip(num_frames=3, height=40, width=56):
    """Frames whose G/B channels encode the pixel position (R: the frame index) and masks that
    label 8x8 blocks; frame t's mask is frame 0's, so every frame has the same geometry."""
    ys, xs = np.mgrid[0:height, 0:width]
    blocks = ((ys // 8) * 7 + xs // 8) % 120 + 1
    imgs, segs = [], []
    for t in range(num_frames):
        img = np.stack([ys * 5 % 256, blocks * 2, np.full_like(ys, 40 * t)], -1).astype(np.uint8)
        imgs.append(img)
        segs.append(blocks.astype(np.uint8))
    return dict(video='v', frames=[str(t) for t in range(num_frames)], img=imgs,
                gt_semantic_seg=segs, seg_fields=['gt_semantic_seg'], img_shape=imgs[0].shape,
                ori_shape=imgs[0].shape)


GEOMETRY = [dict(type='Resize_clips', img_scale=(56, 40), ratio_range=(0.5, 2.0)),
            dict(type='RandomCrop_clips', crop_size=(32, 32), cat_max_ratio=0.75),
            dict(type='RandomFlip_clips', prob=0.5),
            dict(type='Pad_clips', size=(32, 32), pad_val=0, seg_pad_val=255)]


@pytest.mark.parametrize('seed', range(8))
def test_same_geometry_for_every_frame_and_mask(seed):
    np.random.seed(seed)
    out = Compose(GEOMETRY)(coordinate_clip())
    imgs, segs = out['img'], out['gt_semantic_seg']
    assert all(img.shape == (32, 32, 3) for img in imgs) and all(s.shape == (32, 32) for s in segs)
    for t in range(1, 3):
        np.testing.assert_array_equal(imgs[t][..., :2], imgs[0][..., :2])
        np.testing.assert_array_equal(segs[t], segs[0])
        valid = segs[t] != 255
        assert (imgs[t][..., 2][valid] == 40 * t).all()
    # image (bilinear) and mask (nearest) stay aligned: the block id agrees away from block edges
    valid = segs[0] != 255
    agree = np.abs(imgs[0][..., 1].astype(int) - 2 * segs[0].astype(int))[valid] <= 2
    assert agree.mean() > 0.85


def test_each_draw_is_made_once_per_clip_and_reproducible():
    outs = []
    for _ in range(2):
        np.random.seed(3)
        outs.append(Compose(GEOMETRY + [dict(type='PhotoMetricDistortion_clips')])(
            coordinate_clip()))
    for a, b in zip(outs[0]['img'], outs[1]['img']):
        np.testing.assert_array_equal(a, b)
    flips = set()
    for seed in range(20):
        np.random.seed(seed)
        flips.add(Compose(GEOMETRY)(coordinate_clip())['flip'])
    assert flips == {True, False}


def test_resize_keep_ratio_and_ratio_range():
    clip = coordinate_clip(1, 480, 853)
    out = Resize_clips(img_scale=(853, 480))(dict(clip))
    assert out['img'][0].shape[:2] == (480, 853)
    out = Resize_clips(img_scale=(853, 480))(dict(coordinate_clip(1, 240, 320)))
    assert out['img'][0].shape[:2] == (480, 640)  # short edge bound
    np.random.seed(0)
    ratio = np.random.random_sample() * 1.5 + 0.5
    np.random.seed(0)
    out = Resize_clips(img_scale=(853, 480), ratio_range=(0.5, 2.0))(dict(clip))
    scale = (int(853 * ratio), int(480 * ratio))
    factor = min(max(scale) / 853, min(scale) / 480)
    assert out['img'][0].shape[:2] == (int(480 * factor + 0.5), int(853 * factor + 0.5))
    assert out['gt_semantic_seg'][0].shape == out['img'][0].shape[:2]
    assert set(np.unique(out['gt_semantic_seg'][0])) <= set(np.unique(clip['gt_semantic_seg'][0]))


@pytest.mark.parametrize('scale,expected', [((853, 480), (480, 864)), ((426, 240), (256, 448)),
                                            ((1492, 840), (864, 1504))])
def test_aligned_resize_rounds_up_to_multiples_of_32(scale, expected):
    out = AlignedResize_clips(size_divisor=32)(dict(coordinate_clip(2, 480, 853), scale=scale))
    assert out['img'][0].shape[:2] == expected and out['img'][1].shape[:2] == expected
    assert out['img_shape'][:2] == expected
    np.testing.assert_allclose(out['scale_factor'][:2], [expected[1] / 853, expected[0] / 480])


def test_crop_box_is_chosen_on_the_last_frame():
    clip = coordinate_clip(2, 40, 40)
    first = np.full((40, 40), 3, np.uint8)  # one class everywhere
    last = np.full((40, 40), 3, np.uint8)
    last[:, 20:] = 9  # two classes, balanced only around the middle column
    clip['gt_semantic_seg'] = [first, last]
    for seed in range(10):
        np.random.seed(seed)
        out = RandomCrop_clips(crop_size=(20, 20), cat_max_ratio=0.75)(dict(clip))
        _, counts = np.unique(out['gt_semantic_seg'][1], return_counts=True)
        assert len(counts) == 2 and counts.max() / counts.sum() < 0.75


def test_crop_of_a_small_frame_keeps_it_whole():
    out = RandomCrop_clips(crop_size=(64, 64))(dict(coordinate_clip(2, 40, 56)))
    assert out['img'][0].shape[:2] == (40, 56)


def test_photometric_distortion_is_drawn_per_frame():
    clip = coordinate_clip(4)
    clip['img'] = [clip['img'][0]] * 4  # identical frames
    np.random.seed(0)
    out = PhotoMetricDistortion_clips()(clip)
    assert len({img.tobytes() for img in out['img']}) > 1
    with pytest.raises(TypeError, match='uint8'):
        PhotoMetricDistortion_clips()(dict(img=[np.zeros((2, 2, 3), np.float32)]))


def test_normalize_converts_bgr_to_rgb():
    img = np.zeros((1, 1, 3), np.uint8)
    img[0, 0] = (10, 20, 30)  # B, G, R
    out = Normalize_clips(mean=[1, 2, 3], std=[2, 4, 8], to_rgb=True)(dict(img=[img]))
    np.testing.assert_allclose(out['img'][0][0, 0], [(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 8],
                               rtol=1e-6)
    assert out['img'][0].dtype == np.float32 and out['img_norm_cfg']['to_rgb'] is True


@pytest.mark.parametrize('shape', [(1, 1), (2, 1), (1, 3), (480, 853)])
@pytest.mark.parametrize('to_rgb', [True, False])
def test_normalize_is_per_channel_on_every_frame_shape(shape, to_rgb):
    """(img - mean) / std per channel, whatever the frame's shape (OpenCV 5.1 broadcast a (1, 3)
    array differently on 1x1, 2x1 and 1x3 frames)."""
    img = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]  # the configs' values
    out = Normalize_clips(mean=mean, std=std, to_rgb=to_rgb)(dict(img=[img]))['img'][0]
    expected = ((img[..., ::-1] if to_rgb else img).astype(np.float64) - mean) / std
    assert out.shape == (*shape, 3) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_pad_to_size_and_divisor():
    clip = coordinate_clip(2, 20, 30)
    out = Pad_clips(size=(32, 48), pad_val=0, seg_pad_val=255)(dict(clip))
    assert out['img'][1].shape == (32, 48, 3) and out['pad_shape'] == (32, 48, 3)
    assert (out['gt_semantic_seg'][1][20:] == 255).all() and (out['img'][1][:, 30:] == 0).all()
    np.testing.assert_array_equal(out['img'][1][:20, :30], clip['img'][1])
    out = Pad_clips(size_divisor=16)(dict(clip))
    assert out['img'][0].shape[:2] == (32, 32)
    with pytest.raises(ValueError, match='exceeds the pad size'):
        Pad_clips(size=(8, 8))(dict(clip))
    with pytest.raises(ValueError, match='exactly one of size and size_divisor'):
        Pad_clips()
