"""Datasets in other layouts: classes, palette, folder templates, split files, label_map."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets import VSPW_CLASSES, VSPW_PALETTE, RepeatDataset, build_dataset
from mmseg.datasets.file_io import DataError
from mmseg.datasets.toy_dataset import TOY_CLASSES, make_toy_dataset
from mmseg.utils.errors import ConfigError

LOAD = [dict(type='LoadImageFromFile_clips'),
        dict(type='LoadAnnotations_clips', reduce_zero_label=False)]
LAYOUT = dict(img_dir='videos/{video}/frames', ann_dir='videos/{video}/labels', img_suffix='.png',
              reduce_zero_label=False)


@pytest.fixture
def toy(tmp_path):
    root = str(tmp_path / 'toy')
    make_toy_dataset(root, videos=3, frames=(3, 4), size=(32, 48))
    return root


def test_toy_layout_reads_frames_masks_and_classes(toy):
    dataset = build_dataset(dict(type='VSPWDataset2', data_root=toy, split='splits/train.txt',
                                 pipeline=LOAD, classes=TOY_CLASSES, dilation=[-1], **LAYOUT))
    assert dataset.num_classes == 3 and len(dataset.PALETTE) == 3 and dataset.CLASSES == TOY_CLASSES
    assert dataset.videos == ['clip_000', 'clip_001']
    sample = dataset[0]
    assert sample['img_paths'][0].endswith('.png') and '/frames/' in sample['img_paths'][0]
    values = set(np.unique(np.stack(sample['gt_semantic_seg'])).tolist())
    assert values <= {0, 1, 2, 255} and 0 in values
    repeated = RepeatDataset(dataset, times=2)
    assert repeated.CLASSES == TOY_CLASSES and repeated.PALETTE == dataset.PALETTE
    test = build_dataset(dict(type='VSPWDataset_multiFrameTest', data_root=toy,
                              split='splits/val.txt', pipeline=LOAD, classes=TOY_CLASSES,
                              palette=[[1, 2, 3], [4, 5, 6], [7, 8, 9]],
                              **LAYOUT))
    assert test.PALETTE == ((1, 2, 3), (4, 5, 6), (7, 8, 9))
    evaluator = test.build_evaluator(metrics=['mIoU'])
    assert evaluator.class_names == list(TOY_CLASSES)
    video, frame = test.videos[0], test.video_frames[test.videos[0]][0]
    assert test.get_gt_seg_map(video, frame).max() <= 255


def test_vspw_defaults_are_unchanged(tiny_vspw):
    tiny_vspw.add_video('a', 3)
    tiny_vspw.write_split('train', ['a'])
    dataset = build_dataset(dict(type='VSPWDataset2', data_root=tiny_vspw.root, split='train',
                                 pipeline=[LOAD[0], dict(type='LoadAnnotations_clips')],
                                 dilation=[-1]))
    assert dataset.CLASSES == VSPW_CLASSES and dataset.PALETTE == VSPW_PALETTE
    assert (dataset.frame_path('a', 'x')
            == os.path.join(tiny_vspw.root, 'data', 'a', 'origin', 'x.jpg'))


def test_mask_values_are_checked_against_the_dataset_classes(toy):
    mask = os.path.join(toy, 'videos', 'clip_000', 'labels', '0.png')
    label = np.asarray(Image.open(mask)).copy()
    label[0, 0] = 3  # a fourth class in a 3-class dataset
    Image.fromarray(label, mode='L').save(mask)
    dataset = build_dataset(dict(type='VSPWDataset2', data_root=toy, split='splits/train.txt',
                                 pipeline=LOAD, classes=TOY_CLASSES, dilation=[0], **LAYOUT))
    with pytest.raises(DataError, match=r'holds values \[3\]; expected only 0..2 and 255'):
        dataset.get_gt_seg_map('clip_000', '0')


def test_label_map_maps_raw_values(toy):
    # relabel: raw 10 background, 20 ball, 30 box
    for video in ('clip_000', 'clip_001', 'clip_002'):
        folder = os.path.join(toy, 'videos', video, 'labels')
        for name in os.listdir(folder):
            label = np.asarray(Image.open(os.path.join(folder, name)))
            raw = np.where(label == 255, 255, (label.astype(np.int64) + 1) * 10).astype(np.uint8)
            Image.fromarray(raw, mode='L').save(os.path.join(folder, name))
    dataset = build_dataset(dict(type='VSPWDataset2', data_root=toy, split='splits/train.txt',
                                 pipeline=LOAD, classes=TOY_CLASSES, dilation=[0],
                                 label_map={10: 0, 20: 1, 30: 2}, **LAYOUT))
    values = set(np.unique(np.stack(dataset[0]['gt_semantic_seg'])).tolist())
    assert values <= {0, 1, 2, 255} and 0 in values
    assert set(np.unique(dataset.get_gt_seg_map('clip_000', '0')).tolist()) <= {0, 1, 2, 255}


def test_config_mistakes_are_one_line(toy):
    base = dict(type='VSPWDataset2', data_root=toy, split='splits/train.txt', dilation=[0])
    with pytest.raises(ConfigError, match='reduce_zero_label'):
        build_dataset(dict(base, pipeline=[LOAD[0], dict(type='LoadAnnotations_clips')], **LAYOUT))
    with pytest.raises(ConfigError, match='one RGB triple'):
        build_dataset(dict(base, pipeline=LOAD, classes=TOY_CLASSES, palette=[[0, 0, 0]], **LAYOUT))
    with pytest.raises(DataError, match="img_dir='videos/frames' without {video} means the VSPW"):
        build_dataset(dict(base, pipeline=LOAD, **dict(LAYOUT, img_dir='videos/frames')))
    with pytest.raises(DataError, match='split file'):
        build_dataset(dict(base, pipeline=LOAD, **dict(LAYOUT), split='splits/missing.txt'))
