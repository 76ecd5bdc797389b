"""Hooks: code the runner calls at fixed points of training.

Events, in the order they happen: ``before_run``; per iteration ``before_train_iter`` and
``after_train_iter``; ``after_val`` whenever an evaluation produced metrics; ``after_run`` (only
when training ended normally). In ``after_train_iter``, ``runner.iter`` already counts the iteration
just finished. Hooks run in ascending ``priority``; equal priorities keep the order of registration:
checkpoint (30), evaluation (40), user hooks (50 unless they say otherwise), loggers (80).
"""
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ...utils.errors import ConfigError
from ...utils.seed import preserved_rng_state
from .builder import HOOKS
from .checkpoint import prune_checkpoints, remove_stale_temporaries

if TYPE_CHECKING:
    from .runner import IterBasedRunner

__all__ = ['Hook', 'CheckpointHook', 'EvalHook']


class Hook:
    """Base class: override the events you need; ``priority`` orders hooks (lower runs first)."""

    priority = 50

    def before_run(self, runner: 'IterBasedRunner') -> None:
        """Called once before the first iteration."""

    def before_train_iter(self, runner: 'IterBasedRunner') -> None:
        """Called before each iteration, after the learning rate was set."""

    def after_train_iter(self, runner: 'IterBasedRunner') -> None:
        """Called after each iteration (``runner.iter`` includes it)."""

    def after_val(self, runner: 'IterBasedRunner', metrics: Dict[str, float]) -> None:
        """Called with the metrics of each evaluation."""

    def after_run(self, runner: 'IterBasedRunner') -> None:
        """Called once when training ends normally (not after an error)."""


def _check_interval(name: str, interval: int) -> int:
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        raise ConfigError(f'{name} must be a positive number of iterations, got {interval!r}')
    return interval


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Save ``iter_N.pth`` (and repoint ``latest.pth``) every ``interval`` iterations and at the
    end.

    Args:
        interval: iterations between checkpoints (the config's ``checkpoint_config.interval``).
        max_keep_ckpts: keep only this many newest ``iter_N.pth`` (None or <= 0: keep all).
        save_last: also save when training ends between two intervals.
        out_dir: where to write (default: the runner's work_dir).
        by_epoch: must be False (kept for mmseg-0.x configs).
    """

    priority = 30

    def __init__(self, *, interval: int, max_keep_ckpts: Optional[int] = None,
                 save_last: bool = True, out_dir: Optional[str] = None,
                 by_epoch: bool = False) -> None:
        if by_epoch:
            raise ConfigError('checkpoint_config.by_epoch=True is not supported: the runner counts '
                              'iterations')
        self.interval = _check_interval('checkpoint_config.interval', interval)
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.out_dir = out_dir
        self._last_saved = -1

    def before_run(self, runner: 'IterBasedRunner') -> None:
        self.out_dir = self.out_dir or runner.work_dir
        # the starting point is a checkpoint already (or iteration 0)
        self._last_saved = runner.iter
        if runner.rank == 0:
            os.makedirs(self.out_dir, exist_ok=True)
            remove_stale_temporaries(self.out_dir, runner.logger)

    def _save(self, runner: 'IterBasedRunner') -> None:
        path = runner.save_checkpoint(self.out_dir)
        self._last_saved = runner.iter
        if path is not None:
            runner.logger.info(f'saved checkpoint {path}')
            prune_checkpoints(self.out_dir, self.max_keep_ckpts, runner.logger)

    def after_train_iter(self, runner: 'IterBasedRunner') -> None:
        if runner.iter % self.interval == 0:
            self._save(runner)

    def after_run(self, runner: 'IterBasedRunner') -> None:
        if self.save_last and runner.iter != self._last_saved:
            self._save(runner)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, np.generic) and np.issubdtype(value.dtype, np.number):
        return float(value)
    raise TypeError(f'the evaluation function returned {name}={value!r} ({type(value).__name__}); '
                    f'expected a number for every metric')


@HOOKS.register_module()
class EvalHook(Hook):
    """Call ``eval_fn(model)`` every ``interval`` iterations and log the metrics it returns.

    ``eval_fn`` runs on every process (it may evaluate in a distributed way) with the model in eval
    mode, and returns ``{metric name: number}``. The global RNGs are restored afterwards, so
    evaluating does not change the training that follows.

    Args:
        eval_fn: the evaluation function.
        interval: iterations between evaluations (the config's ``evaluation.interval``).
        at_end: also evaluate when training ends between two intervals.
    """

    priority = 40

    def __init__(self, *, eval_fn: Callable[[nn.Module], Mapping[str, Any]], interval: int,
                 at_end: bool = False) -> None:
        if not callable(eval_fn):
            raise TypeError(f'eval_fn must be callable, got {eval_fn!r}')
        self.eval_fn = eval_fn
        self.interval = _check_interval('evaluation.interval', interval)
        self.at_end = at_end
        self._last_evaluated = -1

    def _evaluate(self, runner: 'IterBasedRunner') -> None:
        runner.model.eval()
        with preserved_rng_state():
            results = self.eval_fn(runner.model)
        runner.model.train()
        if not isinstance(results, Mapping):
            raise TypeError(f'the evaluation function returned {type(results).__name__}; expected '
                            f'a dict of metric name -> number')
        metrics = {str(name): _as_float(str(name), value) for name, value in results.items()}
        self._last_evaluated = runner.iter
        runner.call_hook('after_val', metrics)

    def after_train_iter(self, runner: 'IterBasedRunner') -> None:
        if runner.iter % self.interval == 0:
            self._evaluate(runner)

    def after_run(self, runner: 'IterBasedRunner') -> None:
        if self.at_end and runner.iter != self._last_evaluated:
            self._evaluate(runner)

