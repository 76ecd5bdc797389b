"""Cityscapes datasets: snippets from the labels, training and test clips, missing files,
scoring."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.core.evaluation import SPARSE_VC_NOTE
from mmseg.datasets import (
    CITYSCAPES_CLASSES,
    CityscapesDataset_clips,
    CityscapesDataset_multiFrameTest,
    DataError,
)
from mmseg.datasets.cityscapes import CITYSCAPES_LABELS, label_id_table

LOAD = [dict(type='LoadImageFromFile_clips'),
        dict(type='LoadAnnotations_clips', reduce_zero_label=False)]
FORMAT = [dict(type='DefaultFormatBundle_clips'),
          dict(type='Collect_clips', keys=['img', 'gt_semantic_seg'], meta_keys=['video', 'frame'])]
TEST_PIPELINE = [dict(type='LoadImageFromFile_clips'), dict(type='ImageToTensor_clips'),
                 dict(type='Collect_clips', keys=['img'], meta_keys=['video', 'frame'])]
SIZE = (8, 16)


class TinyCityscapes:
    """Writes sequence frames (their number, mod 256, in the red channel) and trainIds labels."""

    def __init__(self, root):
        self.root = str(root)

    def frame(self, split, name):
        return os.path.join(self.root, 'leftImg8bit_sequence', split, name.split('_')[0],
                            name + '_leftImg8bit.png')

    def label(self, split, name, kind='labelTrainIds'):
        return os.path.join(self.root, 'gtFine', split, name.split('_')[0],
                            f'{name}_gtFine_{kind}.png')

    def add_snippet(self, split, city, seq, labelled, first=None, last=None, label=None):
        """Frames ``first .. last`` (default the 30 of the snippet) of ``<city>_<seq>``, and the
        label of frame ``labelled`` (default: its trainIds are its number mod 19 and 255)."""
        first = max(labelled - 19, 0) if first is None else first
        last = labelled + 10 if last is None else last
        for number in range(first, last + 1):
            path = self.frame(split, f'{city}_{seq:06d}_{number:06d}')
            os.makedirs(os.path.dirname(path), exist_ok=True)
            image = np.zeros((*SIZE, 3), np.uint8)
            image[..., 0] = number % 256
            Image.fromarray(image).save(path)
        target = f'{city}_{seq:06d}_{labelled:06d}'
        if label is None:
            label = np.full(SIZE, labelled % 19, np.uint8)
            label[0] = 255
        path = self.label(split, target)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(label).save(path)
        return target


@pytest.fixture
def tiny(tmp_path):
    return TinyCityscapes(tmp_path / 'cityscapes')


def test_the_official_label_table():
    train_ids = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    table, valid = label_id_table()
    for label_id in range(256):
        expected = train_ids.index(label_id) if label_id in train_ids else 255
        assert table[label_id] == expected, label_id
        assert valid[label_id] == (label_id <= 33 or label_id == 255), label_id
    names = {train_id: name for _, name, train_id in CITYSCAPES_LABELS if train_id != 255}
    assert tuple(names[i] for i in range(19)) == CITYSCAPES_CLASSES
    assert len(CITYSCAPES_LABELS) == 35 and (-1, 'license plate', 255) in CITYSCAPES_LABELS


def test_snippets_are_found_from_the_labels(tiny):
    a = tiny.add_snippet('val', 'aachen', 0, 19)
    b = tiny.add_snippet('val', 'aachen', 0, 319)  # a second snippet of the same sequence
    c = tiny.add_snippet('val', 'bonn', 3, 5)  # labelled near the sequence start: frames 0..15
    ds = CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE)
    assert ds.videos == [a, b, c] and ds.CLASSES == CITYSCAPES_CLASSES
    assert ds.video_frames == {a: [a], b: [b], c: [c]} and ds.num_frames == 3
    assert ds.snippet_frames[b] == [f'aachen_000000_{n:06d}' for n in range(300, 330)]
    assert ds.snippet_frames[c] == [f'bonn_000003_{n:06d}' for n in range(0, 16)]
    assert (ds.target_index[a], ds.target_index[b], ds.target_index[c]) == (19, 19, 5)
    assert ds.frame_path(a, 'aachen_000000_000007') == tiny.frame('val', 'aachen_000000_000007')
    assert ds.mask_path(a, a) == tiny.label('val', a)


@pytest.mark.parametrize('dilation,offsets', [([-9, -6, -3], [-9, -6, -3, 0]), ([-3], [-3, 0]),
                                              ([0], [0])])
def test_training_clips_end_with_the_labelled_frame(tiny, dilation, offsets):
    target = tiny.add_snippet('train', 'ulm', 7, 119)
    ds = CityscapesDataset_clips(tiny.root, 'train', LOAD + FORMAT, dilation=dilation)
    assert len(ds) == 1
    np.random.seed(0)
    seen = set()
    for _ in range(40):
        sample = ds[0]
        numbers = [int(m['frame'][-6:]) for m in sample['img_metas']]
        assert numbers[-1] == 119 and {m['video'] for m in sample['img_metas']} == {target}
        reverse = len(numbers) > 1 and numbers[0] > 119
        assert numbers == [119 - d if reverse else 119 + d for d in offsets]
        seen.add(reverse)
        # the frames are the ones named (red channel, last in BGR = frame number) ...
        red = sample['img'][:, 2, 0, 0].numpy()
        assert red.tolist() == [n % 256 for n in numbers]
        # ... and every frame carries the labelled frame's label map
        labels = sample['gt_semantic_seg'][:, 0].numpy()
        assert (labels[:, 0] == 255).all() and (labels[:, 1:] == 119 % 19).all()
    assert seen == ({False, True} if len(offsets) > 1 else {False})


def test_clip_indices_are_clamped_to_the_snippet(tiny):
    tiny.add_snippet('train', 'jena', 0, 19)
    near_start = tiny.add_snippet('train', 'jena', 1, 4)  # frames 0..14, labelled at index 4
    ds = CityscapesDataset_clips(tiny.root, 'train', LOAD + FORMAT, dilation=[-12, -6])
    full = 'jena_000000_000019'
    assert ds.clip_indices(full, reverse=False) == [7, 13, 19]
    assert ds.clip_indices(full, reverse=True) == [29, 25, 19]  # 19 + 12 = 31 -> the last frame, 29
    assert ds.clip_indices(near_start, reverse=False) == [0, 0, 4]  # before frame 0: the first
    assert ds.clip_indices(near_start, reverse=True) == [14, 10, 4]


def test_a_missing_reference_frame_is_an_error_naming_it(tiny):
    tiny.add_snippet('train', 'erfurt', 2, 40)
    os.remove(tiny.frame('train', 'erfurt_000002_000033'))  # read by no clip of dilation [-3]
    CityscapesDataset_clips(tiny.root, 'train', LOAD, dilation=[-3])
    CityscapesDataset_multiFrameTest(tiny.root, 'train', TEST_PIPELINE, test_size=2)
    os.remove(tiny.frame('train', 'erfurt_000002_000037'))  # 40 - 3
    with pytest.raises(DataError, match='reference frame .*erfurt_000002_000037_leftImg8bit.png of '
                                        'labelled frame erfurt_000002_000040 does not exist'):
        CityscapesDataset_clips(tiny.root, 'train', LOAD, dilation=[-3])
    os.remove(tiny.frame('train', 'erfurt_000002_000043'))  # the reversed clip's frame, 40 + 3
    with pytest.raises(DataError, match=r'\(2 of the frames its clips read are missing\)'):
        CityscapesDataset_clips(tiny.root, 'train', LOAD, dilation=[-3])
    with pytest.raises(DataError, match='erfurt_000002_000043_leftImg8bit.png'):  # clip (40, 43)
        CityscapesDataset_multiFrameTest(tiny.root, 'train', TEST_PIPELINE, test_size=2)
    CityscapesDataset_multiFrameTest(tiny.root, 'train', TEST_PIPELINE, test_size=1)


def test_missing_images_labels_and_folders(tiny, tmp_path):
    with pytest.raises(DataError, match='label folder .*gtFine/val does not exist'):
        CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE)
    target = tiny.add_snippet('val', 'lindau', 0, 19)
    os.remove(tiny.frame('val', target))
    with pytest.raises(DataError, match=f'labelled frame {target} has no image: '
                                        f'.*{target}_leftImg8bit.png does not exist but its label '
                                        f'.*{target}_gtFine_labelTrainIds.png'):
        CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE)
    os.rename(tiny.label('val', target), tiny.label('val', target, 'labelIds'))
    with pytest.raises(DataError, match='python tools/convert_datasets/cityscapes.py'):
        CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE)
    tiny.add_snippet('val', 'munster', 0, 19)
    os.rename(os.path.join(tiny.root, 'leftImg8bit_sequence', 'val', 'munster'),
              str(tmp_path / 'away'))
    os.remove(tiny.label('val', target, 'labelIds'))
    with pytest.raises(DataError, match='sequence folder .*leftImg8bit_sequence/val/munster does '
                                        'not exist'):
        CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE)
    with pytest.raises(ValueError, match='split must be a folder name'):
        CityscapesDataset_multiFrameTest(tiny.root, 'val.txt/x', TEST_PIPELINE)
    with pytest.raises(ValueError, match='snippet must be'):
        CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE, snippet=(3, 10))


@pytest.mark.parametrize('test_size,test_gap,clip', [
    (1, 3, (19,)), (2, 3, (19, 22)), (4, 3, (13, 16, 19, 22)), (3, 1, (18, 19, 20)),
    (5, 3, (16, 19, 22, 25, 28)),
])
def test_the_test_clip_is_the_one_of_the_vspw_rule_that_holds_the_labelled_frame(tiny, test_size,
                                                                                   test_gap, clip):
    # the VSPW rule over the 30 frames: full blocks of N*g frames give g interleaved clips, the
    # rest consecutive chunks of N (docs/evaluation.md, "Test clips"); e.g. N=4, g=3: blocks 0..11
    # and 12..23, and frame 19 is in the block's clip (13, 16, 19, 22)
    target = tiny.add_snippet('val', 'mainz', 4, 100)
    ds = CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE, test_size=test_size,
                                          test_gap=test_gap)
    assert ds.clips == [(target, clip)] and ds.items_by_video() == [(target, [0])]
    frames = [m['frame'] for m in ds[0]['img_metas']]
    assert frames == [f'mainz_000004_{100 - 19 + i:06d}' for i in clip]


def test_only_labelled_frames_are_scored_and_mvc_is_not_available(tiny, tmp_path):
    label = np.zeros(SIZE, np.uint8)  # left half road (0), right half car (13), top row void
    label[:, SIZE[1] // 2:] = 13
    label[0] = 255
    a = tiny.add_snippet('val', 'zurich', 0, 19, label=label)
    b = tiny.add_snippet('val', 'zurich', 1, 19, label=label)
    ds = CityscapesDataset_multiFrameTest(tiny.root, 'val', TEST_PIPELINE, test_size=2)
    evaluator = ds.build_evaluator(['mIoU', 'mVC'], imgfile_prefix=str(tmp_path / 'pngs'))
    perfect = label.copy().astype(np.int64)
    perfect[0] = 0
    wrong = np.full(SIZE, 13, np.int64)
    for idx in range(len(ds)):
        for meta in ds[idx]['img_metas']:
            labelled = meta['frame'] in (a, b)
            # a's labelled frame is perfect, b's all car; the reference frames are all car too
            pred = perfect if meta['frame'] == a else wrong
            assert labelled == (meta['frame'][-6:] == '000019')
            evaluator.process(pred, meta)
    results = evaluator.evaluate()
    # scored pixels per frame: 7 rows x 8 road, 7 x 8 car; a all right, b's road predicted car
    road_iou = 56 / 112  # TP 56 of 112 road pixels, nothing else predicted road
    car_iou = 112 / (112 + 56)  # TP 112, 56 road pixels predicted car
    assert results['num_frames'] == 2
    assert results['IoU'][0] == pytest.approx(road_iou)
    assert results['IoU'][13] == pytest.approx(car_iou)
    assert results['mIoU'] == pytest.approx((road_iou + car_iou) / 2)
    assert results['mVC8'] is None and results['mVC16'] is None
    assert results['notes'] == {'mVC8': SPARSE_VC_NOTE, 'mVC16': SPARSE_VC_NOTE}
    written = sorted(os.path.relpath(os.path.join(d, f), tmp_path / 'pngs')
                     for d, _, files in os.walk(tmp_path / 'pngs') for f in files)
    assert written == [f'{a}/{a}.png', f'{b}/{b}.png']
