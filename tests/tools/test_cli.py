"""The command-line tools keep the original's flags and refuse bad overrides (run in this
process)."""
import pytest

from tool_runs import ROOT, run_tool

TRAIN_FLAGS = ['--work-dir', '--load-from', '--finetune-from', '--resume-from', '--no-validate',
               '--gpu-ids', '--gpus', '--seed', '--deterministic', '--options', '--cfg-options',
               '--launcher', '--amp', '--compile']
TEST_FLAGS = ['--eval', '--format-only', '--show-dir', '--aug-test', '--out', '--eval-options',
              '--options', '--cfg-options', '--launcher', '--compile']


@pytest.mark.parametrize('tool,flags', [('train', TRAIN_FLAGS), ('test', TEST_FLAGS)])
def test_help_lists_every_flag(tool, flags, capsys):
    code, out, err = run_tool(tool, ['--help'], capsys)
    assert code == 0, err
    for flag in flags:
        assert flag in out, f'{flag} missing from tools/{tool}.py --help'
    assert '{none,pytorch,slurm}' in out


def test_print_config_with_seed_readme_overrides(capsys):
    code, out, err = run_tool('print_config', [
        f'{ROOT}/local_configs/themask/video_themask_mit_b5.py', '--options',
        'model.decode_head.transformer_decoder_cfg.num_frames=2',
        'data.train.dataset.dilation=[-3]', 'runner.max_iters=12000',
        'checkpoint_config.interval=500'], capsys)
    assert code == 0, err
    text = out.replace(' ', '').replace('\n', '')
    assert 'num_frames=2,' in text
    assert 'dilation=[-3,]' in text or 'dilation=[-3]' in text
    assert 'max_iters=12000' in text and 'interval=500' in text


def test_print_config_refuses_a_misspelled_key(capsys):
    code, _, err = run_tool('print_config', [f'{ROOT}/local_configs/themask/1f_themask_mit_b1.py',
                                             '--options', 'runner.max_iter=5'], capsys)
    assert code == 1
    assert 'runner.max_iters' in err
