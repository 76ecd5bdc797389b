"""``IterBasedRunner``: the training loop, and ``build_runner`` to make one from a config.

One iteration: take the next batch; set the learning rate for ``runner.iter`` (the number of
completed iterations); ``before_train_iter`` hooks; forward (``model(**batch, return_loss=True,
iteration=runner.iter)``, under autocast when ``amp.enabled``); sum the loss terms; stop or skip on
a non-finite loss (``nonfinite_loss``); backward; clip gradients; optimizer step; count the
iteration; ``after_train_iter`` hooks (checkpoint, evaluation, logging).

Exact resume: a checkpoint holds the weights, the optimizer and grad-scaler states, the iteration
and every process's RNG states; the data stream is a pure function of the position in it
(:mod:`.dataloader`), and :meth:`IterBasedRunner.run` continues it at ``iter * samples_per_gpu``. A
resumed run therefore repeats, bit for bit on deterministic hardware, what the uninterrupted run
did.
"""
import logging
import os
import sys
import time
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from ...utils.checkpoint import apply_checkpoint, load_checkpoint, save_checkpoint
from ...utils.dist_utils import (
    all_gather_object,
    get_dist_info,
    is_communication_failure,
    lost_process_error,
    reduce_mean,
    unwrap_model,
)
from ...utils.errors import CheckpointError, ConfigError, ConfigKeyError, NonFiniteLossError
from ...utils.logger import get_root_logger
from ...utils.seed import get_rng_state, set_rng_state
from ...version import __version__
from .builder import HOOKS
from .checkpoint import newest_loadable_checkpoint
from .dataloader import InfiniteSampler
from .hooks import CheckpointHook, EvalHook, Hook
from .lr_schedule import PolyLrSchedule, build_lr_schedule
from .optimizer import build_optimizer

__all__ = ['IterBasedRunner', 'NonFiniteLossError', 'build_runner', 'parse_losses', 'stream_start']

NONFINITE_MODES = ('raise', 'skip')
AMP_DTYPES = ('float16', 'bfloat16')
EVENTS = ('before_run', 'before_train_iter', 'after_train_iter', 'after_val', 'after_run')


def parse_losses(
        losses: Mapping[str, Any]) -> Tuple[torch.Tensor, 'OrderedDict[str, torch.Tensor]']:
    """Return ``(total, log_vars)`` from the model's ordered dict of losses (as mmcv 1.x).

    Each entry is a tensor (its mean is taken) or a list of tensors (the sum of their means). The
    entries whose key contains ``'loss'`` are added, in key order, in float32, into ``total``, which
    is also ``log_vars['loss']``; the other entries are only logged.
    """
    if not isinstance(losses, Mapping):
        raise TypeError(f'the model returned {type(losses).__name__} in training mode; expected an '
                        f'ordered dict of loss tensors')
    log_vars: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            log_vars[name] = value.mean()
        elif (isinstance(value, (list, tuple)) and value
              and all(isinstance(v, torch.Tensor) for v in value)):
            log_vars[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'the model returned {name}={type(value).__name__}; expected a tensor '
                            f'or a list of tensors')
    terms = [value.float() for name, value in log_vars.items() if 'loss' in name]
    if not terms:
        raise ValueError(f'the model returned no loss term (a key containing "loss"); keys: '
                         f'{list(losses)}')
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    log_vars['loss'] = total
    return total, log_vars


def _to_device(data: Any, device: torch.device) -> Any:
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=True)
    if isinstance(data, Mapping):
        return {key: _to_device(value, device) for key, value in data.items()}
    if isinstance(data, list):
        return [_to_device(value, device) for value in data]
    return data


def _peak_memory_mb(device: torch.device) -> Optional[int]:
    """Peak CUDA memory allocated on ``device``, else the process's peak RSS, in MB (None on
    Windows)."""
    if device.type == 'cuda':
        return int(torch.cuda.max_memory_allocated(device) / 2**20)
    if sys.platform == 'win32':
        return None
    import resource  # POSIX only
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return int(peak / 2**20) if sys.platform == 'darwin' else int(peak / 2**10)


class IterBasedRunner:
    """Trains ``model`` for ``max_iters`` iterations.

    Args:
        model: the model, on its device, possibly wrapped in DistributedDataParallel.
        optimizer: from :func:`build_optimizer` (each group has an ``initial_lr``).
        max_iters: total number of iterations.
        work_dir: where checkpoints and logs go (created if needed).
        lr_schedule: sets the learning rate before each iteration (None: keep it constant).
        grad_clip: ``dict(max_norm=..., norm_type=2)`` or None.
        amp: ``dict(enabled=bool, dtype='float16' | 'bfloat16')`` or None. float16 uses a
            GradScaler.
        nonfinite_loss: ``'raise'`` stops with :class:`NonFiniteLossError` before any step when a
            loss term is NaN or Inf; ``'skip'`` skips that step and counts it.
        logger: default the package logger.
        meta: plain values saved in every checkpoint and written first to the JSON log (env_info,
            config text, seed, ...).
        timestamp: names the JSON log (``<timestamp>.log.json``); default: now.
    """

    def __init__(self, *, model: nn.Module, optimizer: Optimizer, max_iters: int, work_dir: str,
                 lr_schedule: Optional[PolyLrSchedule] = None,
                 grad_clip: Optional[Mapping[str, Any]] = None,
                 amp: Optional[Mapping[str, Any]] = None, nonfinite_loss: str = 'raise',
                 logger: Optional[logging.Logger] = None, meta: Optional[Mapping[str, Any]] = None,
                 timestamp: Optional[str] = None) -> None:
        if nonfinite_loss not in NONFINITE_MODES:
            raise ConfigError(f'nonfinite_loss must be one of {NONFINITE_MODES}, got '
                              f'{nonfinite_loss!r}')
        amp = dict(amp or {})
        if amp.get('dtype', 'float16') not in AMP_DTYPES:
            raise ConfigError(f'amp.dtype must be one of {AMP_DTYPES}, got {amp["dtype"]!r}')
        if grad_clip is not None and set(grad_clip) - {'max_norm', 'norm_type'}:
            raise ConfigKeyError(f'optimizer_config.grad_clip takes max_norm and norm_type, got '
                                 f'{dict(grad_clip)}')
        self.model = model
        self.optimizer = optimizer
        self.max_iters = max_iters
        self.work_dir = os.path.abspath(work_dir)
        os.makedirs(self.work_dir, exist_ok=True)
        self.lr_schedule = lr_schedule
        self.grad_clip = dict(grad_clip) if grad_clip else None
        self.nonfinite_loss = nonfinite_loss
        self.logger = logger or get_root_logger()
        self.meta = dict(meta or {})
        self.timestamp = timestamp or time.strftime('%Y%m%d_%H%M%S', time.localtime())
        self.rank, self.world_size = get_dist_info()
        self.device = next(unwrap_model(model).parameters()).device
        self.autocast_dtype = (getattr(torch, amp.get('dtype', 'float16')) if amp.get('enabled')
                               else None)
        self.grad_scaler = (torch.amp.GradScaler(self.device.type)
                            if self.autocast_dtype == torch.float16 else None)
        self.iter = 0
        # dist_params.timeout, named in lost-process errors
        self.dist_timeout: Optional[float] = None
        # global samples read (None: derive from a resumed iter)
        self.samples_seen: Optional[int] = 0
        self._resumed_world_size: Optional[int] = None
        self.nonfinite_skipped = 0
        self.hooks: List[Hook] = []
        self._rng_state_to_restore: Optional[Dict[str, Any]] = None
        self._log_sums: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
        self._log_count = 0
        self._times: List[Tuple[float, float]] = []
        self._log_record: Tuple[int, Dict[str, Any]] = (-1, {})

    # ------------------------------------------------------------------------- hooks

    def register_hook(self, hook: Hook) -> None:
        """Add ``hook``; hooks run in ascending ``hook.priority``, ties in registration order."""
        if not isinstance(hook, Hook):
            raise TypeError(f'a hook must be a mmseg.core.runner.Hook, got {type(hook).__name__}')
        self.hooks.append(hook)
        self.hooks.sort(key=lambda h: h.priority)  # stable: ties keep their order

    def call_hook(self, event: str, *args: Any) -> None:
        """Call ``event`` on every hook in order."""
        if event not in EVENTS:
            raise ValueError(f'unknown hook event {event!r}; events: {EVENTS}')
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    # ------------------------------------------------------------------------- training

    def current_lr(self) -> List[float]:
        """The learning rate of every param group."""
        return [group['lr'] for group in self.optimizer.param_groups]

    def _nonfinite_terms(self, log_vars: Mapping[str, torch.Tensor]) -> List[str]:
        """Loss terms that are NaN or Inf on any process (every process agrees)."""
        names = [name for name in log_vars if 'loss' in name]
        flags = torch.stack([~torch.isfinite(log_vars[name].detach().float())
                             for name in names]).float()
        flags = reduce_mean(flags)
        return [name for name, flag in zip(names, flags.tolist()) if flag > 0]

    def train_step(self, batch: Mapping[str, Any]) -> Optional['OrderedDict[str, torch.Tensor]']:
        """Forward, backward and step on one batch; return the detached log values (None if
        skipped)."""
        batch = _to_device(batch, self.device)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype,
                            enabled=self.autocast_dtype is not None):
            losses = self.model(**batch, return_loss=True, iteration=self.iter)
        loss, log_vars = parse_losses(losses)
        bad = self._nonfinite_terms(log_vars)
        if bad:
            values = ', '.join(f'{name}={log_vars[name].item()}' for name in bad)
            if self.world_size > 1:
                values += (f' (values of rank {self.rank}; non-finite on at least one of '
                           f'{self.world_size} processes)')
            if self.nonfinite_loss == 'raise':
                raise NonFiniteLossError(
                    f'non-finite loss at iteration {self.iter} (0-based; the model was called with '
                    f'iteration={self.iter}): {values}. No optimizer step was taken and no '
                    f'checkpoint was written; set nonfinite_loss="skip" in the config to skip such '
                    f'steps instead.')
            self.nonfinite_skipped += 1
            self.logger.warning(f'iteration {self.iter}: non-finite loss ({values}); step skipped '
                                f'({self.nonfinite_skipped} skipped so far)')
            return None
        self.optimizer.zero_grad(set_to_none=True)
        if self.grad_scaler is not None:
            self.grad_scaler.scale(loss).backward()
        else:
            loss.backward()
        if self.grad_clip is not None:
            if self.grad_scaler is not None:
                self.grad_scaler.unscale_(self.optimizer)
            params = [p for group in self.optimizer.param_groups for p in group['params']
                      if p.grad is not None]
            log_vars['grad_norm'] = torch.nn.utils.clip_grad_norm_(params, **self.grad_clip)
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()
        return OrderedDict((name, value.detach().float()) for name, value in log_vars.items())

    def run(self, data_loader: DataLoader) -> None:
        """Train from ``self.iter`` to ``max_iters`` on batches of ``data_loader``.

        ``data_loader`` comes from :func:`build_train_dataloader`: the global stream is continued
        after ``samples_seen`` samples (see :meth:`_stream_start`), so a resumed run with the same
        number of processes reads the samples the uninterrupted run would have read. A lost process
        (a failed collective) raises :class:`~mmseg.utils.errors.LostProcessError`.
        """
        if not isinstance(data_loader.sampler, InfiniteSampler):
            raise TypeError('IterBasedRunner.run needs a loader from '
                            f'mmseg.core.runner.build_train_dataloader (an InfiniteSampler), got a '
                            f'sampler {type(data_loader.sampler).__name__}')
        data_loader.sampler.set_start(self._stream_start(data_loader.batch_size))
        self.logger.info(f'training iterations {self.iter} -> {self.max_iters} in {self.work_dir}'
                         + (f' ({self.world_size} processes)' if self.world_size > 1 else ''))
        self.call_hook('before_run')
        data_iter = iter(data_loader)
        if self._rng_state_to_restore is not None:  # as late as possible: nothing may draw after it
            set_rng_state(self._rng_state_to_restore)
            self._rng_state_to_restore = None
        self.model.train()
        try:
            self._train_loop(data_iter, data_loader.batch_size)
        except Exception as err:
            if self.world_size > 1 and is_communication_failure(err):
                raise lost_process_error(err, iteration=self.iter,
                                         timeout=self.dist_timeout) from err
            raise
        self.call_hook('after_run')

    def _train_loop(self, data_iter: Any, batch_size: int) -> None:
        while self.iter < self.max_iters:
            start = time.perf_counter()
            batch = next(data_iter)
            data_time = time.perf_counter() - start
            if self.lr_schedule is not None:
                self.lr_schedule.apply(self.optimizer, self.iter)
            self.call_hook('before_train_iter')
            log_vars = self.train_step(batch)
            self.iter += 1
            self.samples_seen += batch_size * self.world_size
            if log_vars is not None:
                for name, value in log_vars.items():
                    self._log_sums[name] = (self._log_sums[name] + value if name in self._log_sums
                                            else value)
                self._log_count += 1
            self._times.append((time.perf_counter() - start, data_time))
            self.call_hook('after_train_iter')

    def _stream_start(self, batch_size: int) -> int:
        """This process's first stream position: the global stream continues at ``samples_seen``.

        With the process count of the checkpoint that is ``iter * batch_size`` (an exact resume).
        With another count, every process starts at ``ceil(samples_seen / world_size)``; the few
        global samples between ``samples_seen`` and that start are skipped, and the log says so.
        """
        if self.samples_seen is None:  # a checkpoint written before samples_seen was recorded
            self.samples_seen = self.iter * batch_size * (self._resumed_world_size
                                                          or self.world_size)
        start, skipped = stream_start(self.samples_seen, self.world_size)
        if skipped:
            self.logger.info(f'data stream: {self.samples_seen} samples were read before the '
                             f'resume; {self.world_size} processes continue at global sample '
                             f'{start * self.world_size} ({skipped} skipped)')
            self.samples_seen = start * self.world_size
        return start

    def log_record(self) -> Dict[str, Any]:
        """The values to report now, averaged since the previous report (collective, cached per
        iter).

        Loss terms and ``grad_norm`` are averaged over the iterations that took a step and over all
        processes; times are this process's.
        """
        if self._log_record[0] == self.iter:
            return self._log_record[1]
        record: Dict[str, Any] = OrderedDict(lr=self.current_lr()[0])
        if self._times:
            record['time'] = sum(t for t, _ in self._times) / len(self._times)
            record['data_time'] = sum(d for _, d in self._times) / len(self._times)
        memory = _peak_memory_mb(self.device)
        if memory is not None:
            record['memory'] = memory
        if self._log_count:
            means = reduce_mean(torch.stack(list(self._log_sums.values())) / self._log_count)
            record.update(zip(self._log_sums, means.tolist()))
        if self.nonfinite_skipped:
            record['nonfinite_skipped'] = self.nonfinite_skipped
        self._log_sums, self._log_count, self._times = OrderedDict(), 0, []
        self._log_record = (self.iter, record)
        return record

    # ------------------------------------------------------------------------- checkpoints

    def _frozen_parameters(self) -> List[str]:
        return [name for name, p in unwrap_model(self.model).named_parameters()
                if not p.requires_grad]

    def save_checkpoint(self, out_dir: Optional[str] = None) -> Optional[str]:
        """Save ``iter_<iter>.pth`` in ``out_dir`` (default work_dir) and repoint ``latest.pth``.

        Every process must call it (the RNG states of all processes are gathered); rank 0 writes
        and gets the path, the others get None.
        """
        rng_states = all_gather_object(get_rng_state())
        if self.rank != 0:
            return None
        meta = dict(self.meta, iter=self.iter, mmseg_version=__version__, time=time.asctime(),
                    world_size=self.world_size, samples_seen=self.samples_seen,
                    rng_states=rng_states, nonfinite_skipped=self.nonfinite_skipped,
                    frozen_parameters=self._frozen_parameters())
        state_dict = OrderedDict((key, value.detach().cpu())
                                 for key, value in unwrap_model(self.model).state_dict().items())
        checkpoint = {'meta': meta, 'state_dict': state_dict,
                      'optimizer': self.optimizer.state_dict()}
        if self.grad_scaler is not None:
            checkpoint['grad_scaler'] = self.grad_scaler.state_dict()
        path = os.path.join(out_dir or self.work_dir, f'iter_{self.iter}.pth')
        save_checkpoint(checkpoint, path)
        return path

    def resume(self, filename: str, source: str = '--resume-from') -> None:
        """Restore weights, optimizer, grad scaler, iteration and RNG states from a checkpoint.

        The RNG states are applied at the start of :meth:`run`, so whatever is built in between
        does not shift the random streams. ``filename`` may be a work directory: its newest
        loadable checkpoint is used (newer unreadable ones, e.g. truncated, are skipped and logged).
        """
        if os.path.isdir(filename):
            filename, checkpoint = newest_loadable_checkpoint(filename, source=source,
                                                              logger=self.logger)
            apply_checkpoint(self.model, checkpoint, filename, strict=True, logger=self.logger,
                             source=source)
        else:
            checkpoint = load_checkpoint(self.model, filename, strict=True, logger=self.logger,
                                         source=source)
        meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
        if not meta or 'iter' not in meta or 'optimizer' not in checkpoint:
            raise CheckpointError(f'{source}: {filename!r} holds weights only (no meta.iter or '
                                  f'optimizer state), so training cannot be resumed from it; use '
                                  f'--load-from to start from its weights')
        frozen_then, frozen_now = meta.get('frozen_parameters', []), self._frozen_parameters()
        if frozen_then != frozen_now:
            raise CheckpointError(
                f'{source}: the checkpoint was trained with {len(frozen_then)} frozen parameters, '
                f'this run freezes {len(frozen_now)}; resume a --finetune-from run with the same '
                f'--finetune-from and finetune_cfg (as in the original). Differences: '
                f'{sorted(set(frozen_then) ^ set(frozen_now))[:10]}')
        self.optimizer.load_state_dict(checkpoint['optimizer'])
        if self.grad_scaler is not None:
            if 'grad_scaler' in checkpoint:
                self.grad_scaler.load_state_dict(checkpoint['grad_scaler'])
            else:
                self.logger.info(f'{source}: no grad scaler state in the checkpoint; the scaler '
                                 f'starts fresh')
        self.iter = int(meta['iter'])
        self.samples_seen = meta.get('samples_seen')
        self._resumed_world_size = meta.get('world_size')
        self.nonfinite_skipped = int(meta.get('nonfinite_skipped', 0))
        rng_states = meta.get('rng_states') or []
        if len(rng_states) == self.world_size:
            self._rng_state_to_restore = rng_states[self.rank]
        else:
            self.logger.warning(f'{source}: the checkpoint was written by {len(rng_states)} '
                                f'processes and this run has {self.world_size}: weights, '
                                f'optimizer, iteration and the position in the global data stream '
                                f'carry over; the RNGs keep their fresh seeds and the total batch '
                                f'is {self.world_size} x samples_per_gpu, so the run continues but '
                                f'not bit-identically')
        self.logger.info(f'resumed from {filename} at iteration {self.iter}')


def stream_start(samples_seen: int, world_size: int) -> Tuple[int, int]:
    """``(position, skipped)``: the per-process stream position that continues the global stream
    after ``samples_seen`` samples with ``world_size`` processes, and how many samples that
    skips."""
    start = -(-samples_seen // world_size)
    return start, start * world_size - samples_seen


def _describe_hook(hook: Hook) -> str:
    """``CheckpointHook(every 4000 it)``: what the hook does, for the run's summary line."""
    interval = getattr(hook, 'interval', None)
    return type(hook).__name__ + (f'(every {interval} it)' if isinstance(interval, int) else '')


def build_runner(cfg: Mapping[str, Any], *, model: nn.Module, work_dir: str,
                 logger: Optional[logging.Logger] = None, meta: Optional[Mapping[str, Any]] = None,
                 timestamp: Optional[str] = None, eval_fn: Optional[Any] = None) -> IterBasedRunner:
    """Build the optimizer, LR schedule, runner and hooks from a config.

    Honoured keys: ``optimizer`` (with ``paramwise_cfg``), ``optimizer_config.grad_clip``,
    ``lr_config``, ``runner`` (``IterBasedRunner``, ``max_iters``), ``amp``, ``nonfinite_loss``,
    ``checkpoint_config``, ``log_config`` (``interval`` and ``hooks``), ``custom_hooks`` (a list of
    hook configs, registered in ``HOOKS``) and, when ``eval_fn`` is given, ``evaluation.interval``
    (plus ``evaluation.at_end`` if present).

    Args:
        cfg: the config.
        model: the model, already on its device and wrapped for DDP if distributed, with parameters
            frozen as wanted (:func:`finetune_from`).
        work_dir: output directory.
        logger: default the package logger.
        meta: plain values for checkpoints and the JSON log (see :class:`IterBasedRunner`).
        timestamp: names the JSON log.
        eval_fn: ``eval_fn(model) -> {metric: number}`` for an :class:`EvalHook`, or None.
    """
    runner_cfg = dict(cfg['runner'])
    if (runner_cfg.pop('type', 'IterBasedRunner') != 'IterBasedRunner'
            or set(runner_cfg) != {'max_iters'}):
        raise ConfigError(f'runner must be dict(type="IterBasedRunner", max_iters=N), got '
                          f'{cfg["runner"]}')
    max_iters = runner_cfg['max_iters']
    optimizer_config = dict(cfg.get('optimizer_config') or {})
    if set(optimizer_config) - {'grad_clip'}:
        raise ConfigKeyError(f'optimizer_config takes only grad_clip, got '
                             f'{sorted(optimizer_config)}')
    runner = IterBasedRunner(
        model=model, optimizer=build_optimizer(model, cfg['optimizer'], logger),
        max_iters=max_iters, work_dir=work_dir,
        lr_schedule=build_lr_schedule(cfg['lr_config'], max_iters),
        grad_clip=optimizer_config.get('grad_clip'), amp=cfg.get('amp'),
        nonfinite_loss=cfg.get('nonfinite_loss', 'raise'), logger=logger, meta=meta,
        timestamp=timestamp)
    runner.dist_timeout = (cfg.get('dist_params') or {}).get('timeout')
    runner.register_hook(CheckpointHook(**dict(cfg['checkpoint_config'])))
    log_config = dict(cfg['log_config'])
    for hook_cfg in log_config.get('hooks', []):
        runner.register_hook(HOOKS.build(dict(hook_cfg),
                                         default_args=dict(interval=log_config['interval'])))
    for hook_cfg in cfg.get('custom_hooks') or []:
        runner.register_hook(HOOKS.build(dict(hook_cfg)))
    if eval_fn is not None:
        evaluation = dict(cfg['evaluation'])
        runner.register_hook(EvalHook(eval_fn=eval_fn, interval=evaluation['interval'],
                                      at_end=evaluation.get('at_end', False)))
    runner.logger.info(f'runner: {max_iters} iterations; hooks (in call order): '
                       + ', '.join(_describe_hook(h) for h in runner.hooks))
    return runner
