"""Crash safety and exact resume under SIGKILL, refusal of unsafe checkpoints through every entry
point, clear errors for bad configs before training starts, and the non-finite-loss guard.

Faults are injected with ``custom_imports`` / ``custom_hooks`` (the module below), as a user would
add their own hooks.
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

pytestmark = pytest.mark.slow  # training subprocesses, SIGKILL and resume

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
    options = [f'data.train.dataset.data_root={data}', f'data.val.data_root={data}', f'data.test.data_root={data}',
               'data.workers_per_gpu=0', 'model.decode_head.loss_cfg.train_num_points=64', 'log_config.interval=1',
               f'runner.max_iters={MAX_ITERS}', 'checkpoint_config.interval=2']
    return root, options


def config_with(root, name, text):
    path = root / f'{name}.py'
    path.write_text(f'_base_ = [{STAGE1!r}]\ncustom_imports = dict(imports=["fault_hooks"])\n{text}\n')
    return str(path)


def train_cmd(config, work_dir, options, *extra):
    return [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir), '--seed', '0', '--deterministic',
            '--no-validate', *extra, '--options', *options]


def run(cmd, root, check=True):
    env = dict(os.environ, PYTHONPATH=f'{ROOT}:{root}', OMP_NUM_THREADS='1')
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check and res.returncode != 0:
        raise AssertionError(f'{cmd} failed:\n{res.stderr[-4000:]}')
    return res


def start(cmd, root):
    env = dict(os.environ, PYTHONPATH=f'{ROOT}:{root}', OMP_NUM_THREADS='1')
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
    iters = [json.loads(line).get('iter', 0) for line in open(logs[0]) if line.strip().endswith('}')]
    return max(iters, default=0)


@pytest.fixture(scope='module')
def uninterrupted(setup):
    root, options = setup
    work = root / 'straight'
    run(train_cmd(STAGE1, work, options), root)
    return weights(work / f'iter_{MAX_ITERS}.pth')


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def resume_and_finish(root, work, options):
    latest = work / 'latest.pth'
    weights(latest)  # loadable
    run(train_cmd(STAGE1, work, options, '--resume-from', str(latest)), root)
    return weights(work / f'iter_{MAX_ITERS}.pth')


def test_sigkill_between_iterations_then_resume_is_exact(setup, uninterrupted):
    root, options = setup
    work = root / 'killed_between'
    proc = start(train_cmd(STAGE1, work, options), root)
    wait_for(lambda: logged_iterations(work) >= 3, proc, 'iteration 3')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.realpath(work / 'latest.pth').endswith('iter_2.pth') or \
        os.path.realpath(work / 'latest.pth').endswith('iter_4.pth')
    assert_same_weights(resume_and_finish(root, work, options), uninterrupted)


def test_sigkill_during_a_checkpoint_write_then_resume_is_exact(setup, uninterrupted):
    root, options = setup
    work = root / 'killed_writing'
    marker = root / 'writing_iter_4'
    config = config_with(root, 'slow_write',
                         f'custom_hooks = [dict(type="SlowCheckpointWrite", at_iter=4, marker={str(marker)!r})]')
    proc = start(train_cmd(config, work, options), root)
    wait_for(marker.exists, proc, 'the write of iter_4.pth')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert glob.glob(str(work / '.iter_4.pth.tmp'))  # the half-written file is there...
    assert not (work / 'iter_4.pth').exists()  # ...but never under the real name
    assert os.path.realpath(work / 'latest.pth') == str((work / 'iter_2.pth').resolve())
    assert_same_weights(resume_and_finish(root, work, options), uninterrupted)


def test_nonfinite_loss_stops_naming_the_iteration_and_keeps_the_checkpoints(setup):
    root, options = setup
    work = root / 'nan'
    config = config_with(root, 'nan', 'custom_hooks = [dict(type="NaNAtIteration", at_iter=3)]')
    res = run(train_cmd(config, work, options), root, check=False)
    assert res.returncode == 1
    message = res.stderr.strip().splitlines()[-1]
    assert message.startswith('error:') and 'iteration 3' in message and 'decode.loss_ce' in message
    assert not (work / 'iter_4.pth').exists()
    assert os.path.realpath(work / 'latest.pth') == str((work / 'iter_2.pth').resolve())
    before = (work / 'iter_2.pth').read_bytes()
    weights(work / 'latest.pth')
    assert (work / 'iter_2.pth').read_bytes() == before


def test_unsafe_checkpoints_are_refused_by_every_entry_point(setup):
    root, options = setup
    marker = root / 'pwned'
    evil = root / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': Evil(str(marker))}, evil)
    work = root / 'unsafe'
    commands = {
        '--load-from': train_cmd(STAGE1, work, options, '--load-from', str(evil)),
        '--resume-from': train_cmd(STAGE1, work, options, '--resume-from', str(evil)),
        '--finetune-from': train_cmd(STAGE2, work, options, '--finetune-from', str(evil)),
        'tools/test.py': [sys.executable, 'tools/test.py', STAGE1, str(evil), '--eval', 'mIoU', '--options',
                          *options],
        'model.pretrained': [sys.executable, 'tools/train.py', STAGE1, '--work-dir', str(work), '--options',
                             *options, f'model.pretrained={evil}'],
    }
    for entry, cmd in commands.items():
        res = run(cmd, root, check=False)
        assert res.returncode == 1, entry
        assert 'refusing to load' in res.stderr and 'convert_checkpoint.py' in res.stderr, (entry, res.stderr[-2000:])
        assert not marker.exists(), f'{entry} unpickled the checkpoint'
    assert not glob.glob(str(work / '*.pth'))


@pytest.mark.parametrize('case,extra,expected', [
    ('unknown type', ['--options', 'model.backbone.type=mit_b9'], "unknown backbone type 'mit_b9'"),
    ('misspelled key', ['--options', 'runner.max_iter=5'], 'Did you mean runner.max_iters'),
    ('wrong type', ['--options', 'data.test.test_size=two'], 'data.test.test_size'),
    ('missing pretrained', ['--options', 'model.pretrained=nowhere/mit_b0.pth'], 'nowhere/mit_b0.pth'),
    ('missing finetune', ['--finetune-from', 'nowhere/stage1.pth'], "--finetune-from 'nowhere/stage1.pth'"),
    ('missing resume', ['--resume-from', 'nowhere/latest.pth'], "'nowhere/latest.pth' does not exist"),
])
def test_bad_configs_fail_before_training_and_touch_no_checkpoint(setup, case, extra, expected):
    root, options = setup
    work = root / 'existing_run'
    work.mkdir(exist_ok=True)
    (work / 'iter_2.pth').write_bytes(b'previous checkpoint')
    res = run([sys.executable, 'tools/train.py', STAGE1, '--work-dir', str(work), '--options', *options] + extra,
              root, check=False)
    assert res.returncode != 0, case
    assert expected in res.stderr, (case, res.stderr[-2000:])
    assert 'Traceback' not in res.stderr, case
    assert (work / 'iter_2.pth').read_bytes() == b'previous checkpoint'
    assert not glob.glob(str(work / '*.log.json')), f'{case}: training started'


def test_unwritable_work_dir_is_refused(setup):
    root, options = setup
    blocker = root / 'a_file'
    blocker.write_text('not a folder')
    res = run([sys.executable, 'tools/train.py', STAGE1, '--work-dir', str(blocker / 'run'), '--options',
               *options], root, check=False)
    assert res.returncode != 0
    assert '--work-dir / work_dir' in res.stderr and 'cannot be written' in res.stderr and str(blocker / 'run') in res.stderr
