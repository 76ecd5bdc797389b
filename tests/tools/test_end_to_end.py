"""The command-line tools end to end on a tiny generated dataset (CPU).

Stage 1 training with checkpoints and an exact resume, stage-2 finetuning with ``--finetune-from``,
testing with clips of 1 and 2 frames, VSPW-format results and overlays (the tools run in this
process, see ``tool_runs``); then the seed README's three commands through ``tools/dist_train.sh`` /
``tools/dist_test.sh`` (torchrun, gloo), testing once with one process and once with two, whose
metrics must equal a one-process test of the same checkpoint.
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg.utils.config import load_config
from tool_runs import run_tool

pytestmark = pytest.mark.slow  # training and testing end to end through the tools and torchrun

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = 'local_configs/themask/1f_themask_mit_b0_synthetic.py'
STAGE2 = 'local_configs/themask/video_themask_mit_b0_synthetic.py'
SEED_README_STAGE2 = ['model.decode_head.transformer_decoder_cfg.num_frames=2',
                      'data.train.dataset.dilation=[-3]', 'runner.max_iters=12000',
                      'checkpoint_config.interval=500']


def run(*args, env=None, check=True):
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PYTHON=sys.executable,
                    **(env or {}))
    res = subprocess.run(list(args), cwd=ROOT, env=full_env, capture_output=True, text=True,
                         timeout=600)
    if check and res.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n'
                             f'{res.stderr[-5000:]}')
    return res


@pytest.fixture(scope='module')
def tiny(tmp_path_factory, synthetic_vspw):
    """The session's synthetic dataset and the overrides that make the synthetic configs train in
    seconds."""
    root = tmp_path_factory.mktemp('e2e')
    data = synthetic_vspw
    options = [f'data.train.dataset.data_root={data}', f'data.val.data_root={data}',
               f'data.test.data_root={data}', 'data.workers_per_gpu=0',
               'model.decode_head.loss_cfg.train_num_points=256',
               'log_config.interval=1', 'model.decode_head.loss_cfg.warmup_iters=2']
    return root, data, options


def state(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def here(tool, *argv, capsys):
    """``tools/<tool>.py argv`` in this process; its stderr (log lines included)."""
    code, _, err = run_tool(tool, argv, capsys)
    assert code == 0, err[-5000:]
    return err


def test_train_resume_finetune_test_and_format(tiny, capsys):
    root, data, options = tiny
    stage1 = root / 'stage1'
    code, out, err = run_tool('train', [STAGE1, '--work-dir', str(stage1), '--seed', '0',
                                        '--deterministic', '--no-validate', '--options', *options,
                                        'runner.max_iters=4', 'checkpoint_config.interval=2'],
                              capsys)
    assert code == 0, err[-5000:]
    # a quiet console: the config and the environment go to the log file, the console says where
    before_first_iteration = (out + err).split('Iter [1/4]')[0].splitlines()
    assert len(before_first_iteration) <= 40, '\n'.join(before_first_iteration)
    assert 'as run: ' in err and 'train_pipeline' not in err
    log_text = open(glob.glob(str(stage1 / '*.log'))[0]).read()
    assert 'train_pipeline' in log_text and 'environment:' in log_text
    assert 'hooks (in call order): CheckpointHook(every 2 it), TextLoggerHook(every 1 it)' in err
    assert {'iter_2.pth', 'iter_4.pth', 'latest.pth'} <= set(os.listdir(stage1))
    assert os.path.realpath(stage1 / 'latest.pth') == str((stage1 / 'iter_4.pth').resolve())
    log = [json.loads(line) for line in open(glob.glob(str(stage1 / '*.log.json'))[0])]
    assert [r['iter'] for r in log if r.get('mode') == 'train'] == [1, 2, 3, 4]
    # the config as run, stored beside the checkpoints and in them
    copy = stage1 / os.path.basename(STAGE1)
    assert load_config(str(copy)).runner.max_iters == 4
    assert (torch.load(stage1 / 'iter_4.pth', weights_only=True)['meta']['config']
            == copy.read_text())

    # resuming at iteration 2 reproduces iteration 4 exactly
    resumed = root / 'resumed'
    here('train', STAGE1, '--work-dir', str(resumed), '--seed', '0', '--deterministic',
         '--no-validate', '--resume-from', str(stage1 / 'iter_2.pth'), '--options', *options,
         'runner.max_iters=4', 'checkpoint_config.interval=2', capsys=capsys)
    straight, again = state(stage1 / 'iter_4.pth'), state(resumed / 'iter_4.pth')
    assert straight.keys() == again.keys()
    for key in straight:
        assert torch.equal(straight[key], again[key]), key

    # stage 2 from stage 1: only the predictor trains
    stage2 = root / 'stage2'
    err = here('train', STAGE2, '--work-dir', str(stage2), '--seed', '0', '--no-validate',
               '--finetune-from', str(stage1 / 'latest.pth'), '--options', *options,
               *SEED_README_STAGE2, 'runner.max_iters=2', 'checkpoint_config.interval=2',
               capsys=capsys)
    assert 'decode_head.predictor.temporal_layer' in err  # reported as missing (fresh init)
    before, after = state(stage1 / 'latest.pth'), state(stage2 / 'latest.pth')
    assert torch.equal(before['backbone.block1.0.attn.q.weight'],
                       after['backbone.block1.0.attn.q.weight'])
    assert torch.equal(before['decode_head.pixel_decoder.mask_features.weight'],
                       after['decode_head.pixel_decoder.mask_features.weight'])
    assert not torch.equal(before['decode_head.predictor.class_embed.weight'],
                           after['decode_head.predictor.class_embed.weight'])

    frames = sum(len(os.listdir(data / 'data' / v.strip() / 'origin'))
                 for v in open(data / 'val.txt'))
    for test_size in (1, 2):
        out = root / f'metrics_{test_size}.json'
        here('test', STAGE2, str(stage2 / 'latest.pth'), '--eval', 'mIoU', 'mVC', '--out', str(out),
             '--options', *options, f'data.test.test_size={test_size}', capsys=capsys)
        metrics = json.load(open(out))
        assert metrics['num_frames'] == frames and metrics['test_size'] == test_size
        assert 0 <= metrics['mIoU'] <= 1 and 0 <= metrics['aAcc'] <= 1
        # one val video has > 16 frames
        assert metrics['mVC8'] is not None and 0 <= metrics['mVC8'] <= 1
        assert len(metrics['IoU']) == 124

    results = root / 'results'
    here('test', STAGE2, str(stage2 / 'latest.pth'), '--format-only', '--eval-options',
         f'imgfile_prefix={results}', '--show-dir', str(root / 'show'), '--options', *options,
         'data.test.test_size=2', capsys=capsys)
    pngs = glob.glob(str(results / '*' / '*.png'))
    assert len(pngs) == frames and len(glob.glob(str(root / 'show' / '*' / '*.jpg'))) == frames
    image = Image.open(pngs[0])
    assert image.mode == 'P' and np.asarray(image).max() < 124


def test_seed_readme_commands_with_torchrun_and_two_processes(tiny, capsys):
    """The seed README's stage-1, stage-2 and test commands, unchanged, plus tiny iteration counts.

    Training with two processes is checked in test_multinode.py (against two nodes).
    """
    root, data, options = tiny
    tiny_run = ['runner.max_iters=2', 'checkpoint_config.interval=2']
    env = dict(PORT='29651')
    run('bash', 'tools/dist_train.sh', STAGE1, '1', '--work-dir', str(root / 'save_model_1f'),
        '--options', *options, *tiny_run, env=env)
    run('bash', 'tools/dist_train.sh', STAGE2, '1', '--work-dir', str(root / 'save_model'),
        '--options', *SEED_README_STAGE2, '--finetune-from', str(root / 'save_model_1f'),
        '--options', *options, *tiny_run, env=env)
    checkpoint = str(root / 'save_model' / 'latest.pth')
    # the original README's test command as written (no --eval): mIoU is evaluated and printed
    res = run('bash', 'tools/dist_test.sh', STAGE2, checkpoint, '1', '--options',
              'data.test.test_size=2', *options, env=env)
    summary = (res.stdout + res.stderr).split('Summary:')[-1]
    assert 'mIoU' in summary and 'mVC8' not in summary
    # two processes give the metrics of one (here in this process, with one thread as
    # torchrun's workers)
    two = root / 'two.json'
    run('bash', 'tools/dist_test.sh', STAGE2, checkpoint, '2', '--options', 'data.test.test_size=2',
        '--eval', 'mIoU', 'mVC', '--out', str(two), '--options', *options, env=dict(PORT='29653'))
    one = root / 'one.json'
    code, _, err = run_tool('test', [STAGE2, checkpoint, '--options', 'data.test.test_size=2',
                                     '--eval', 'mIoU', 'mVC', '--out', str(one), '--options',
                                     *options], capsys, threads=1)
    assert code == 0, err[-3000:]
    a, b = json.load(open(one)), json.load(open(two))
    for key in ('aAcc', 'mIoU', 'mIoU_present', 'mAcc', 'mDice', 'num_frames'):
        assert a[key] == b[key], key
    for key in ('mVC8', 'mVC16'):
        assert a[key] == pytest.approx(b[key], abs=1e-12)
    assert a['IoU'] == b['IoU']
