"""tools/quickstart.sh end to end (QUICK=1: the test on the first 4 val videos) with two iterations
per stage on a tiny generated dataset."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets import VSPW_PALETTE

pytestmark = pytest.mark.slow  # tools/quickstart.sh end to end

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = ('runner.max_iters=2 checkpoint_config.interval=2 data.workers_per_gpu=0 '
         'log_config.interval=1 model.decode_head.loss_cfg.train_num_points=256')


def test_quickstart_runs_every_step_and_writes_what_it_promises(tmp_path, synthetic_vspw):
    data, work = synthetic_vspw, tmp_path / 'quickstart'
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               WORK_DIR=str(work), DATA=str(data), OPTIONS=SMOKE, QUICK='1')
    res = subprocess.run(['bash', 'tools/quickstart.sh'], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # each step shows the VSPW command first, unchanged from the seed README
    for command in ('./tools/dist_train.sh local_configs/themask/1f_themask_mit_b5.py <GPU_NUM>',
                    'data.train.dataset.dilation="[-3]"', '--finetune-from /path/to/save_model_1f',
                    '--options data.test.test_size=2 --eval mIoU mVC'):
        assert command in res.stdout, command
    assert [json.loads(line)['iter'] for line in open(next((work / 'stage2').glob('*.log.json')))
            if json.loads(line).get('mode') == 'train'] == [1, 2]  # OPTIONS win over QUICK's 100
    assert '\033[' not in res.stdout  # no colour codes in a redirected log
    assert f'python tools/video_demo.py {work}/stage2/latest.pth YOUR_VIDEO.mp4' in res.stdout

    metrics = json.load(open(work / 'metrics.json'))
    assert metrics['test_size'] == 2 and 0 <= metrics['mIoU'] <= 1 and metrics['mVC8'] is not None
    assert f'mIoU {100 * metrics["mIoU"]:.2f}%' in res.stdout
    val = [line.strip() for line in open(data / 'val.txt')][:4]
    frames = sum(len(os.listdir(data / 'data' / video / 'origin')) for video in val)
    assert (len(list(work.glob('results/*/*.png'))) == frames
            == len(list(work.glob('overlays/*/*.jpg'))))
    assert (work / 'stage1_loss.png').is_file() and (work / 'stage2_loss.png').is_file()
    # montage: one row per val video (at most 3), 4 panels of 96x128 with 2-pixel borders
    montage = np.asarray(Image.open(work / 'montage.png'))
    assert montage.shape == (min(3, len(val)) * 100, 4 * 132, 3)
    # second panel of the first row: the first val video's first mask in VSPW colours, void black
    video = sorted(os.listdir(work / 'results'))[0]
    frame = sorted(os.listdir(work / 'results' / video))[0]
    raw = np.asarray(Image.open(data / 'data' / video / 'mask' / frame)).astype(np.int64)
    palette = np.zeros((256, 3), np.uint8)
    palette[:len(VSPW_PALETTE)] = VSPW_PALETTE
    expected = palette[np.where((raw == 0) | (raw == 255), 255, raw - 1)]
    assert np.array_equal(montage[2:98, 134:262], expected)
