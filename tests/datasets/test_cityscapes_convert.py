"""labelIds -> labelTrainIds: the official table, kept files, bad values, no half-written file."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets import DataError
from mmseg.datasets.cityscapes_convert import convert_label_file, convert_label_ids, label_id_files

# the documented table: these labelIds are trained, as trainIds 0..18 in this order; every other
# id, and 255 (the license plate's -1), is 255
TRAINED = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


def write_ids(root, split, name, ids):
    path = os.path.join(root, 'gtFine', split, name.split('_')[0], f'{name}_gtFine_labelIds.png')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(ids, np.uint8)).save(path)
    return path


def train_ids(path):
    return np.asarray(Image.open(path.replace('_labelIds.png', '_labelTrainIds.png')))


def test_every_label_id_becomes_its_train_id(tmp_path):
    values = np.array(list(range(34)) + [255], np.uint8).reshape(5, 7)
    path = write_ids(str(tmp_path), 'train', 'aachen_000000_000019', values)
    assert convert_label_file(path) == ('written', '')
    out = train_ids(path)
    expected = np.array([TRAINED.index(v) if v in TRAINED else 255 for v in values.ravel()])
    expected = expected.reshape(5, 7)
    np.testing.assert_array_equal(out, expected)
    assert Image.open(path.replace('_labelIds.png', '_labelTrainIds.png')).mode == 'L'
    assert not [n for n in os.listdir(os.path.dirname(path)) if n.endswith('.part')]


def test_existing_labels_are_kept_unless_overwrite(tmp_path):
    root = str(tmp_path)
    a = write_ids(root, 'train', 'aachen_000000_000019', np.full((4, 4), 7))
    b = write_ids(root, 'val', 'lindau_000001_000019', np.full((4, 4), 26))
    assert label_id_files(root) == sorted([a, b])
    counts = convert_label_ids(root, progress=False)
    assert counts == dict(labels=2, written=2, skipped=0, failed=[])
    assert (train_ids(a) == 0).all() and (train_ids(b) == 13).all()
    write_ids(root, 'train', 'aachen_000000_000019', np.full((4, 4), 8))
    counts = convert_label_ids(root, progress=False)
    assert counts == dict(labels=2, written=0, skipped=2, failed=[])
    assert (train_ids(a) == 0).all()  # kept
    open(a.replace('_labelIds.png', '_labelTrainIds.png'), 'wb').close()  # an empty file is redone
    assert convert_label_ids(root, progress=False)['written'] == 1 and (train_ids(a) == 1).all()
    assert convert_label_ids(root, progress=False, overwrite=True)['written'] == 2


def test_bad_labels_are_reported_not_converted(tmp_path):
    root = str(tmp_path)
    good = write_ids(root, 'train', 'bonn_000000_000019', np.full((4, 4), 21))
    bad = write_ids(root, 'train', 'bonn_000001_000019', np.array([[7, 40], [34, 254]]))
    colour = write_ids(root, 'train', 'bonn_000002_000019', np.zeros((4, 4, 3)))
    empty = write_ids(root, 'train', 'bonn_000003_000019', np.zeros((4, 4)))
    open(empty, 'wb').close()
    counts = convert_label_ids(root, workers=2, progress=False)
    assert counts['written'] == 1 and (train_ids(good) == 8).all()
    assert len(counts['failed']) == 3
    failed = dict(zip(sorted([bad, colour, empty]), counts['failed']))
    assert 'holds values [34, 40, 254]' in failed[bad] and 'labelIds: 0..33, and 255' in failed[bad]
    assert 'colour image' in failed[colour] and 'is empty (0 bytes)' in failed[empty]
    for path in (bad, colour, empty):
        assert path in failed[path]
        assert not os.path.exists(path.replace('_labelIds.png', '_labelTrainIds.png'))


def test_no_label_ids_is_an_error(tmp_path):
    with pytest.raises(DataError, match='no \\*_gtFine_labelIds.png under .*gtFine'):
        convert_label_ids(str(tmp_path), progress=False)
