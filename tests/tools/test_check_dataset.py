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

    out = tmp_path / 'report.json'
    code, stdout, _ = run_tool('check_dataset', [root, '--workers', '2', '--json', str(out)], capsys)
    assert code == 1
    assert f'{len(broken)} problem(s)' in stdout
    assert json.loads(out.read_text())['problems'] == problems

    main = tool_main('check_dataset')
    assert main([root, '--split', 'train', '--split', 'val', '--workers', '0']) == 1
    assert f'{len(broken) - 1} problem(s)' in capsys.readouterr().out
