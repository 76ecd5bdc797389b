"""What the training engine does with checkpoint files beyond reading and writing them
(:mod:`mmseg.utils.checkpoint`): fine-tuning from one, pruning old ones, cleaning up after a
crash."""
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import nn

from ...utils.checkpoint import CKPT_PATTERN, LATEST, TMP_SUFFIX, load_checkpoint, read_checkpoint
from ...utils.dist_utils import unwrap_model
from ...utils.errors import CheckpointError, ConfigError
from ...utils.logger import get_root_logger

__all__ = ['finetune_from', 'prune_checkpoints', 'remove_stale_temporaries',
           'newest_loadable_checkpoint']


def _summarize_by_prefix(names: Sequence[str], params: Mapping[str, nn.Parameter],
                         depth: int = 2) -> str:
    groups: Dict[str, List[int]] = OrderedDict()
    for name in names:
        groups.setdefault('.'.join(name.split('.')[:depth]), []).append(params[name].numel())
    return '\n'.join(f'    {prefix}.* ({len(sizes)} tensors, {sum(sizes):,} params)'
                     for prefix, sizes in groups.items())



def finetune_from(model: nn.Module, filename: str, *, trainable_patterns: Sequence[str],
                  logger: Optional[logging.Logger] = None, source: str = '--finetune-from') -> Any:
    """Load ``filename`` non-strictly, then train only parameters matching ``trainable_patterns``.

    A parameter stays trainable when its name contains one of the patterns (the original trains only
    ``'predictor'``); all others get ``requires_grad=False``. Call it before building the optimizer
    and before wrapping the model in DDP. Returns the checkpoint.
    """
    if isinstance(trainable_patterns, str) or not trainable_patterns:
        raise ConfigError(f'finetune_cfg.trainable_patterns must be a non-empty list of name '
                         f'substrings, got {trainable_patterns!r}')
    logger = logger or get_root_logger()
    checkpoint = load_checkpoint(model, filename, strict=False, logger=logger, source=source)
    params = OrderedDict(unwrap_model(model).named_parameters())
    trainable = [name for name in params if any(pattern in name for pattern in trainable_patterns)]
    if not trainable:
        raise ConfigError(f'{source}: no parameter name contains any of '
                          f'finetune_cfg.trainable_patterns {list(trainable_patterns)}; nothing '
                          f'would be trained')
    trainable_set = set(trainable)
    frozen = [name for name in params if name not in trainable_set]
    for name, param in params.items():
        param.requires_grad_(name in trainable_set)
    logger.info(f'{source}: trainable {len(trainable)} tensors '
                f'({sum(params[n].numel() for n in trainable):,} params) matching '
                f'{list(trainable_patterns)}:\n{_summarize_by_prefix(trainable, params)}\n'
                f'  frozen {len(frozen)} tensors ({sum(params[n].numel() for n in frozen):,} '
                f'params):\n'
                + (_summarize_by_prefix(frozen, params) if frozen else '    (none)'))
    return checkpoint


def _checkpoints_by_iteration(work_dir: str) -> List[Tuple[int, str]]:
    found = [(int(match.group(1)), name) for name in os.listdir(work_dir)
             if (match := CKPT_PATTERN.match(name))]
    return sorted(found)


def prune_checkpoints(work_dir: str, max_keep: Optional[int],
                      logger: Optional[logging.Logger] = None) -> List[str]:
    """Delete all but the ``max_keep`` newest ``iter_N.pth`` (never the one ``latest.pth`` names).

    ``max_keep`` of ``None`` or ``<= 0`` keeps everything. Returns the deleted paths.
    """
    if not max_keep or max_keep <= 0:
        return []
    latest = os.path.realpath(os.path.join(work_dir, LATEST))
    deleted = []
    for _, name in _checkpoints_by_iteration(work_dir)[:-max_keep]:
        path = os.path.join(work_dir, name)
        if os.path.realpath(path) != latest:
            os.remove(path)
            deleted.append(path)
    if deleted:
        (logger or get_root_logger()).info(f'max_keep_ckpts={max_keep}: deleted '
                                           f'{", ".join(os.path.basename(p) for p in deleted)}')
    return deleted


def remove_stale_temporaries(work_dir: str, logger: Optional[logging.Logger] = None) -> List[str]:
    """Delete half-written ``.NAME.pth.tmp`` files a crash during saving left in ``work_dir``."""
    stale = [os.path.join(work_dir, name) for name in sorted(os.listdir(work_dir))
             if name.startswith('.') and name.endswith('.pth' + TMP_SUFFIX)]
    for path in stale:
        os.remove(path)
    if stale:
        (logger or get_root_logger()).info(
            f'deleted unfinished checkpoint writes of an earlier run: '
            f'{", ".join(map(os.path.basename, stale))}')
    return stale


def _resume_candidates(work_dir: str) -> List[str]:
    """``latest.pth`` when it is a copy (no symlinks), then ``iter_N.pth`` from the newest."""
    latest = os.path.join(work_dir, LATEST)
    first = [latest] if os.path.isfile(latest) and not os.path.islink(latest) else []
    return first + [os.path.join(work_dir, name)
                    for _, name in reversed(_checkpoints_by_iteration(work_dir))]


def newest_loadable_checkpoint(work_dir: str, *, source: str = '--resume-from',
                               logger: Optional[logging.Logger] = None) -> Tuple[str, Any]:
    """``(path, checkpoint)`` of the newest checkpoint in ``work_dir`` that reads and can be resumed
    (it has ``meta.iter``); every newer one that cannot is skipped with a log line saying why."""
    logger = logger or get_root_logger()
    skipped = []
    for path in _resume_candidates(work_dir):
        try:
            checkpoint = read_checkpoint(path, source)
        except CheckpointError as err:
            skipped.append(f'{os.path.basename(path)} ({str(err).split(": ", 1)[-1][:160]})')
            logger.warning(f'{source}: skipped {path}: it cannot be read ({err})')
            continue
        if isinstance(checkpoint, Mapping) and 'iter' in (checkpoint.get('meta') or {}):
            if skipped:
                logger.warning(f'{source}: resuming from {os.path.basename(path)}, the newest '
                               f'loadable checkpoint in {work_dir}; skipped {", ".join(skipped)}')
            return path, checkpoint
        skipped.append(f'{os.path.basename(path)} (weights only)')
    raise CheckpointError(f'{source}: {work_dir!r} holds no checkpoint that can be resumed'
                          + (f' (skipped {", ".join(skipped)})' if skipped else
                             ' (no iter_N.pth); expected a work directory of tools/train.py'))
