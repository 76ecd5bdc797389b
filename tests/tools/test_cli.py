"""The command-line tools keep the original's flags and refuse bad overrides."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=ROOT)
TRAIN_FLAGS = ['--work-dir', '--load-from', '--finetune-from', '--resume-from', '--no-validate',
               '--gpu-ids', '--gpus', '--seed', '--deterministic', '--options', '--cfg-options',
               '--launcher', '--amp', '--compile']
TEST_FLAGS = ['--eval', '--format-only', '--show-dir', '--aug-test', '--out', '--eval-options',
              '--options', '--cfg-options', '--launcher', '--compile']


def run_tool(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.parametrize('tool,flags', [('tools/train.py', TRAIN_FLAGS), ('tools/test.py', TEST_FLAGS)])
def test_help_lists_every_flag(tool, flags):
    res = run_tool(tool, '--help')
    assert res.returncode == 0, res.stderr
    for flag in flags:
        assert flag in res.stdout, f'{flag} missing from {tool} --help'
    assert '{none,pytorch,slurm}' in res.stdout


def test_print_config_with_seed_readme_overrides():
    res = run_tool('tools/print_config.py', 'local_configs/themask/video_themask_mit_b5.py', '--options',
                   'model.decode_head.transformer_decoder_cfg.num_frames=2',
                   'data.train.dataset.dilation=[-3]', 'runner.max_iters=12000',
                   'checkpoint_config.interval=500')
    assert res.returncode == 0, res.stderr
    text = res.stdout.replace(' ', '').replace('\n', '')
    assert 'num_frames=2,' in text
    assert 'dilation=[-3,]' in text or 'dilation=[-3]' in text
    assert 'max_iters=12000' in text and 'interval=500' in text


def test_print_config_refuses_a_misspelled_key():
    res = run_tool('tools/print_config.py', 'local_configs/themask/1f_themask_mit_b1.py',
                   '--options', 'runner.max_iter=5')
    assert res.returncode != 0
    assert 'runner.max_iters' in res.stderr
