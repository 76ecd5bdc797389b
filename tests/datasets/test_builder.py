"""build_dataloader and the collate function: the batch contract with the model."""
import pytest
import torch

from mmseg.datasets import (
    DistributedVideoSampler,
    VSPWDataset2,
    VSPWDataset_multiFrameTest,
    build_dataloader,
    collate_clips,
)

NORM = dict(mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True)
TRAIN = [dict(type='LoadImageFromFile_clips'), dict(type='LoadAnnotations_clips'),
         dict(type='Resize_clips', img_scale=(32, 24), ratio_range=(0.5, 2.0)),
         dict(type='RandomCrop_clips', crop_size=(16, 16), cat_max_ratio=0.75),
         dict(type='RandomFlip_clips', prob=0.5), dict(type='PhotoMetricDistortion_clips'),
         dict(type='Normalize_clips', **NORM), dict(type='Pad_clips', size=(16, 16)),
         dict(type='DefaultFormatBundle_clips'),
         dict(type='Collect_clips', keys=['img', 'gt_semantic_seg'])]
TEST = [dict(type='LoadImageFromFile_clips'),
        dict(type='MultiScaleFlipAug_clips', img_scale=(32, 24), flip=True,
             transforms=[dict(type='AlignedResize_clips', size_divisor=32),
                         dict(type='RandomFlip_clips'), dict(type='Normalize_clips', **NORM),
                         dict(type='ImageToTensor_clips'),
                         dict(type='Collect_clips', keys=['img'])])]


@pytest.fixture
def root(tiny_vspw):
    for i, n in enumerate([7, 4, 5]):
        tiny_vspw.add_video(f'v{i}', num_frames=n, size=(24, 32), seed=i)
    tiny_vspw.write_split('train', ['v0', 'v1', 'v2'])
    tiny_vspw.write_split('val', ['v0', 'v1', 'v2'])
    return tiny_vspw.root


def test_train_batch(root):
    ds = VSPWDataset2(root, 'train', TRAIN, dilation=[-3])
    batch = next(iter(build_dataloader(ds, samples_per_gpu=2, workers_per_gpu=0, seed=0)))
    assert set(batch) == {'img', 'gt_semantic_seg', 'img_metas'}
    assert batch['img'].shape == (2, 2, 3, 16, 16) and batch['img'].dtype == torch.float32
    assert batch['gt_semantic_seg'].shape == (2, 2, 1, 16, 16)
    assert batch['gt_semantic_seg'].dtype == torch.int64
    assert len(batch['img_metas']) == 2 and all(len(m) == 2 for m in batch['img_metas'])


def test_seeded_loaders_with_workers_repeat(root):
    ds = VSPWDataset2(root, 'train', TRAIN, dilation=[-3])
    runs = [[b['img'] for b in build_dataloader(ds, 1, 1, seed=5)] for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    other = [b['img'] for b in build_dataloader(ds, 1, 1, seed=6)]
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(runs[0], other))


def test_test_batch(root):
    ds = VSPWDataset_multiFrameTest(root, 'val', TEST, test_size=2)
    loader = build_dataloader(ds, samples_per_gpu=1, workers_per_gpu=0, shuffle=False)
    batches = list(loader)
    assert len(batches) == len(ds)
    batch = batches[0]
    assert len(batch['img']) == 2 and len(batch['img_metas']) == 2  # no flip, flip
    assert batch['img'][0].shape == (1, 2, 3, 32, 32)
    assert [m['frame'] for m in batch['img_metas'][1][0]] == ['00000000', '00000003']
    assert batch['img_metas'][1][0][0]['flip'] is True
    frames = sorted((m['video'], m['frame']) for b in batches for m in b['img_metas'][0][0])
    assert frames == sorted((v, f) for v, fs in ds.video_frames.items() for f in fs)


def test_test_batch_of_different_clip_lengths_is_refused(root):
    ds = VSPWDataset_multiFrameTest(root, 'val', TEST, test_size=2)
    short = [i for i, (_, c) in enumerate(ds.clips) if len(c) == 1][0]
    with pytest.raises(ValueError, match='samples_per_gpu=1'):
        collate_clips([ds[0], ds[short]])
    same = collate_clips([ds[0], ds[1]])
    assert same['img'][0].shape == (2, 2, 3, 32, 32) and len(same['img_metas'][0]) == 2


def test_distributed_test_loader_uses_the_video_sampler(root):
    ds = VSPWDataset_multiFrameTest(root, 'val', TEST, test_size=1)
    loader = build_dataloader(ds, 1, 0, dist=True, shuffle=False)
    assert isinstance(loader.sampler, DistributedVideoSampler)
    assert list(loader.sampler) == list(range(len(ds)))


def test_video_sampler_assigns_whole_videos(root):
    ds = VSPWDataset_multiFrameTest(root, 'val', TEST, test_size=1)  # videos of 7, 4, 5 frames
    parts = [list(DistributedVideoSampler(ds, num_replicas=2, rank=r)) for r in range(2)]
    videos = [{ds.clips[i][0] for i in part} for part in parts]
    assert videos == [{'v0'}, {'v1', 'v2'}]  # largest first, to the least loaded rank
    assert sorted(parts[0] + parts[1]) == list(range(len(ds)))
    assert all(part == sorted(part) for part in parts)
    assert parts == [list(DistributedVideoSampler(ds, num_replicas=2, rank=r)) for r in range(2)]
    four = [list(DistributedVideoSampler(ds, num_replicas=4, rank=r)) for r in range(4)]
    assert four[3] == [] and sorted(sum(four, [])) == list(range(len(ds)))
    with pytest.raises(TypeError, match='items_by_video'):
        DistributedVideoSampler(VSPWDataset2(root, 'train', TRAIN), num_replicas=2, rank=0)
