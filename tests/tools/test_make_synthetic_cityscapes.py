"""tools/make_synthetic_cityscapes.py: deterministic, the Cityscapes layout, one labelIds image per
30-frame snippet (its 20th frame), moving scenes; converted, it passes the dataset check."""
import os

import numpy as np
from PIL import Image

from mmseg.datasets.cityscapes import label_id_table
from mmseg.datasets.dataset_check import scan_dataset
from mmseg.datasets.synthetic_cityscapes import make_synthetic_cityscapes
from tool_runs import run_tool

TOOL = 'make_synthetic_cityscapes'


def contents(root):
    """{relative path: bytes} of every file under ``root``."""
    return {os.path.relpath(os.path.join(d, n), root): open(os.path.join(d, n), 'rb').read()
            for d, _, names in os.walk(root) for n in names}


def test_layout_labels_and_determinism(tmp_path, capsys):
    args = ['--cities', '2', '1', '--snippets', '2', '--size', '32x64', '--seed', '3']
    code, out, err = run_tool(TOOL, ['--out', str(tmp_path / 'a'), *args], capsys)
    assert code == 0, err
    assert 'wrote 4 train, 2 val snippets' in out and 'convert_datasets/cityscapes.py' in out
    labelled = make_synthetic_cityscapes(str(tmp_path / 'b'), cities=(2, 1), snippets=2,
                                         size=(32, 64), seed=3)
    assert contents(tmp_path / 'a') == contents(tmp_path / 'b')
    root = str(tmp_path / 'b')
    assert {s: sorted({n.split('_')[0] for n in names}) for s, names in labelled.items()} == \
        {'train': ['alpha', 'bravo'], 'val': ['charlie']}
    ids = set()
    for split, names in labelled.items():
        for name in names:
            city, seq, number = name.split('_')
            frames = sorted(os.listdir(os.path.join(root, 'leftImg8bit_sequence', split, city)))
            snippet = [f'{city}_{seq}_{int(number) + d:06d}_leftImg8bit.png'
                       for d in range(-19, 11)]
            assert set(snippet) <= set(frames)
            folder = os.path.join(root, 'leftImg8bit_sequence', split, city)
            images = [np.asarray(Image.open(os.path.join(folder, f))) for f in snippet]
            assert images[0].shape == (32, 64, 3)
            assert np.abs(images[0].astype(int) - images[-1]).mean() > 5  # the scene moves
            label = Image.open(os.path.join(root, 'gtFine', split, city,
                                            f'{name}_gtFine_labelIds.png'))
            assert label.mode == 'L' and label.size == (64, 32)
            ids |= set(np.unique(np.asarray(label)).tolist())
        labels = [n for c in os.listdir(os.path.join(root, 'gtFine', split))
                  for n in os.listdir(os.path.join(root, 'gtFine', split, c))]
        assert len(labels) == len(names)  # one labelled frame per snippet
        frames = [n for c in os.listdir(os.path.join(root, 'leftImg8bit_sequence', split))
                  for n in os.listdir(os.path.join(root, 'leftImg8bit_sequence', split, c))]
        assert len(frames) == 30 * len(names)
    table, _ = label_id_table()
    assert {7, 11, 23, 24, 26} <= ids and {0, 1, 4} <= ids  # ids that train and ids that are void
    assert {int(table[i]) for i in ids} <= set(range(19)) | {255}
    problems, _ = scan_dataset(root, layout='cityscapes', progress=False)
    assert {p['kind'] for p in problems} == {'other'}  # the labelTrainIds are not written yet
    code, _, err = run_tool('convert_datasets/cityscapes', [root, '--workers', '0'], capsys)
    assert code == 0, err
    problems, counts = scan_dataset(root, layout='cityscapes', progress=False)
    assert problems == []
    assert (counts['videos'], counts['frames'], counts['labelled']) == (6, 180, 6)


def test_bad_arguments(tmp_path, capsys):
    code, _, err = run_tool(TOOL, ['--out', str(tmp_path), '--cities', '5', '4'], capsys)
    assert code == 1 and '--cities 5 4: expected 8 cities in all at most' in err
    code, _, err = run_tool(TOOL, ['--out', str(tmp_path), '--cities', '0', '1'], capsys)
    assert code == 2 and 'argument --cities: expected an integer >= 1' in err
