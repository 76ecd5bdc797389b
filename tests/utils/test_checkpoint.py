"""Checkpoints: atomic saving, latest.pth after crashes, safe loading, key handling, fine-tuning."""
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections import OrderedDict

import numpy as np
import pytest
import torch

from mmseg.core.runner.checkpoint import finetune_from, remove_stale_temporaries
from mmseg.utils import checkpoint as ckpt_mod
from mmseg.utils.checkpoint import (
    CheckpointError,
    UnsafeCheckpointError,
    convert_trusted_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    summarize_keys,
)
from runner_toy import ToySegmentor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def state(value):
    return {'meta': {'iter': value}, 'state_dict': {'w': torch.full((3,), float(value))}}


def latest_iter(directory):
    return read_checkpoint(os.path.join(directory, 'latest.pth'))['meta']['iter']


def test_save_writes_plain_content_and_points_latest(tmp_path):
    numpy_meta = {'lr': np.float64(0.5), 'name': np.str_('b1'), 'steps': np.arange(2),
                  'tags': np.array(['x'])}
    save_checkpoint(dict(state(1), extra=numpy_meta), str(tmp_path / 'iter_1.pth'))
    extra = read_checkpoint(str(tmp_path / 'iter_1.pth'))['extra']  # loads with weights_only=True
    assert type(extra['lr']) is float and type(extra['name']) is str and extra['tags'] == ['x']
    assert torch.equal(extra['steps'], torch.arange(2))
    save_checkpoint(state(2), str(tmp_path / 'iter_2.pth'))
    assert os.readlink(tmp_path / 'latest.pth') == 'iter_2.pth'  # relative: the folder can move
    assert latest_iter(tmp_path) == 2
    assert sorted(os.listdir(tmp_path)) == ['iter_1.pth', 'iter_2.pth', 'latest.pth']
    with pytest.raises(TypeError, match=r"meta\.bad \(.*Path\)"):
        save_checkpoint({'meta': {'bad': tmp_path}}, str(tmp_path / 'iter_3.pth'))
    assert not os.path.exists(tmp_path / 'iter_3.pth')


def test_crash_inside_the_write_keeps_latest_on_the_previous_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(state(1), str(tmp_path / 'iter_1.pth'))

    def crash_midway(obj, handle):
        handle.write(b'PK\x03\x04 half a checkpoint')
        raise OSError('disk full (simulated)')

    monkeypatch.setattr(torch, 'save', crash_midway)
    with pytest.raises(CheckpointError, match='simulated'):  # an OSError becomes one clear line
        save_checkpoint(state(2), str(tmp_path / 'iter_2.pth'))
    monkeypatch.undo()
    assert latest_iter(tmp_path) == 1
    assert not os.path.exists(tmp_path / 'iter_2.pth')
    # the failed write removed its temporary file
    assert remove_stale_temporaries(str(tmp_path)) == []


def test_crash_between_the_write_and_the_latest_update(tmp_path, monkeypatch):
    save_checkpoint(state(1), str(tmp_path / 'iter_1.pth'))
    monkeypatch.setattr(ckpt_mod, '_point_latest',
                        lambda path: (_ for _ in ()).throw(OSError('killed')))
    with pytest.raises(OSError):
        save_checkpoint(state(2), str(tmp_path / 'iter_2.pth'))
    assert latest_iter(tmp_path) == 1
    assert read_checkpoint(str(tmp_path / 'iter_2.pth'))['meta']['iter'] == 2  # complete on its own


def test_without_symlinks_latest_is_an_atomic_copy(tmp_path, monkeypatch):
    def no_symlinks(*args):
        raise OSError('symlinks not permitted')

    monkeypatch.setattr(os, 'symlink', no_symlinks)
    save_checkpoint(state(1), str(tmp_path / 'iter_1.pth'))
    save_checkpoint(state(2), str(tmp_path / 'iter_2.pth'))
    assert not os.path.islink(tmp_path / 'latest.pth')
    assert latest_iter(tmp_path) == 2
    assert sorted(os.listdir(tmp_path)) == ['iter_1.pth', 'iter_2.pth', 'latest.pth']


KILLED_WRITER = r'''
import os, sys, time, torch
from mmseg.utils.checkpoint import save_checkpoint
out = sys.argv[1]
save_checkpoint({'meta': {'iter': 1}, 'state_dict': {'w': torch.ones(1000)}},
                os.path.join(out, 'iter_1.pth'))
real_save = torch.save
def slow_save(obj, handle):
    handle.write(b'PK\x03\x04')
    handle.flush()
    open(os.path.join(out, 'writing'), 'w').close()
    time.sleep(60)  # killed here
torch.save = slow_save
save_checkpoint({'meta': {'iter': 2}, 'state_dict': {'w': torch.ones(1000)}},
                os.path.join(out, 'iter_2.pth'))
'''


def test_process_killed_mid_write_leaves_a_loadable_latest(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, str(tmp_path)], env=env)
    try:
        deadline = time.time() + 60
        while not os.path.exists(tmp_path / 'writing'):
            assert proc.poll() is None and time.time() < deadline, \
                'the writer did not reach the write'
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert latest_iter(tmp_path) == 1
    assert not os.path.exists(tmp_path / 'iter_2.pth')


# ----------------------------------------------------------------------------- safe loading


class CreatesAFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def malicious(tmp_path):
    target = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': ToySegmentor().state_dict(),
                'meta': {'x': CreatesAFile(str(target))}}, path)
    assert not target.exists()
    return str(path), target


def test_a_checkpoint_that_would_run_code_is_refused_everywhere(malicious, tmp_path):
    from mmseg.core.runner import IterBasedRunner, build_optimizer
    path, target = malicious
    model = ToySegmentor()
    runner = IterBasedRunner(model=model,
                             optimizer=build_optimizer(model, dict(type='SGD', lr=0.1)),
                             max_iters=1, work_dir=str(tmp_path / 'work'))
    attempts = [lambda: load_checkpoint(model, path, source='--load-from'),
                lambda: finetune_from(model, path, trainable_patterns=['predictor']),
                lambda: runner.resume(path)]
    for attempt in attempts:
        with pytest.raises(UnsafeCheckpointError) as err:
            attempt()
        message = str(err.value)
        assert 'io.open' in message and 'arbitrary code' in message
        assert f'python tools/convert_checkpoint.py {path}' in message and '--trust' in message
    assert '--resume-from' in message
    assert not target.exists()


def test_convert_tool_refuses_without_trust_and_converts_numpy_values(tmp_path, capsys):
    src, dst = tmp_path / 'np.pth', tmp_path / 'safe.pth'
    torch.save({'state_dict': {'w': torch.ones(2)},
                'meta': {'seed': np.int64(3), 'mean': np.zeros(2)}}, src)
    with pytest.raises(UnsafeCheckpointError, match='numpy'):
        read_checkpoint(str(src))
    tool = load_tool('convert_checkpoint')
    assert tool.main([str(src), str(dst)]) == 2
    assert '--trust' in capsys.readouterr().err and not dst.exists()
    assert tool.main([str(src), str(dst), '--trust']) == 0
    converted = read_checkpoint(str(dst))
    assert (converted['meta']['seed'] == 3
            and torch.equal(converted['meta']['mean'], torch.zeros(2, dtype=torch.float64)))
    assert torch.equal(converted['state_dict']['w'], torch.ones(2))


def test_convert_lists_what_it_leaves_out(tmp_path):
    src = tmp_path / 'obj.pth'
    torch.save({'state_dict': {'w': torch.ones(1)},
                'meta': {'scale': np.float32(0.5), 'day': np.datetime64('2020-01-01'),
                         'fn': logging.getLogger}}, src)
    dropped = convert_trusted_checkpoint(str(src), str(tmp_path / 'out.pth'))
    assert dropped == ['meta.day (datetime.date)', 'meta.fn (builtins.function)']
    assert read_checkpoint(str(tmp_path / 'out.pth'))['meta'] == {'scale': 0.5}


def test_missing_and_broken_files_name_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match="--resume-from: checkpoint file '.*nope.pth' does "
                                                "not exist"):
        read_checkpoint(str(tmp_path / 'nope.pth'), '--resume-from')
    with pytest.raises(FileNotFoundError, match='--finetune-from: .* is a directory without a '
                                                'latest.pth'):
        read_checkpoint(str(tmp_path), '--finetune-from')
    (tmp_path / 'cut.pth').write_bytes(b'PK\x03\x04 truncated')
    with pytest.raises(ValueError, match='model.pretrained: .*cut.pth.* cannot be read as a '
                                         'PyTorch checkpoint'):
        read_checkpoint(str(tmp_path / 'cut.pth'), 'model.pretrained')


# ----------------------------------------------------------------------------- keys


def test_flat_wrapped_and_module_prefixed_checkpoints_load(tmp_path, logger):
    source = ToySegmentor()
    expected = source.state_dict()
    variants = {'flat': expected, 'wrapped': {'state_dict': expected, 'meta': {'iter': 3}},
                'ddp': {'state_dict': OrderedDict((f'module.{k}', v) for k, v in expected.items())}}
    for name, content in variants.items():
        torch.save(content, tmp_path / f'{name}.pth')
        model = ToySegmentor()
        load_checkpoint(model, str(tmp_path / f'{name}.pth'), strict=True, logger=logger)
        for key, value in model.state_dict().items():
            assert torch.equal(value, expected[key]), (name, key)
    assert f'loaded 8 of 8 tensors from {tmp_path / "ddp.pth"}' in logger.lines[-1]


def test_non_strict_reports_missing_unexpected_and_shape_mismatch(tmp_path, logger):
    content = ToySegmentor().state_dict()
    del content['decode_head.norm.weight']
    content['decode_head.extra.0.weight'] = torch.zeros(1)
    content['decode_head.extra.1.weight'] = torch.zeros(1)
    content['backbone.conv.bias'] = torch.zeros(5)
    torch.save(content, tmp_path / 'partial.pth')
    model = ToySegmentor()
    before = model.backbone['conv'].bias.clone()
    load_checkpoint(model, str(tmp_path / 'partial.pth'), logger=logger)
    report = logger.lines[-1]
    assert 'loaded 6 of 8 tensors' in report
    assert ('missing in the checkpoint (1, left as initialised):\n    decode_head.norm.weight'
            in report)
    assert ('unexpected in the checkpoint (2, ignored):\n    decode_head.extra.{0,1}.weight'
            in report)
    assert 'backbone.conv.bias: checkpoint [5], model [4]' in report
    assert torch.equal(model.backbone['conv'].bias, before)
    with pytest.raises(CheckpointError, match='does not match the model'):
        load_checkpoint(ToySegmentor(), str(tmp_path / 'partial.pth'), strict=True)


def test_summarize_keys_folds_indices():
    names = ([f'predictor.layers.{i}.norm.weight' for i in range(9)]
             + ['predictor.layers.3.linear.bias'])
    assert summarize_keys(names) == ('    predictor.layers.{0-8}.norm.weight\n'
                                     '    predictor.layers.{3}.linear.bias')




@pytest.fixture
def logger(list_logger):
    return list_logger
