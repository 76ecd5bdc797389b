"""VSPW datasets: split parsing, frame order, clip sampling, redraws, GT access and writers."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets import (
    VSPW_CLASSES,
    VSPW_PALETTE,
    DataError,
    RepeatDataset,
    VSPWDataset2,
    VSPWDataset_multiFrameTest,
    build_dataset,
)
from mmseg.datasets.vspw import read_split
from mmseg.utils import logger as logger_module
from mmseg.utils.errors import ConfigError

LOAD = [dict(type='LoadImageFromFile_clips'), dict(type='LoadAnnotations_clips')]
FORMAT = [dict(type='DefaultFormatBundle_clips'),
          dict(type='Collect_clips', keys=['img', 'gt_semantic_seg'], meta_keys=['video', 'frame'])]
TEST_PIPELINE = [dict(type='LoadImageFromFile_clips'), dict(type='ImageToTensor_clips'),
                 dict(type='Collect_clips', keys=['img'], meta_keys=['video', 'frame'])]


def test_class_names_and_palette():
    assert len(VSPW_CLASSES) == 124
    # training index k is raw VSPW id k+1
    assert (VSPW_CLASSES[0], VSPW_CLASSES[13], VSPW_CLASSES[28], VSPW_CLASSES[48], VSPW_CLASSES[60],
            VSPW_CLASSES[123]) == ('wall', 'floor', 'sky', 'car', 'person', 'train')
    assert len(set(VSPW_CLASSES)) == 124
    palette = np.array(VSPW_PALETTE, dtype=np.int64)
    assert palette.shape == (124, 3) and len({tuple(c) for c in VSPW_PALETTE}) == 124
    dist = np.abs(palette[:, None] - palette[None]).sum(-1) + np.eye(124, dtype=np.int64) * 999
    assert dist.min() >= 63


def test_split_lines_are_stripped_without_losing_characters(tiny_vspw):
    tiny_vspw.write_split('val', [], text='  videoA \r\n\nvideoB\t\nvideoC')  # no final newline
    assert read_split(tiny_vspw.root, 'val') == ['videoA', 'videoB', 'videoC']
    tiny_vspw.write_split('val', [], text='videoA\nvideoA\n')
    with pytest.raises(DataError, match='twice'):
        read_split(tiny_vspw.root, 'val')


def test_frames_are_ordered_by_number(tiny_vspw):
    tiny_vspw.add_video('v', names=['10', '9', '100', '1'])
    tiny_vspw.write_split('val', ['v'])
    ds = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE)
    assert ds.video_frames['v'] == ['1', '9', '10', '100']


def _frame_indices(dataset, video, sample):
    names = dataset.video_frames[video]
    return [names.index(m['frame']) for m in sample['img_metas']]


@pytest.mark.parametrize('dilation,expected', [([-3], [-3, 0]), ([-9, -6, -3], [-9, -6, -3, 0]),
                                               ([0], [0]), ([-3, 0], [-3, 0])])
def test_train_clip_sampling(tiny_vspw, dilation, expected):
    tiny_vspw.add_video('v', num_frames=12, size=(8, 8))
    tiny_vspw.write_split('train', ['v'])
    ds = VSPWDataset2(tiny_vspw.root, 'train', LOAD + FORMAT, dilation=dilation)
    np.random.seed(0)
    targets = {True: set(), False: set()}
    for _ in range(80):
        sample = ds[0]
        indices = _frame_indices(ds, 'v', sample)
        assert sample['img'].shape[0] == len(expected)
        reversed_clip = len(indices) > 1 and indices[0] > indices[-1]
        target = indices[-1]
        if reversed_clip:  # the frame list was reversed: offsets point forward in time
            assert indices == [target - d for d in expected]
        else:
            assert indices == [target + d for d in expected]
        targets[reversed_clip].add(target)
    margin = -min(dilation)
    assert targets[False] == set(range(margin, 12))
    if len(expected) > 1:
        assert targets[True] == set(range(0, 12 - margin))


def test_short_video_clamps_to_first_frame():
    ds = VSPWDataset2.__new__(VSPWDataset2)
    ds.dilation = [-9, -6, -3]
    np.random.seed(1)
    seen = {tuple(ds.sample_frame_indices(4)) for _ in range(30)}
    assert seen == {(0, 0, 0, 3), (3, 3, 3, 0)}


def test_unlabelled_clips_are_redrawn(tiny_vspw):
    void = [np.full((8, 8), 255, np.uint8)] * 4
    tiny_vspw.add_video('void', num_frames=4, size=(8, 8), labels=void)
    tiny_vspw.add_video('good', num_frames=4, size=(8, 8))
    tiny_vspw.write_split('train', ['void', 'good'])
    ds = VSPWDataset2(tiny_vspw.root, 'train', LOAD + FORMAT, dilation=[-1])
    np.random.seed(0)
    for _ in range(5):
        assert ds[0]['img_metas'][0]['video'] == 'good'
    tiny_vspw.write_split('train', ['void'])
    ds = VSPWDataset2(tiny_vspw.root, 'train', LOAD + FORMAT, dilation=[-1], max_redraws=3)
    with pytest.raises(DataError, match='4 training clips in a row had no labelled pixel'):
        ds[0]


def test_invalid_dilation(tiny_vspw):
    with pytest.raises(ValueError, match='dilation'):
        VSPWDataset2(tiny_vspw.root, 'train', LOAD, dilation=[3])


def test_repeat_dataset_from_config(tiny_vspw):
    tiny_vspw.add_video('v', num_frames=3, size=(8, 8))
    tiny_vspw.write_split('train', ['v'])
    cfg = dict(type='RepeatDataset', times=3,
               dataset=dict(type='VSPWDataset2', data_root=tiny_vspw.root, split='train',
                            pipeline=LOAD + FORMAT, dilation=[0]))
    ds = build_dataset(cfg)
    assert isinstance(ds, RepeatDataset) and len(ds) == 3 and ds.CLASSES == VSPW_CLASSES
    assert ds[2]['img_metas'][0]['video'] == 'v'
    with pytest.raises(IndexError):
        ds[3]


def test_test_dataset_clips_and_groups(tiny_vspw):
    tiny_vspw.add_video('a', num_frames=14, size=(8, 8))
    tiny_vspw.add_video('b', num_frames=3, size=(8, 8), masks=False)
    tiny_vspw.write_split('val', ['a', 'b'])
    ds = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE, test_size=2)
    assert [c for v, c in ds.clips if v == 'a'] == [(0, 3), (1, 4), (2, 5), (6, 9), (7, 10),
                                                    (8, 11), (12, 13)]
    assert ds.items_by_video() == [('a', list(range(7))), ('b', [7, 8])]
    sample = ds[1]
    assert sample['img'].shape == (2, 3, 8, 8)
    assert [m['frame'] for m in sample['img_metas']] == ['00000001', '00000004']
    assert ds.num_frames == 17
    with pytest.raises(ValueError, match='test_size must be a positive integer'):
        VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE, test_size=0)
    with pytest.raises(DataError, match='mask .*b/mask/00000000.png does not exist'):
        ds.get_gt_seg_map('b', '00000000')


def test_gt_seg_map_shift(tiny_vspw):
    raw = np.array([[0, 1, 124, 255], [2, 3, 0, 7]], np.uint8)
    tiny_vspw.add_video('v', num_frames=1, size=raw.shape, labels=[raw])
    tiny_vspw.write_split('val', ['v'])
    ds = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE)
    np.testing.assert_array_equal(ds.get_gt_seg_map('v', '00000000'),
                                  [[255, 0, 123, 255], [1, 2, 255, 6]])
    np.testing.assert_array_equal(ds.get_gt_seg_map('v', '00000000', shifted=False), raw)


def test_prediction_writers(tiny_vspw, tmp_path):
    tiny_vspw.add_video('v', num_frames=1, size=(6, 8))
    tiny_vspw.write_split('val', ['v'])
    ds = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE)
    meta = dict(video='v', frame='00000000', filename=tiny_vspw.frame('v', '00000000'))
    blocks = np.zeros((6, 8), np.int64)
    blocks[:, 4:] = 7
    overlay = ds.show_prediction(blocks, meta, str(tmp_path / 'show'), opacity=1.0)
    assert os.path.basename(overlay) == '00000000.jpg'
    painted = np.array(Image.open(overlay).convert('RGB')).astype(int)
    expected = np.array(VSPW_PALETTE)[blocks]
    assert np.abs(painted - expected).mean() < 12  # JPEG
    with pytest.raises(ValueError, match='outside 0..123'):
        ds.show_prediction(blocks + 124, meta, str(tmp_path / 'show'))


def test_build_evaluator_end_to_end(tiny_vspw):
    base = np.random.default_rng(0).choice([0, 1, 2, 124, 255], (6, 8)).astype(np.uint8)
    tiny_vspw.add_video('long', num_frames=18, size=(6, 8), labels=[base] * 18)
    tiny_vspw.add_video('short', num_frames=3, size=(6, 8))
    tiny_vspw.write_split('val', ['long', 'short'])
    ds = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE, test_size=2)
    ev = ds.build_evaluator(metrics=['mIoU', 'mVC'], vc_gt='raw')
    for idx in range(len(ds)):
        for meta in ds[idx]['img_metas']:
            gt = ds.get_gt_seg_map(meta['video'], meta['frame'])
            ev.process(np.where(gt == 255, 0, gt), meta)
    res = ev.evaluate()
    assert res['aAcc'] == res['mIoU'] == res['mIoU_present'] == 1.0
    assert res['mVC8'] == res['mVC16'] == 1.0 and res['num_frames'] == 21
    assert res['IoU'][123] == 1.0 and res['IoU'][50] is None
    with pytest.raises(ValueError, match='unknown evaluation options'):
        ds.build_evaluator(metrics=['mIoU'], efficient_test=True)


def test_dirs_without_video_keep_the_original_meaning(tiny_vspw, tmp_path, monkeypatch,
                                                       mmseg_caplog):
    """The original's configs pass img_dir='images/training' and the like, which its VSPW datasets
    ignored: the VSPW layout is read, with one notice per key and process."""
    monkeypatch.setattr(logger_module, '_LOGGED_ONCE', set())
    tiny_vspw.add_video('v', num_frames=4, size=(8, 8))
    tiny_vspw.write_split('val', ['v'])
    original = dict(img_dir='images/validation', ann_dir='annotations/validation')
    ds = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE, **original)
    ours = VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE)
    assert (ds.img_dir, ds.ann_dir) == ('data/{video}/origin', 'data/{video}/mask')
    assert ds.frame_path('v', '00000001') == tiny_vspw.frame('v', '00000001')
    assert ds.mask_path('v', '00000001') == tiny_vspw.mask('v', '00000001')
    assert ds.video_frames == ours.video_frames
    assert np.array_equal(ds[2]['img'], ours[2]['img'])
    VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE, **original)
    assert [r.getMessage() for r in mmseg_caplog.records] == [
        "img_dir='images/validation' has no {video}: ignored, as the original did; reading the "
        "VSPW layout data/{video}/origin",
        "ann_dir='annotations/validation' has no {video}: ignored, as the original did; reading "
        "the VSPW layout data/{video}/mask"]
    # another layout without {video}: the error says how the value was read
    other = tmp_path / 'other'
    os.makedirs(other / 'frames' / 'v')
    (other / 'val.txt').write_text('v\n')
    with pytest.raises(DataError, match=r"img_dir='frames' without \{video\} means the VSPW"):
        VSPWDataset_multiFrameTest(str(other), 'val', TEST_PIPELINE, img_dir='frames')
    with pytest.raises(ConfigError, match='img_dir must be a folder path'):
        VSPWDataset_multiFrameTest(tiny_vspw.root, 'val', TEST_PIPELINE, img_dir=None)


def test_original_load_annotations_default_is_checked(tiny_vspw):
    """mmseg's LoadAnnotations does not shift by default; a VSPW dataset (shifting) says so."""
    tiny_vspw.add_video('v', num_frames=4, size=(8, 8))
    tiny_vspw.write_split('train', ['v'])
    load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    with pytest.raises(ConfigError, match="LoadAnnotations has reduce_zero_label=False but the"):
        VSPWDataset2(tiny_vspw.root, 'train', load + FORMAT, dilation=[0])
    load[1]['reduce_zero_label'] = True
    np.random.seed(0)
    sample = VSPWDataset2(tiny_vspw.root, 'train', load + FORMAT, dilation=[0])[0]
    ours = VSPWDataset2(tiny_vspw.root, 'train', LOAD + FORMAT, dilation=[0])
    np.random.seed(0)
    assert np.array_equal(sample['gt_semantic_seg'], ours[0]['gt_semantic_seg'])
