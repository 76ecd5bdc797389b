"""Multi-scale and flip test-time augmentation on clips."""
import numpy as np
import torch

from mmseg.datasets.pipelines import Compose

NORM = dict(mean=[0, 0, 0], std=[1, 1, 1], to_rgb=False)
TRANSFORMS = [dict(type='AlignedResize_clips', keep_ratio=True, size_divisor=32),
              dict(type='RandomFlip_clips'), dict(type='Normalize_clips', **NORM),
              dict(type='ImageToTensor_clips', keys=['img']),
              dict(type='Collect_clips', keys=['img'])]


def clip(num_frames=2, height=48, width=85):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(num_frames)]
    frames = [f'{t:05d}' for t in range(num_frames)]
    return dict(video='v', frames=frames, img=imgs, filename=[f'{f}.jpg' for f in frames],
                ori_shape=imgs[0].shape, img_shape=imgs[0].shape, pad_shape=imgs[0].shape,
                scale_factor=np.ones(4, np.float32), seg_fields=[])


def test_single_scale_no_flip():
    out = Compose([dict(type='MultiScaleFlipAug_clips', img_scale=(85, 48), flip=False,
                        transforms=TRANSFORMS)])(clip())
    assert len(out['img']) == 1 and out['img'][0].shape == (2, 3, 64, 96)
    metas = out['img_metas'][0]
    assert [m['frame'] for m in metas] == ['00000', '00001']
    assert metas[0]['ori_shape'] == (48, 85, 3) and metas[0]['img_shape'] == (64, 96, 3)
    assert metas[0]['flip'] is False


def test_aug_test_ratios_and_flip():
    ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    out = Compose([dict(type='MultiScaleFlipAug_clips', img_scale=(853, 480), img_ratios=ratios,
                        flip=True, transforms=TRANSFORMS)])(clip(1, 480, 853))
    assert len(out['img']) == 12
    assert [m[0]['flip'] for m in out['img_metas']] == [False, True] * 6
    heights = [img.shape[2] for img in out['img'][::2]]
    assert heights == [256, 384, 480, 608, 736, 864]
    assert all(img.shape[2] % 32 == 0 and img.shape[3] % 32 == 0 for img in out['img'])
    torch.testing.assert_close(out['img'][5], out['img'][4].flip(-1))
