"""Checkpoint files: safe reading, crash-safe writing, loading weights into a module.

Reading. Every file is read with ``torch.load(path, map_location='cpu', weights_only=True)``. A file
that needs arbitrary unpickling is refused (unpickling can run any code the file's author chose);
``tools/convert_checkpoint.py IN OUT --trust`` converts a file you trust once. A folder written by
``tools/publish_model.py`` reads as the checkpoint it was made from (weights and training config;
``mmseg.utils.published_model``, safetensors, the weights' sha256 checked).

Writing. A file is written to a hidden temporary file in the same directory, flushed and fsynced,
then renamed over the final name with ``os.replace`` (atomic on POSIX and Windows). Only then is
``latest.pth`` repointed: a relative symlink created under a temporary name and renamed over
``latest.pth`` (or, where symlinks are unavailable, an atomic copy made the same way). A crash at
any moment therefore leaves ``latest.pth`` naming the last complete checkpoint. A checkpoint holds
only tensors and plain Python values, so it loads with ``weights_only=True``.

This module sits low (it needs only torch), so models, datasets, the APIs and the training engine
all read and write weights through it.
"""
import contextlib
import logging
import os
import pickle
import re
import shutil
from collections import OrderedDict
from typing import Any, BinaryIO, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .dist_utils import unwrap_model
from .errors import CheckpointError, UnsafeCheckpointError
from .logger import get_root_logger
from .published_model import is_published_model, read_published_model

__all__ = ['UnsafeCheckpointError', 'CheckpointError', 'read_checkpoint', 'extract_state_dict',
           'load_checkpoint', 'apply_checkpoint', 'save_checkpoint', 'resolve_checkpoint_path',
           'convert_trusted_checkpoint', 'to_plain', 'summarize_keys', 'temporary_name', 'LATEST',
           'CKPT_PATTERN', 'TMP_SUFFIX']

LATEST = 'latest.pth'
CKPT_PATTERN = re.compile(r'^iter_(\d+)\.pth$')
TMP_SUFFIX = '.tmp'
CONVERT_RECIPE = 'python tools/convert_checkpoint.py {src} {dst} --trust'


# ----------------------------------------------------------------------------- plain values


def to_plain(obj: Any, path: str = '') -> Tuple[Any, List[str]]:
    """Copy ``obj`` keeping tensors and plain Python values (what ``weights_only=True`` loads).

    NumPy arrays become tensors and NumPy scalars Python values. Anything else is left out (a dict
    entry is removed, a list element becomes None).

    Returns:
        ``(copy, dropped)`` where ``dropped`` lists ``'path (type)'`` for every value left out.
    """
    if isinstance(obj, torch.Tensor):
        return obj, []
    if obj is None or type(obj) in (bool, int, float, str):
        return obj, []
    if isinstance(obj, np.generic):
        return to_plain(obj.item(), path)
    # a subclass (an enum, ...) would pickle as its class
    if isinstance(obj, (bool, int, float, str)):
        return next(base(obj) for base in (bool, int, float, str) if isinstance(obj, base)), []
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in 'biufc':
            return torch.from_numpy(obj.copy()), []
        return to_plain(obj.tolist(), path)
    if isinstance(obj, Mapping):
        out, dropped = OrderedDict() if isinstance(obj, OrderedDict) else {}, []
        for key, value in obj.items():
            sub = f'{path}.{key}' if path else str(key)
            if not isinstance(key, (str, int)):
                dropped.append(f'{sub} (key of type {type(key).__name__})')
                continue
            plain, lost = to_plain(value, sub)
            dropped += lost
            if not lost or plain is not None:
                out[key] = plain
        return out, dropped
    if isinstance(obj, (list, tuple)):
        items, dropped = [], []
        for index, value in enumerate(obj):
            plain, lost = to_plain(value, f'{path}[{index}]')
            items.append(plain)
            dropped += lost
        return (tuple(items) if isinstance(obj, tuple) else items), dropped
    return None, [f'{path or "<root>"} ({type(obj).__module__}.{type(obj).__qualname__})']


# ----------------------------------------------------------------------------- reading


def resolve_checkpoint_path(path: str, source: str = 'checkpoint') -> str:
    """Return ``path``; a directory means its ``latest.pth``, unless it is a published model
    (``tools/publish_model.py``: returned as it is). A missing file names ``source``."""
    if is_published_model(path):
        return path
    if os.path.isdir(path):
        latest = os.path.join(path, LATEST)
        if not os.path.exists(latest):
            raise FileNotFoundError(f'{source}: {path!r} is a directory without a {LATEST}; '
                                    f'give a checkpoint file such as '
                                    f'{os.path.join(path, "iter_4000.pth")}')
        path = latest
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{source}: checkpoint file {path!r} does not exist')
    return path


def _unsafe_globals(path: str) -> List[str]:
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except ValueError:  # the legacy (non-zip) format cannot be scanned
        return []


def read_checkpoint(path: str, source: str = 'checkpoint') -> Any:
    """``torch.load(path, map_location='cpu', weights_only=True)`` with clear errors.

    Args:
        path: a checkpoint file, or a work directory (its ``latest.pth`` is read).
        source: the flag or config key that named the file (``--resume-from``,
            ``model.pretrained``), quoted in error messages.
    """
    return _read(resolve_checkpoint_path(path, source), source)


def _looks_like_torch_file(path: str) -> bool:
    """A zip archive (torch.save's format) or a pickle stream (the legacy format)."""
    import zipfile
    if zipfile.is_zipfile(path):
        return True
    with open(path, 'rb') as handle:
        head = handle.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5  # PROTO opcode, protocol 2-5


def _not_a_checkpoint(path: str, source: str) -> CheckpointError:
    if os.path.splitext(path)[1].lower() in ('.py', '.yml', '.yaml', '.json'):
        return CheckpointError(f'{source}: {path!r} is a config file, not a checkpoint; the tools '
                               f'take the config first, e.g. tools/test.py CONFIG CHECKPOINT')
    with open(path, 'rb') as handle:
        head = handle.read(8)
    return CheckpointError(f'{source}: {path!r} is not a PyTorch checkpoint (it starts with bytes '
                           f'{head!r}; expected a file written by torch.save)')


def _read(path: str, source: str) -> Any:
    if is_published_model(path):
        return read_published_model(path, source)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        if not _looks_like_torch_file(path):
            raise _not_a_checkpoint(path, source) from None
        unsafe = _unsafe_globals(path)
        needs = (f'it needs the Python objects {", ".join(unsafe)}' if unsafe else
                 f'torch could not unpickle it safely ({str(err).strip().splitlines()[-1]})')
        stem, ext = os.path.splitext(path)
        recipe = CONVERT_RECIPE.format(src=path, dst=f'{stem}_safe{ext or ".pth"}')
        raise UnsafeCheckpointError(
            f'{source}: refusing to load {path!r}: {needs}. Only tensors and plain Python values '
            f'are loaded (weights_only=True), because unpickling other objects can run arbitrary '
            f'code chosen by whoever made the file. If you trust its origin, convert it once with\n'
            f'    {recipe}\n'
            f'(it keeps tensors and plain values only) and use the converted file.') from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as err:
        raise CheckpointError(f'{source}: {path!r} cannot be read as a PyTorch checkpoint '
                         f'({type(err).__name__}: {err}); it may be truncated, still being '
                         f'written, or not a checkpoint') from err


def extract_state_dict(checkpoint: Any, path: str, source: str) -> Dict[str, torch.Tensor]:
    """The tensors of a flat state dict or of ``checkpoint['state_dict']``, without ``module.``."""
    if isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        state_dict = checkpoint['state_dict']
    else:
        state_dict = checkpoint
    if not isinstance(state_dict, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        keys = (sorted(checkpoint)[:10] if isinstance(checkpoint, Mapping)
                else type(checkpoint).__name__)
        raise CheckpointError(f'{source}: {path!r} is neither a state dict (name -> tensor) nor a '
                              f'dict with a "state_dict" entry; its top-level keys are {keys}')
    if any(key.startswith('module.') for key in state_dict):
        state_dict = OrderedDict((key[len('module.'):] if key.startswith('module.') else key, value)
                                 for key, value in state_dict.items())
    return state_dict


# ----------------------------------------------------------------------------- key summaries


def _ranges(values: Sequence[int]) -> str:
    values = sorted(set(values))
    if len(values) > 2 and values[-1] - values[0] == len(values) - 1:
        return f'{values[0]}-{values[-1]}'
    return ','.join(map(str, values))


def summarize_keys(names: Iterable[str]) -> str:
    """Names with numeric path parts folded, e.g. ``layers.{0-8}.norm.weight``, one per line."""
    groups: Dict[str, List[Tuple[int, ...]]] = OrderedDict()
    for name in names:
        parts = name.split('.')
        pattern = '.'.join('*' if p.isdigit() else p for p in parts)
        groups.setdefault(pattern, []).append(tuple(int(p) for p in parts if p.isdigit()))
    lines = []
    for pattern, indices in groups.items():
        columns = iter(zip(*indices))  # the values of each numeric part, in order
        lines.append('    ' + '.'.join('{' + _ranges(next(columns)) + '}' if part == '*' else part
                                       for part in pattern.split('.')))
    return '\n'.join(lines)


# ----------------------------------------------------------------------------- loading into models


def _examples(names: Sequence[str], count: int = 3) -> str:
    shown = ', '.join(names[:count])
    return f'{shown}, ...' if len(names) > count else shown


def _likely_cause(missing: Sequence[str], unexpected: Sequence[str], mismatched: Sequence[str],
                  num_own: int) -> str:
    """A guess at why a checkpoint does not fit, for the strict-loading error."""
    temporal = '.temporal_layer.'
    if any(temporal in key for key in missing) and all(
            key.startswith('decode_head.predictor.') for key in missing):
        return ('it looks like a stage-1 (1f_*) checkpoint used with a stage-2 (video_*) config: '
                'it lacks the stage-2 predictor (decode_head.predictor.temporal_layer.* and '
                'others); test it with its stage-1 config, or train stage 2 from it with '
                'tools/train.py VIDEO_CONFIG --finetune-from CKPT')
    if any(temporal in key for key in unexpected) and all(
            key.startswith('decode_head.predictor.') for key in [*missing, *unexpected]):
        return 'it looks like a stage-2 (video_*) checkpoint used with a stage-1 (1f_*) config'
    if len(missing) == num_own:
        return ('no tensor of this model is in it: is it a checkpoint of another model, or '
                'backbone weights (those go in model.pretrained)?')
    if any(key.startswith('backbone.') for key in mismatched):
        return 'the backbone variant differs (e.g. a mit_b1 checkpoint with a mit_b0 config)'
    if any('class_embed' in key for key in mismatched):
        return 'the number of classes differs from the config\'s'
    return 'the checkpoint was made with another config'


def _strict_error(source: str, path: str, problems: Mapping[str, Sequence[str]], num_own: int,
                  partial_hint: Optional[str]) -> CheckpointError:
    missing, unexpected, mismatched = (problems['missing'], problems['unexpected'],
                                       problems['mismatched'])
    parts = []
    if missing:
        parts.append(f'{len(missing)} of {num_own} model tensors are not in it and would stay '
                     f'uninitialised ({_examples(missing)})')
    if unexpected:
        parts.append(f'{len(unexpected)} tensors in it are unknown to the model '
                     f'({_examples(unexpected)})')
    if mismatched:
        parts.append(f'{len(mismatched)} tensors have another shape ({_examples(mismatched)})')
    cause = _likely_cause(missing, unexpected, [m.split(':')[0] for m in mismatched], num_own)
    allow = f'; {partial_hint} loads it anyway' if partial_hint else ''
    return CheckpointError(f'{source}: {path!r} does not match the model: {"; ".join(parts)}. '
                           f'Likely cause: {cause}{allow}')


def load_checkpoint(model: nn.Module, filename: str, *, strict: bool = False,
                    logger: Optional[logging.Logger] = None, source: str = 'checkpoint',
                    partial_hint: Optional[str] = None) -> Any:
    """Load a checkpoint's weights into ``model`` and return the whole checkpoint.

    Accepts a flat state dict or ``{'state_dict': ...}`` and strips a ``module.`` prefix. Modules
    that renamed official keys map them in their own load hooks (``map_official_keys``); missing and
    unexpected keys are counted after that mapping, so official checkpoints load strictly.

    Args:
        model: the model (a DDP wrapper is looked through).
        filename: the checkpoint file (a directory means its ``latest.pth``).
        strict: raise :class:`CheckpointError` (one line: how many tensors are missing, unknown or
            of another shape, a few names, the likely cause) when the checkpoint does not fit; the
            model may then hold part of the checkpoint and should be discarded. Otherwise the
            problems are logged and the matching tensors are loaded.
        logger: where the report goes (default: the package logger).
        source: the flag or config key that named the file, quoted in messages.
        partial_hint: how the user allows a partial load (``--allow-partial-load``), quoted in the
            strict error.
    """
    path = resolve_checkpoint_path(filename, source)
    checkpoint = _read(path, source)
    apply_checkpoint(model, checkpoint, path, strict=strict, logger=logger, source=source,
                     partial_hint=partial_hint)
    return checkpoint


def apply_checkpoint(model: nn.Module, checkpoint: Any, path: str, *, strict: bool = False,
                     logger: Optional[logging.Logger] = None, source: str = 'checkpoint',
                     partial_hint: Optional[str] = None) -> None:
    """Load the weights of an already read ``checkpoint`` (from ``path``) into ``model``; see
    :func:`load_checkpoint` for the arguments."""
    logger = logger or get_root_logger()
    state_dict = extract_state_dict(checkpoint, path, source)
    module = unwrap_model(model)
    own = module.state_dict()
    mismatched = [f'{key}: checkpoint {list(value.shape)}, model {list(own[key].shape)}'
                  for key, value in state_dict.items()
                  if key in own and own[key].shape != value.shape]
    loadable = OrderedDict((k, v) for k, v in state_dict.items()
                           if k not in own or own[k].shape == v.shape)
    result = module.load_state_dict(loadable, strict=False)  # the official-key hooks run here
    mismatched_keys = {line.split(':')[0] for line in mismatched}
    missing = [key for key in result.missing_keys if key not in mismatched_keys]
    unexpected = list(result.unexpected_keys)
    if strict and (missing or unexpected or mismatched):
        raise _strict_error(source, path, dict(missing=missing, unexpected=unexpected,
                                               mismatched=mismatched),
                            len(own), partial_hint)
    problems = []
    if missing:
        problems.append(f'missing in the checkpoint ({len(missing)}, left as initialised):\n'
                        + summarize_keys(missing))
    if unexpected:
        problems.append(f'unexpected in the checkpoint ({len(unexpected)}, ignored):\n'
                        + summarize_keys(unexpected))
    if mismatched:
        problems.append(f'shape mismatch ({len(mismatched)}, not loaded):\n'
                        + '\n'.join(f'    {line}' for line in mismatched))
    loaded = len(own) - len(result.missing_keys)
    log = logger.warning if problems else logger.info
    log(f'{source}: loaded {loaded} of {len(own)} tensors from {path}'
        + ''.join(f'\n  {problem}' for problem in problems))


# ----------------------------------------------------------------------------- writing


def _fsync_directory(directory: str) -> None:
    if os.name != 'posix':  # Windows cannot open a directory; NTFS renames are journaled
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_name(path: str) -> str:
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f'.{name}{TMP_SUFFIX}')


def _atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through a temporary file, flush, fsync, then ``os.replace``.

    An ``OSError`` on the way (a full disk, a quota, an I/O error) removes the temporary file and
    becomes a :class:`CheckpointError`; ``path`` and every other file are left as they were.
    """
    tmp = temporary_name(path)
    try:
        with open(tmp, 'wb') as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as a RuntimeError
        if not isinstance(err, OSError) and 'write' not in str(err).lower():
            raise
        with contextlib.suppress(OSError):
            os.remove(tmp)
        reason = getattr(err, 'strerror', None) or str(err).strip().splitlines()[-1]
        raise CheckpointError(f'cannot write {path!r}: {reason}; the files written before it, '
                              f'{LATEST} included, are unchanged') from err
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def _point_latest(path: str) -> None:
    """Make ``latest.pth`` beside ``path`` point at it, atomically."""
    directory, name = os.path.split(os.path.abspath(path))
    latest = os.path.join(directory, LATEST)
    tmp = temporary_name(latest)
    if os.path.lexists(tmp):
        os.remove(tmp)
    try:
        os.symlink(name, tmp)
    except OSError:  # no symlinks here (Windows without the privilege, some network filesystems)
        with open(path, 'rb') as src:
            _atomic_write(latest, lambda dst: shutil.copyfileobj(src, dst))
        return
    os.replace(tmp, latest)
    _fsync_directory(directory)


def save_checkpoint(checkpoint: Mapping[str, Any], path: str, *,
                    update_latest: bool = True) -> None:
    """Write ``checkpoint`` to ``path`` atomically, then point ``latest.pth`` at it.

    Raises:
        TypeError: an entry is not a tensor or a plain Python value (it would not load with
            ``weights_only=True``); nothing is written then.
    """
    plain, dropped = to_plain(checkpoint)
    if dropped:
        raise TypeError(f'cannot save {path!r}: these entries are neither tensors nor plain Python '
                        f'values, so the file would not load with weights_only=True: {dropped}')
    _atomic_write(path, lambda handle: torch.save(plain, handle))
    if update_latest:
        _point_latest(path)


def convert_trusted_checkpoint(src: str, dst: str,
                               logger: Optional[logging.Logger] = None) -> List[str]:
    """Re-save a TRUSTED checkpoint so that it loads with ``weights_only=True``.

    This is the one place that unpickles arbitrary objects (``weights_only=False``): only call it on
    files whose origin you trust. Tensors and plain values are kept; everything else is left out
    and listed in the log. Returns the list of what was left out.
    """
    logger = logger or get_root_logger()
    path = resolve_checkpoint_path(src, 'convert_checkpoint')
    if not _looks_like_torch_file(path):
        raise _not_a_checkpoint(path, "convert_checkpoint")
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, ModuleNotFoundError,
            ValueError) as err:
        raise CheckpointError(f'convert_checkpoint: {path!r} cannot be unpickled even with --trust '
                              f'({type(err).__name__}: {err}); it may be truncated, or need a '
                              f'module that is not installed') from None
    plain, dropped = to_plain(checkpoint)
    extract_state_dict(plain, path, 'convert_checkpoint')  # the weights themselves must survive
    save_checkpoint(plain, dst, update_latest=False)
    read_checkpoint(dst, 'convert_checkpoint')
    logger.info(f'wrote {dst} (loads with weights_only=True)'
                + (f'; left out {len(dropped)} non-plain entries: {", ".join(dropped)}'
                   if dropped else ''))
    return dropped
