"""The learning rate as a function of the iteration (mmcv 1.x ``lr_config`` with ``policy='poly'``).

For a param group with base learning rate ``base`` (its ``initial_lr``: ``optimizer.lr`` times the
group's ``lr_mult``), before iteration ``it`` (0-based count of completed iterations):

    lr = (base - min_lr) * (1 - it / max_iters) ** power + min_lr

With ``warmup='linear'`` and ``it < warmup_iters`` that value is scaled by
``1 - (1 - it / warmup_iters) * (1 - warmup_ratio)``, which rises linearly from ``warmup_ratio`` to
1. The learning rate depends only on ``it``, so a resumed run needs no scheduler state.
"""
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

from torch.optim import Optimizer

from ...utils.errors import ConfigError, ConfigKeyError

__all__ = ['PolyLrSchedule', 'build_lr_schedule']


@dataclass(frozen=True, kw_only=True)
class PolyLrSchedule:
    """Poly decay by iteration with an optional linear warm-up.

    Args:
        max_iters: the iteration at which the decay reaches ``min_lr``.
        power: exponent of the decay.
        min_lr: the final learning rate (the same for every group, as in mmcv).
        warmup: ``None`` or ``'linear'``.
        warmup_iters: length of the warm-up in iterations (> 0 with ``warmup='linear'``).
        warmup_ratio: the warm-up's starting fraction of the scheduled learning rate, in (0, 1].
    """

    max_iters: int
    power: float = 1.0
    min_lr: float = 0.0
    warmup: Optional[str] = None
    warmup_iters: int = 0
    warmup_ratio: float = 0.1

    def __post_init__(self) -> None:
        if self.max_iters <= 0:
            raise ConfigError(f'max_iters must be positive, got {self.max_iters}')
        if self.warmup not in (None, 'linear'):
            raise ConfigError(f'lr_config.warmup must be None or "linear", got {self.warmup!r}')
        if self.warmup is not None and self.warmup_iters <= 0:
            raise ConfigError(f'lr_config.warmup_iters must be positive with '
                              f'warmup={self.warmup!r}, got {self.warmup_iters}')
        if self.warmup is not None and not 0 < self.warmup_ratio <= 1:
            raise ConfigError(f'lr_config.warmup_ratio must be in (0, 1], got {self.warmup_ratio}')

    def lr_at(self, base_lr: float, iteration: int) -> float:
        """The learning rate of a group with base ``base_lr`` before iteration ``iteration``."""
        progress = min(iteration, self.max_iters) / self.max_iters
        lr = (base_lr - self.min_lr) * (1 - progress) ** self.power + self.min_lr
        if self.warmup is not None and iteration < self.warmup_iters:
            lr *= 1 - (1 - iteration / self.warmup_iters) * (1 - self.warmup_ratio)
        return lr

    def apply(self, optimizer: Optimizer, iteration: int) -> List[float]:
        """Set every group's ``lr`` for iteration ``iteration``; return the new values."""
        for group in optimizer.param_groups:
            if 'initial_lr' not in group:
                raise KeyError('a param group has no "initial_lr"; build the optimizer with '
                               'mmseg.core.runner.build_optimizer')
            group['lr'] = self.lr_at(group['initial_lr'], iteration)
        return [group['lr'] for group in optimizer.param_groups]


def build_lr_schedule(lr_config: Mapping[str, Any], max_iters: int) -> PolyLrSchedule:
    """Build the schedule from the config's ``lr_config`` and ``runner.max_iters``."""
    cfg = dict(lr_config)
    policy = cfg.pop('policy', None)
    if policy != 'poly':
        raise ConfigError(f'lr_config.policy {policy!r} is not supported; expected "poly"')
    if cfg.pop('by_epoch', False):
        raise ConfigError('lr_config.by_epoch=True is not supported: the runner counts iterations')
    known = {'power', 'min_lr', 'warmup', 'warmup_iters', 'warmup_ratio'}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigKeyError(f'lr_config has unsupported keys {unknown}; supported: '
                             f'{sorted(known)}')
    return PolyLrSchedule(max_iters=max_iters, **cfg)
