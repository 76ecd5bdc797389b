"""Crash safety and exact resume under SIGKILL, refusal of unsafe checkpoints through every entry
point, clear errors for bad configs before training starts, and the non-finite-loss guard.

Faults are injected with ``custom_imports`` / ``custom_hooks`` (the module below), as a user would
add their own hooks. Runs that are killed are subprocesses; the others run the tool in this process
(``tool_runs``) with one thread, as the subprocesses do, so that their weights compare bitwise.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tool_runs import run_tool

pytestmark = pytest.mark.slow  # training runs, SIGKILLed subprocesses and resumes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')
STAGE2 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
MAX_ITERS = 6

FAULT_HOOKS = '''
import io, os, time
import torch
import mmseg.utils.checkpoint as checkpoint
from mmseg.core.runner import HOOKS, Hook
from mmseg.utils.dist_utils import unwrap_model


@HOOKS.register_module()
class SlowCheckpointWrite(Hook):
    """The write of iter_{at_iter}.pth stops halfway (bytes on disk), touches ``marker``, sleeps."""

    def __init__(self, at_iter, marker):
        save = torch.save

        def slow_save(obj, f, *args, **kwargs):
            if isinstance(f, str) or not f.name.endswith(f'.iter_{at_iter}.pth.tmp'):
                return save(obj, f, *args, **kwargs)
            buffer = io.BytesIO()
            save(obj, buffer, *args, **kwargs)
            data = buffer.getvalue()
            f.write(data[:len(data) // 2])
            f.flush()
            open(marker, 'w').close()
            time.sleep(120)
            f.write(data[len(data) // 2:])

        checkpoint.torch.save = slow_save


@HOOKS.register_module()
class NaNAtIteration(Hook):
    """Poisons a classifier bias before iteration ``at_iter``, so the class losses become NaN."""

    def __init__(self, at_iter):
        self.at_iter = at_iter

    def before_train_iter(self, runner):
        if runner.iter == self.at_iter:
            with torch.no_grad():
                unwrap_model(runner.model).decode_head.predictor.class_embed.bias.fill_(float('nan'))
'''


class Evil:
    """Unpickling this creates a file: what a malicious checkpoint could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture(scope='module')
def setup(tmp_path_factory, synthetic_vspw):
    root = tmp_path_factory.mktemp('reliability')
    data = synthetic_vspw
    (root / 'fault_hooks.py').write_text(FAULT_HOOKS)
    options = [f'data.train.dataset.data_root={data}', f'data.val.data_root={data}',
               f'data.test.data_root={data}', 'data.workers_per_gpu=0',
               'model.decode_head.loss_cfg.train_num_points=64', 'log_config.interval=1',
               f'runner.max_iters={MAX_ITERS}', 'checkpoint_config.interval=2']
    return root, options


def config_with(root, name, text):
    path = root / f'{name}.py'
    path.write_text(f'_base_ = [{STAGE1!r}]\ncustom_imports = dict(imports=["fault_hooks"])\n'
                    f'{text}\n')
    return str(path)


def train_args(config, work_dir, options, *extra):
    return [config, '--work-dir', str(work_dir), '--seed', '0', '--deterministic', '--no-validate',
            *extra, '--options', *options]


@pytest.fixture
def run(setup, capsys, monkeypatch):
    """``run(tool, argv, check=True) -> (exit status, stderr)``: the tool in this process, one
    thread."""
    monkeypatch.syspath_prepend(str(setup[0]))  # custom_imports = ['fault_hooks']

    def run_here(tool, argv, check=True):
        code, _, err = run_tool(tool, argv, capsys, threads=1)
        if check and code != 0:
            raise AssertionError(f'{tool} {argv} failed:\n{err[-4000:]}')
        return code, err
    return run_here


def start(argv, root):
    """tools/train.py ``argv`` in a subprocess (to be killed)."""
    env = dict(os.environ, PYTHONPATH=f'{ROOT}:{root}', OMP_NUM_THREADS='1')
    return subprocess.Popen([sys.executable, 'tools/train.py', *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def wait_for(condition, proc, what, timeout=300):
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f'training ended before {what}'
        assert time.time() < deadline, f'timed out waiting for {what}'
        time.sleep(0.02)


def logged_iterations(work_dir):
    logs = glob.glob(str(work_dir / '*.log.json'))
    if not logs:
        return 0
    iters = [json.loads(line).get('iter', 0) for line in open(logs[0])
             if line.strip().endswith('}')]
    return max(iters, default=0)


@pytest.fixture
def uninterrupted(setup, run):
    root, options = setup
    work = root / 'straight'
    if not (work / f'iter_{MAX_ITERS}.pth').exists():  # made once, by the first test that needs it
        run('train', train_args(STAGE1, work, options))
    return weights(work / f'iter_{MAX_ITERS}.pth')


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def resume_and_finish(run, work, options):
    latest = work / 'latest.pth'
    weights(latest)  # loadable
    run('train', train_args(STAGE1, work, options, '--resume-from', str(latest)))
    return weights(work / f'iter_{MAX_ITERS}.pth')


def test_sigkill_between_iterations_then_resume_is_exact(setup, uninterrupted, run):
    root, options = setup
    work = root / 'killed_between'
    proc = start(train_args(STAGE1, work, options), root)
    wait_for(lambda: logged_iterations(work) >= 3, proc, 'iteration 3')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.realpath(work / 'latest.pth').endswith('iter_2.pth') or \
        os.path.realpath(work / 'latest.pth').endswith('iter_4.pth')
    assert_same_weights(resume_and_finish(run, work, options), uninterrupted)


def test_sigkill_during_a_checkpoint_write_then_resume_is_exact(setup, uninterrupted, run):
    root, options = setup
    work = root / 'killed_writing'
    marker = root / 'writing_iter_4'
    config = config_with(root, 'slow_write',
                         f'custom_hooks = [dict(type="SlowCheckpointWrite", at_iter=4, '
                         f'marker={str(marker)!r})]')
    proc = start(train_args(config, work, options), root)
    wait_for(marker.exists, proc, 'the write of iter_4.pth')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert glob.glob(str(work / '.iter_4.pth.tmp'))  # the half-written file is there...
    assert not (work / 'iter_4.pth').exists()  # ...but never under the real name
    assert os.path.realpath(work / 'latest.pth') == str((work / 'iter_2.pth').resolve())
    assert_same_weights(resume_and_finish(run, work, options), uninterrupted)


def test_nonfinite_loss_stops_naming_the_iteration_and_keeps_the_checkpoints(setup, run):
    root, options = setup
    work = root / 'nan'
    config = config_with(root, 'nan', 'custom_hooks = [dict(type="NaNAtIteration", at_iter=3)]')
    code, err = run('train', train_args(config, work, options), check=False)
    assert code == 1
    message = err.strip().splitlines()[-1]
    assert message.startswith('error:') and 'iteration 3' in message and 'decode.loss_ce' in message
    assert not (work / 'iter_4.pth').exists()
    assert os.path.realpath(work / 'latest.pth') == str((work / 'iter_2.pth').resolve())
    before = (work / 'iter_2.pth').read_bytes()
    weights(work / 'latest.pth')
    assert (work / 'iter_2.pth').read_bytes() == before


def test_unsafe_checkpoints_are_refused_by_every_entry_point(setup, run):
    root, options = setup
    marker = root / 'pwned'
    evil = root / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': Evil(str(marker))}, evil)
    work = root / 'unsafe'
    commands = {
        '--load-from': ('train', train_args(STAGE1, work, options, '--load-from', str(evil))),
        '--resume-from': ('train', train_args(STAGE1, work, options, '--resume-from', str(evil))),
        '--finetune-from': ('train', train_args(STAGE2, work, options, '--finetune-from',
                                                str(evil))),
        'tools/test.py': ('test', [STAGE1, str(evil), '--eval', 'mIoU', '--options', *options]),
        'model.pretrained': ('train', [STAGE1, '--work-dir', str(work), '--options', *options,
                                       f'model.pretrained={evil}']),
    }
    for entry, (tool, argv) in commands.items():
        code, err = run(tool, argv, check=False)
        assert code == 1, entry
        assert 'refusing to load' in err and 'convert_checkpoint.py' in err, (entry, err[-2000:])
        assert not marker.exists(), f'{entry} unpickled the checkpoint'
    assert not glob.glob(str(work / '*.pth'))


@pytest.mark.parametrize('case,extra,expected', [
    ('unknown type', ['--options', 'model.backbone.type=mit_b9'], "unknown backbone type 'mit_b9'"),
    ('misspelled key', ['--options', 'runner.max_iter=5'], 'Did you mean runner.max_iters'),
    ('wrong type', ['--options', 'data.test.test_size=two'], 'data.test.test_size'),
    ('missing pretrained', ['--options', 'model.pretrained=nowhere/mit_b0.pth'],
     'nowhere/mit_b0.pth'),
    ('missing finetune', ['--finetune-from', 'nowhere/stage1.pth'],
     "--finetune-from 'nowhere/stage1.pth'"),
    ('missing resume', ['--resume-from', 'nowhere/latest.pth'],
     "'nowhere/latest.pth' does not exist"),
])
def test_bad_configs_fail_before_training_and_touch_no_checkpoint(setup, run, case, extra,
                                                                  expected):
    root, options = setup
    work = root / 'existing_run'
    work.mkdir(exist_ok=True)
    (work / 'iter_2.pth').write_bytes(b'previous checkpoint')
    code, err = run('train', [STAGE1, '--work-dir', str(work), '--options', *options] + extra,
                    check=False)
    assert code != 0, case
    assert expected in err, (case, err[-2000:])  # a traceback would have raised
    assert (work / 'iter_2.pth').read_bytes() == b'previous checkpoint'
    assert not glob.glob(str(work / '*.log.json')), f'{case}: training started'


def test_unwritable_work_dir_is_refused(setup, run):
    root, options = setup
    blocker = root / 'a_file'
    blocker.write_text('not a folder')
    code, err = run('train', [STAGE1, '--work-dir', str(blocker / 'run'), '--options', *options],
                    check=False)
    assert code != 0
    assert ('--work-dir / work_dir' in err and 'cannot be written' in err
            and str(blocker / 'run') in err)
