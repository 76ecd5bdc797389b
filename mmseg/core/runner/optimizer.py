"""``build_optimizer``: a torch optimizer with mmcv-1.x ``paramwise_cfg.custom_keys``.

Rules of ``custom_keys`` (as in mmcv 1.x's DefaultOptimizerConstructor):
- keys are tried longest first (ties in alphabetical order); the first key that is a substring of
  the parameter's name decides its settings, and no other key applies;
- ``lr_mult`` multiplies the base ``lr``, ``decay_mult`` the base ``weight_decay``;
- a parameter no key matches gets the base settings.
Only parameters with ``requires_grad`` are given to the optimizer. Parameters with the same settings
share a param group (mmcv made one group per parameter; the update is the same). Each group keeps
its base learning rate as ``initial_lr``, which the LR schedule scales.
"""
import logging
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional

from torch import nn
from torch.optim import Optimizer

from ...utils.dist_utils import unwrap_model
from ...utils.errors import ConfigError, ConfigKeyError
from ...utils.logger import get_root_logger
from .builder import OPTIMIZERS

__all__ = ['build_optimizer', 'sorted_custom_keys']

_CUSTOM_KEY_FIELDS = ('lr_mult', 'decay_mult')


def sorted_custom_keys(custom_keys: Mapping[str, Any]) -> List[str]:
    """The order in which keys are tried: longest first, ties alphabetical."""
    return sorted(custom_keys, key=lambda key: (-len(key), key))


def _check_paramwise_cfg(paramwise_cfg: Mapping[str, Any],
                         base_wd: Optional[float]) -> Dict[str, Any]:
    unknown = sorted(set(paramwise_cfg) - {'custom_keys'})
    if unknown:
        raise ConfigKeyError(f'optimizer.paramwise_cfg has unsupported keys {unknown}; only '
                             f'custom_keys (with lr_mult / decay_mult per key) is supported')
    custom_keys = dict(paramwise_cfg.get('custom_keys') or {})
    for key, value in custom_keys.items():
        if not isinstance(value, Mapping) or set(value) - set(_CUSTOM_KEY_FIELDS):
            raise ConfigKeyError(f'optimizer.paramwise_cfg.custom_keys[{key!r}] = {value!r}: '
                                 f'expected a dict with lr_mult and/or decay_mult')
        if 'decay_mult' in value and base_wd is None:
            raise ConfigKeyError(f'optimizer.paramwise_cfg.custom_keys[{key!r}] sets decay_mult '
                                 f'but the optimizer config has no weight_decay to multiply')
    return custom_keys


def build_optimizer(model: nn.Module, cfg: Mapping[str, Any],
                    logger: Optional[logging.Logger] = None) -> Optimizer:
    """Build ``cfg['type']`` (any ``torch.optim`` class) over the trainable parameters of ``model``.

    Args:
        model: the model (a DDP wrapper is looked through, so names have no ``module.`` prefix).
        cfg: the config's ``optimizer`` dict: ``type``, ``lr``, the optimizer's own keyword
            arguments and an optional ``paramwise_cfg=dict(custom_keys={key: dict(lr_mult=,
            decay_mult=)})``.
        logger: where the summary of the param groups goes (default: the package logger).
    """
    cfg = dict(cfg)
    paramwise_cfg = cfg.pop('paramwise_cfg', None) or {}
    if 'lr' not in cfg:
        raise ConfigKeyError(f'the optimizer config needs an "lr" key; got {sorted(cfg)}')
    base_lr, base_wd = cfg['lr'], cfg.get('weight_decay')
    custom_keys = _check_paramwise_cfg(paramwise_cfg, base_wd)
    key_order = sorted_custom_keys(custom_keys)

    groups: Dict[str, Dict[str, Any]] = OrderedDict()
    frozen = 0
    for name, param in unwrap_model(model).named_parameters():
        if not param.requires_grad:
            frozen += 1
            continue
        key = next((k for k in key_order if k in name), None)
        group_name = key if key is not None else 'default'
        if group_name not in groups:
            settings = custom_keys.get(key, {})
            group = {'params': [], 'paramwise_key': group_name,
                     'lr': base_lr * settings.get('lr_mult', 1.0)}
            if base_wd is not None:
                group['weight_decay'] = base_wd * settings.get('decay_mult', 1.0)
            group['initial_lr'] = group['lr']
            groups[group_name] = group
        groups[group_name]['params'].append(param)
    if not groups:
        raise ConfigError('the model has no trainable parameter (every requires_grad is False); '
                         'check finetune_cfg.trainable_patterns')
    optimizer = OPTIMIZERS.build(cfg | {'params': list(groups.values())})
    _log_groups(optimizer, frozen, logger or get_root_logger())
    return optimizer


def _log_groups(optimizer: Optimizer, frozen: int, logger: logging.Logger) -> None:
    lines = []
    for group in optimizer.param_groups:
        numel = sum(p.numel() for p in group['params'])
        decay = f', weight_decay {group["weight_decay"]:g}' if 'weight_decay' in group else ''
        lines.append(f'  [{group["paramwise_key"]}] {len(group["params"])} tensors, {numel:,} '
                     f'params: lr {group["lr"]:g}{decay}')
    logger.info(f'optimizer {type(optimizer).__name__}: {len(optimizer.param_groups)} param groups '
                f'({frozen} frozen tensors left out)\n' + '\n'.join(lines))
