"""tools/make_synthetic_vspw.py: deterministic, VSPW layout, passes the dataset check."""
import hashlib
import json
import os
import runpy
import subprocess
import sys

import numpy as np
from PIL import Image

from mmseg.datasets.dataset_check import scan_dataset
from mmseg.datasets.synthetic_vspw import SYNTHETIC_CLASSES, make_synthetic_vspw
from mmseg.datasets.vspw import list_video, read_split

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def digest(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return files


def test_cli_output_is_deterministic_and_valid(tmp_path):
    args = ['--videos', '8', '--size', '48x64', '--frames', '8-20', '--seed', '3']
    res = subprocess.run([sys.executable, 'tools/make_synthetic_vspw.py', '--out',
                          str(tmp_path / 'a'), *args], cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    main = runpy.run_path(os.path.join(ROOT, 'tools', 'make_synthetic_vspw.py'))['main']
    assert main(['--out', str(tmp_path / 'b'), *args]) == 0
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    root = str(tmp_path / 'a')
    problems, counts = scan_dataset(root, workers=0, progress=False)
    assert problems == [] and counts['videos'] == 8
    splits = {s: read_split(root, s) for s in ('train', 'val', 'test')}
    assert [len(v) for v in splits.values()] == [5, 2, 1]
    lengths = [len(list_video(root, v)) for v in splits['val']]
    assert lengths == [8, 20]  # one video VC skips, one it scores
    assert not os.path.isdir(os.path.join(root, 'data', splits['test'][0], 'mask'))
    values = set()
    for video in splits['train'] + splits['val']:
        mask_dir = os.path.join(root, 'data', video, 'mask')
        for name in os.listdir(mask_dir):
            mask = Image.open(os.path.join(mask_dir, name))
            assert mask.mode == 'P' and mask.size == (64, 48)
            values |= set(np.unique(np.array(mask)).tolist())
    assert values == set(SYNTHETIC_CLASSES) | {0, 255}
    frame = Image.open(os.path.join(root, 'data', splits['train'][0], 'origin',
                                    sorted(os.listdir(os.path.join(root, 'data', splits['train'][0],
                                                                   'origin')))[0]))
    assert frame.format == 'JPEG' and frame.size == (64, 48)


def test_seed_and_index_decide_a_video(tmp_path):
    make_synthetic_vspw(str(tmp_path / 'a'), videos=3, size=(32, 32), frames=(2, 3), seed=0)
    make_synthetic_vspw(str(tmp_path / 'b'), videos=3, size=(32, 32), frames=(2, 3), seed=1)
    assert read_split(str(tmp_path / 'a'), 'train') != read_split(str(tmp_path / 'b'), 'train')


def test_benchmark_tool_runs_on_a_small_set(tmp_path, capsys):
    make_synthetic_vspw(str(tmp_path / 'data'), videos=4, size=(48, 64), frames=(17, 18))
    main = runpy.run_path(os.path.join(ROOT, 'tools', 'benchmark_data.py'))['main']
    out = tmp_path / 'bench.json'
    assert main(['--data', str(tmp_path / 'data'), '--workers', '0', '--batches', '1', '--json',
                 str(out)]) == 0
    rows = json.loads(out.read_text())['results']
    assert [r['unit'] for r in rows] == ['clips/s', 'frames/s'] and all(r['rate'] > 0 for r in rows)
    assert 'evaluation mIoU+mVC (17 frames 48x64)' in capsys.readouterr().out
