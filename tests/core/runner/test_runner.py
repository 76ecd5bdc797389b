"""IterBasedRunner: exact resume, LR per iteration, grad clipping, NaN guard, AMP, hooks and
logs."""
import json
import logging
import os
import random

import numpy as np
import pytest
import torch

from mmseg.core.runner import (
    Hook,
    IterBasedRunner,
    build_optimizer,
    build_runner,
    build_train_dataloader,
    logger_hooks,
)
from mmseg.datasets import collate_clips
from mmseg.utils.checkpoint import read_checkpoint
from mmseg.utils.errors import NonFiniteLossError
from mmseg.utils.seed import set_random_seed
from runner_toy import ToyClips, ToySegmentor, toy_config


class Interrupt(Exception):
    pass


class StopAt(Hook):
    """Simulates a crash after the checkpoint of iteration ``stop``."""
    priority = 90

    def __init__(self, stop):
        self.stop = stop

    def after_train_iter(self, runner):
        if runner.iter == self.stop:
            raise Interrupt


def train(work_dir, *, workers=0, stop=None, resume=None, model_seed=0, cfg=None, model=None,
          eval_fn=None, samples_per_gpu=2):
    set_random_seed(model_seed)
    model = model or ToySegmentor()
    runner = build_runner(cfg or toy_config(max_iters=8, interval=4), model=model,
                          work_dir=str(work_dir), eval_fn=eval_fn, meta=dict(seed=0, config='toy'))
    if stop is not None:
        runner.register_hook(StopAt(stop))
    if resume is not None:
        runner.resume(resume)
    loader = build_train_dataloader(ToyClips(), collate_fn=collate_clips,
                                    samples_per_gpu=samples_per_gpu, workers_per_gpu=workers,
                                    seed=0)
    if stop is not None:
        with pytest.raises(Interrupt):
            runner.run(loader)
    else:
        runner.run(loader)
    return model, runner


@pytest.mark.parametrize('workers', [0, 2])
def test_resume_continues_bit_identically(tmp_path, workers):
    straight, _ = train(tmp_path / 'straight', workers=workers)
    train(tmp_path / 'split', workers=workers, stop=4)
    assert os.readlink(tmp_path / 'split' / 'latest.pth') == 'iter_4.pth'
    random.seed(7), np.random.seed(7), torch.manual_seed(7)  # a different process state
    resumed, runner = train(tmp_path / 'split', workers=workers, resume=str(tmp_path / 'split'),
                            model_seed=99)
    assert resumed.iterations_seen == [4, 5, 6, 7]
    assert straight.losses_seen[4:] == resumed.losses_seen
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    final = read_checkpoint(str(tmp_path / 'straight' / 'iter_8.pth'))
    assert final['meta']['iter'] == 8 and len(final['meta']['rng_states']) == 1
    if workers:  # the stream does not depend on the number of workers
        zero_workers, _ = train(tmp_path / 'zero', workers=0)
        assert zero_workers.losses_seen == straight.losses_seen


def test_resume_refuses_weights_only_files_and_other_freezing(tmp_path):
    model, _ = train(tmp_path / 'a', cfg=toy_config(max_iters=2, interval=2))
    torch.save(model.state_dict(), tmp_path / 'weights.pth')
    fresh = ToySegmentor()
    runner = IterBasedRunner(model=fresh,
                             optimizer=build_optimizer(fresh, dict(type='SGD', lr=0.1)),
                             max_iters=4, work_dir=str(tmp_path / 'b'))
    with pytest.raises(ValueError, match='weights only .* use --load-from'):
        runner.resume(str(tmp_path / 'weights.pth'))
    fresh.backbone.requires_grad_(False)
    runner.optimizer = build_optimizer(fresh, dict(type='AdamW', lr=0.1))
    with pytest.raises(ValueError, match='trained with 0 frozen parameters, this run freezes 4'):
        runner.resume(str(tmp_path / 'a' / 'iter_2.pth'))


def test_lr_follows_poly_with_warmup_per_group(tmp_path):
    seen = []

    class RecordLr(Hook):
        def before_train_iter(self, runner):
            seen.append(runner.current_lr())

    cfg = toy_config(max_iters=4, interval=4,
                     lr_config=dict(policy='poly', power=1.0, min_lr=0.0, by_epoch=False,
                                    warmup='linear', warmup_iters=2, warmup_ratio=0.5))
    set_random_seed(0)
    model = ToySegmentor()
    runner = build_runner(cfg, model=model, work_dir=str(tmp_path))
    runner.register_hook(RecordLr())
    runner.run(build_train_dataloader(ToyClips(), collate_fn=collate_clips, samples_per_gpu=1,
                                      workers_per_gpu=0, seed=0))
    # groups: backbone (x0.1), norm, default; base 0.01. it0: 0.01*0.5, it1: 0.0075*0.75, it2:
    # 0.005, it3: 0.0025
    expected = [0.005, 0.005625, 0.005, 0.0025]
    assert np.allclose(seen, [[lr * 0.1, lr, lr] for lr in expected], rtol=1e-12, atol=0)


def test_grad_clip_bounds_the_norm_at_the_step(tmp_path):
    set_random_seed(0)
    batch = next(iter(build_train_dataloader(ToyClips(), collate_fn=collate_clips,
                                             samples_per_gpu=2, workers_per_gpu=0, seed=0)))
    for max_norm in (1e-3, 1e6):
        model = ToySegmentor(dropout=0.0)
        optimizer = build_optimizer(model, dict(type='SGD', lr=0.1))
        norms_at_step = []
        original_step = optimizer.step

        def step(*args, **kwargs):
            grads = [p.grad for g in optimizer.param_groups for p in g['params']]
            norms_at_step.append(
                torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item())
            return original_step(*args, **kwargs)

        optimizer.step = step
        runner = IterBasedRunner(model=model, optimizer=optimizer, max_iters=1,
                                 work_dir=str(tmp_path),
                                 grad_clip=dict(max_norm=max_norm, norm_type=2))
        grad_norm = runner.train_step(batch)['grad_norm'].item()
        assert grad_norm > 1e-2  # the norm before clipping is reported
        assert norms_at_step[0] == pytest.approx(min(max_norm, grad_norm), rel=1e-5)


def test_nonfinite_loss_raises_before_the_step_and_writes_no_checkpoint(tmp_path):
    cfg = toy_config(max_iters=6, interval=1)
    with pytest.raises(NonFiniteLossError) as err:
        train(tmp_path, cfg=cfg, model=ToySegmentor(nan_at=3))
    message = str(err.value)
    assert 'non-finite loss at iteration 3' in message and 'decode.loss_ce=nan' in message
    assert 'decode.loss_l2' not in message and 'nonfinite_loss="skip"' in message
    names = sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth'))
    assert names == ['iter_1.pth', 'iter_2.pth', 'iter_3.pth', 'latest.pth']
    assert os.readlink(tmp_path / 'latest.pth') == 'iter_3.pth'


def test_nonfinite_loss_skip_counts_and_logs(tmp_path):
    cfg = toy_config(max_iters=5, interval=5, nonfinite_loss='skip')
    model, runner = train(tmp_path, cfg=cfg, model=ToySegmentor(nan_at=2))
    assert runner.nonfinite_skipped == 1 and model.iterations_seen == [0, 1, 2, 3, 4]
    steps = {int(s['step']) for s in runner.optimizer.state.values()}
    assert steps == {4}  # five iterations, one step skipped
    log = [json.loads(line) for line in open(next(tmp_path.glob('*.log.json')))]
    assert log[-1]['nonfinite_skipped'] == 1 and np.isfinite(log[-1]['loss'])
    assert read_checkpoint(str(tmp_path / 'iter_5.pth'))['meta']['nonfinite_skipped'] == 1


def test_bfloat16_autocast_on_cpu(tmp_path):
    cfg = toy_config(max_iters=3, interval=3, amp=dict(enabled=True, dtype='bfloat16'))
    before = ToySegmentor()
    model = ToySegmentor()
    model.load_state_dict(before.state_dict())
    _, runner = train(tmp_path, cfg=cfg, model=model)
    assert runner.grad_scaler is None
    assert set(model.autocast_dtypes) == {torch.bfloat16}
    assert all(np.isfinite(model.losses_seen))
    assert not torch.equal(model.decode_head['predictor'].weight,
                           before.decode_head['predictor'].weight)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_float16_grad_scaler_on_cuda_saves_and_resumes(tmp_path):
    cfg = toy_config(max_iters=4, interval=2, amp=dict(enabled=True, dtype='float16'))
    set_random_seed(0)
    model = ToySegmentor().cuda()
    _, runner = train(tmp_path, cfg=cfg, model=model)
    assert runner.grad_scaler is not None and set(model.autocast_dtypes) == {torch.float16}
    saved = read_checkpoint(str(tmp_path / 'iter_4.pth'))
    assert saved['grad_scaler']['scale'] == runner.grad_scaler.get_scale()
    fresh = ToySegmentor().cuda()
    resumed = build_runner(cfg, model=fresh, work_dir=str(tmp_path / 'r'))
    resumed.resume(str(tmp_path / 'iter_4.pth'))
    assert resumed.grad_scaler.get_scale() == runner.grad_scaler.get_scale()


def test_json_log_has_mmcv_keys_and_interval_averages(tmp_path):
    def eval_fn(model):
        assert not model.training
        return {'mIoU': np.float64(0.25), 'mVC8': torch.tensor(0.5)}

    cfg = toy_config(max_iters=4, interval=2, evaluation=dict(interval=3))
    model, _ = train(tmp_path, cfg=cfg, eval_fn=eval_fn)
    assert model.training
    lines = [json.loads(line) for line in open(next(tmp_path.glob('*.log.json')))]
    assert lines[0] == {'seed': 0, 'config': 'toy'}
    train_lines = [line for line in lines if line.get('mode') == 'train']
    assert [line['iter'] for line in train_lines] == [2, 4]
    assert set(train_lines[0]) == {'mode', 'iter', 'lr', 'time', 'data_time', 'memory',
                                   'decode.loss_ce', 'decode.loss_l2', 'decode.acc', 'loss',
                                   'grad_norm'}
    assert train_lines[0]['decode.loss_ce'] == pytest.approx(np.mean(model.losses_seen[:2]),
                                                             rel=1e-6)
    assert train_lines[1]['decode.loss_ce'] == pytest.approx(np.mean(model.losses_seen[2:]),
                                                             rel=1e-6)
    assert train_lines[0]['loss'] > train_lines[0]['decode.loss_ce']
    assert [line for line in lines if line.get('mode') == 'val'] == [
        {'mode': 'val', 'iter': 3, 'mIoU': 0.25, 'mVC8': 0.5}]


def test_evaluation_does_not_change_training(tmp_path):
    def eval_fn(model):
        torch.rand(3), np.random.rand(), random.random()
        return {'mIoU': 0.0}

    plain, _ = train(tmp_path / 'plain', cfg=toy_config(max_iters=4, interval=2))
    evaluated, _ = train(tmp_path / 'eval', cfg=toy_config(max_iters=4, interval=2),
                         eval_fn=eval_fn)
    assert plain.losses_seen == evaluated.losses_seen
    with pytest.raises(TypeError, match='mIoU=.*expected a number'):
        train(tmp_path / 'bad', cfg=toy_config(max_iters=2, interval=2),
              eval_fn=lambda m: {'mIoU': [0.1]})


def test_checkpoint_hook_keeps_the_newest_and_saves_at_the_end(tmp_path):
    cfg = toy_config(max_iters=5, interval=2,
                     checkpoint_config=dict(by_epoch=False, interval=2, max_keep_ckpts=2))
    train(tmp_path, cfg=cfg)
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth')) == [
        'iter_4.pth', 'iter_5.pth', 'latest.pth']
    assert os.readlink(tmp_path / 'latest.pth') == 'iter_5.pth'


def test_tensorboard_writes_events_or_says_it_is_skipped(tmp_path, monkeypatch):
    hooks = [dict(type='TextLoggerHook'), dict(type='TensorboardLoggerHook')]
    cfg = toy_config(max_iters=2, interval=2, log_config=dict(interval=1, hooks=hooks))
    train(tmp_path / 'tb', cfg=cfg, eval_fn=lambda m: {'mIoU': 0.5})
    assert list((tmp_path / 'tb' / 'tf_logs').glob('events.out.tfevents.*'))
    monkeypatch.setattr(logger_hooks.importlib.util, 'find_spec', lambda name: None)
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logging.getLogger('mmseg').addHandler(handler)
    try:
        train(tmp_path / 'none', cfg=cfg)
    finally:
        logging.getLogger('mmseg').removeHandler(handler)
    assert not (tmp_path / 'none' / 'tf_logs').exists()
    assert sum('TensorBoard logging skipped' in line for line in lines) == 1


def test_config_errors_name_the_key(tmp_path):
    model = ToySegmentor()
    with pytest.raises(ValueError, match='nonfinite_loss must be one of'):
        build_runner(toy_config(nonfinite_loss='ignore'), model=model, work_dir=str(tmp_path))
    with pytest.raises(ValueError, match='amp.dtype'):
        build_runner(toy_config(amp=dict(enabled=True, dtype='float8')), model=model,
                     work_dir=str(tmp_path))
    with pytest.raises(ValueError, match='runner must be'):
        build_runner(toy_config(runner=dict(type='EpochBasedRunner', max_epochs=2)), model=model,
                     work_dir=str(tmp_path))
    with pytest.raises(TypeError, match='build_train_dataloader'):
        IterBasedRunner(model=model, optimizer=build_optimizer(model, dict(type='SGD', lr=0.1)),
                        max_iters=1,
                        work_dir=str(tmp_path)).run(torch.utils.data.DataLoader(ToyClips()))
