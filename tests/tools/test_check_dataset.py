"""tools/check_dataset.py lists every problem of a broken dataset in one run."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets.dataset_check import scan_dataset
from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
from tool_runs import run_tool, tool_main


def table_row(stdout, split):
    """The summary table's row of ``split`` as {column: value}."""
    lines = [line for line in stdout.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    rows = [[c.strip() for c in line.strip('|').split('|')] for line in lines[1:]]
    return dict(zip(header, next(row for row in rows if row[0] == split)))


KINDS = ('missing ref. frames', 'frames w/o label', 'labels w/o frame', 'empty/undecodable',
         'bad label values', 'other')  # the table's problem columns


@pytest.mark.slow
def test_every_problem_is_reported(tmp_path, capsys):
    root = str(tmp_path / 'vspw')
    splits = make_synthetic_vspw(root, videos=5, size=(32, 48), frames=(3, 4))
    a, b, c = splits['train']

    def frame(video, i):
        return os.path.join(root, 'data', video, 'origin', sorted(os.listdir(os.path.join(
            root, 'data', video, 'origin')))[i])

    def mask(video, i):
        return frame(video, i).replace('origin', 'mask').replace('.jpg', '.png')

    broken = {}
    path = frame(a, 0)
    open(path, 'wb').close()
    broken[path] = 'is empty (0 bytes)'
    path = frame(a, 1)
    with open(path, 'wb') as f:
        f.write(b'garbage' * 20)
    broken[path] = 'could not be decoded'
    path = frame(a, 2)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    broken[path] = 'truncated'
    path = mask(b, 0)
    os.remove(path)
    broken[path] = 'does not exist'
    path = mask(b, 1)
    Image.fromarray(np.ones((31, 48), np.uint8)).save(path)
    broken[path] = 'has size 31x48'
    path = mask(b, 2)
    Image.fromarray(np.full((32, 48), 130, np.uint8)).save(path)
    broken[path] = 'holds values [130]'
    path = mask(c, 0)
    Image.fromarray(np.ones((32, 48, 3), np.uint8)).save(path)
    broken[path] = 'colour image'
    orphan = mask(c, 1)
    os.remove(frame(c, 1))
    broken[orphan] = 'has no frame'
    os.makedirs(os.path.join(root, 'data', 'empty', 'origin'))
    with open(os.path.join(root, 'val.txt'), 'a') as f:
        f.write('empty\nghost\n')
    broken[os.path.join(root, 'data', 'empty')] = 'has no *.jpg frames'
    broken[os.path.join(root, 'data', 'ghost')] = "video 'ghost' has no folder"
    shutil.rmtree(os.path.join(root, 'data', splits['val'][0], 'mask'))
    broken[os.path.join(root, 'data', splits['val'][0], 'mask')] = 'has no mask folder'
    os.remove(os.path.join(root, 'test.txt'))
    broken[os.path.join(root, 'test.txt')] = 'split file'

    problems, counts = scan_dataset(root, workers=0, progress=False)
    found = {p['path']: p['problem'] for p in problems}
    assert set(found) == set(broken)
    for path, words in broken.items():
        assert words in found[path] and path in found[path], (path, found[path])
    assert counts['videos'] == 6
    kinds = {p['path']: p['kind'] for p in problems}
    assert [kinds[frame(a, i)] for i in range(3)] == ['unreadable'] * 3
    assert [kinds[mask(b, i)] for i in range(3)] == ['frame_without_label', 'other', 'label_values']
    assert (kinds[mask(c, 0)], kinds[orphan]) == ('other', 'label_without_frame')
    unlabelled = len(os.listdir(os.path.join(root, 'data', splits['val'][0], 'origin')))

    out = tmp_path / 'report.json'
    code, stdout, _ = run_tool('check_dataset', [root, '--workers', '2', '--json', str(out)],
                               capsys)
    assert code == 1
    assert f'{len(broken)} problem(s)' in stdout
    assert json.loads(out.read_text())['problems'] == problems
    everything = table_row(stdout, 'all')
    assert everything['videos'] == '6'
    # VSPW labels every frame: a lost frame is a mask without its frame, not a missing reference
    assert [everything[k] for k in KINDS] == ['-', str(1 + unlabelled), '1', '3', '1', '5']

    main = tool_main('check_dataset')
    assert main([root, '--split', 'train', '--split', 'val', '--workers', '0']) == 1
    assert f'{len(broken) - 1} problem(s)' in capsys.readouterr().out


def test_every_cityscapes_problem_is_reported(tmp_path, capsys, synthetic_cityscapes):
    root = tmp_path / 'cityscapes'
    shutil.copytree(synthetic_cityscapes, root)

    def labelled(split, city):
        suffix = '_gtFine_labelIds.png'
        return sorted(n[:-len(suffix)] for n in os.listdir(root / 'gtFine' / split / city)
                      if n.endswith(suffix))

    def frame(split, name):
        city = name.split('_')[0]
        return str(root / 'leftImg8bit_sequence' / split / city / f'{name}_leftImg8bit.png')

    def label(split, name, kind='labelTrainIds'):
        return str(root / 'gtFine' / split / name.split('_')[0] / f'{name}_gtFine_{kind}.png')

    (a1, a2), (b1, b2) = labelled('train', 'alpha'), labelled('train', 'bravo')
    c1, c2 = labelled('val', 'charlie')
    missing = frame('train', a1[:-6] + '000010')  # a reference frame of a1's snippet
    os.remove(missing)
    empty = frame('train', b1[:-6] + '000005')
    open(empty, 'wb').close()
    bad = label('train', b2)
    Image.fromarray(np.full((64, 128), 30, np.uint8)).save(bad)  # trainId 30: not a class
    for kind in ('labelTrainIds', 'labelIds'):  # a2's snippet loses its label
        os.remove(label('train', a2, kind))
    os.remove(frame('val', c1))  # a labelled frame without its image
    os.remove(label('val', c2))  # labelIds only: not converted

    out = tmp_path / 'report.json'
    code, stdout, _ = run_tool('check_dataset', [str(root), '--workers', '2', '--json', str(out)],
                               capsys)
    assert code == 1
    found = {p['path']: p for p in json.loads(out.read_text())['problems']}
    a2_first, a2_last = (f'{a2[:-6]}{int(a2[-6:]) + d:06d}' for d in (-19, 10))
    expected = {
        missing: ('missing_reference',
                  f'reference frame {missing} is missing (snippet of labelled frame {a1})'),
        empty: ('unreadable', f'frame {empty} is empty (0 bytes)'),
        bad: ('label_values', f'mask {bad} holds values [30]; expected only 0..18 and 255'),
        frame('train', a2_first): ('frame_without_label', f'30 frame(s) {a2_first} .. {a2_last}'),
        label('val', c1): ('label_without_frame', f'label {label("val", c1)} has no frame'),
        label('val', c2, 'labelIds'): ('other', f'1 label(s) of {root / "gtFine" / "val"} have '
                                                f'only _gtFine_labelIds.png')}
    assert set(found) == set(expected)
    for path, (kind, words) in expected.items():
        assert found[path]['kind'] == kind and words in found[path]['problem'], found[path]
        assert words in stdout
    train, val = table_row(stdout, 'train'), table_row(stdout, 'val')
    assert [train[k] for k in ('snippets', 'frames', 'labelled')] == ['3', '119', '3']
    assert [train[k] for k in KINDS] == ['1', '30', '0', '1', '1', '0']
    assert [val[k] for k in ('snippets', 'frames', 'labelled')] == ['2', '59', '0']
    assert [val[k] for k in KINDS] == ['0', '0', '1', '0', '0', '1']
    assert 'checked 5 snippets and 178 frames of train, val in' in stdout


def test_a_clean_cityscapes_copy_and_config(synthetic_cityscapes, capsys):
    root = str(synthetic_cityscapes)
    code, stdout, _ = run_tool('check_dataset', [root, '--workers', '0'], capsys)
    assert code == 0 and 'checked 6 snippets and 180 frames of train, val in' in stdout
    assert table_row(stdout, 'all')['labelled'] == '6'
    config = 'local_configs/themask/1f_themask_mit_b0_cityscapes_synthetic.py'
    argv = ['--config', config, '--options', f'data_root={root}', '--workers', '0']
    code, stdout, _ = run_tool('check_dataset', argv, capsys)
    assert code == 0 and 'checked 6 snippets and 180 frames' in stdout  # train and val (= test)
