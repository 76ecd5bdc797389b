"""Checking output paths before any work starts, so that a long run never fails at its last step.

The folders a check creates are remembered: when the command then fails,
:func:`remove_created_empty_dirs` (called by ``mmseg.utils.cli.run_cli``) removes those still
empty, so a failed run leaves no empty output folders behind.
"""
import os
import shutil
from typing import List

from .errors import UsageError

__all__ = ['check_writable_output', 'remove_created_empty_dirs', 'forget_created_dirs',
           'prepare_output_folder']

_CREATED: List[str] = []  # folders created by the checks of this process, parents first


def _missing_dirs(directory: str) -> List[str]:
    """``directory`` and its missing parents, the outermost first."""
    missing, current = [], os.path.abspath(directory)
    while not os.path.exists(current) and os.path.dirname(current) != current:
        missing.append(current)
        current = os.path.dirname(current)
    return missing[::-1]


def remove_created_empty_dirs() -> None:
    """Remove the folders the checks created that are still empty (innermost first)."""
    for directory in reversed(_CREATED):
        try:
            os.rmdir(directory)  # only succeeds on an empty folder
        except OSError:
            pass
    _CREATED.clear()


def forget_created_dirs() -> None:
    """The command succeeded: its folders stay, whatever they hold."""
    _CREATED.clear()


def _probe_directory(directory: str, path: str, what: str) -> None:
    """Create ``directory`` if needed and write (then delete) a probe file in it."""
    try:
        missing = _missing_dirs(directory)
        os.makedirs(directory, exist_ok=True)
        _CREATED.extend(d for d in missing if d not in _CREATED)
        probe = os.path.join(directory, f'.themask_write_test_{os.getpid()}')
        with open(probe, 'w') as handle:
            handle.write('ok')
        os.remove(probe)
    except OSError as err:
        raise UsageError(f'{what} {path!r} cannot be written: {_why_not_writable(directory, err)}; '
                         f'expected a path in a writable directory') from None


def _why_not_writable(directory: str, err: OSError) -> str:
    """Name the directory at fault: the first one missing on the way, or the one that refuses
    files."""
    reason = err.strerror or str(err)
    if os.path.isdir(directory):
        return f'files cannot be created in {directory!r} ({reason})'
    missing = os.path.abspath(directory)
    while not os.path.exists(os.path.dirname(missing)) and os.path.dirname(missing) != missing:
        missing = os.path.dirname(missing)
    parent = os.path.dirname(missing)
    if os.path.exists(parent) and not os.path.isdir(parent):
        return f'{parent!r} is a file, not a directory'
    return f'{missing!r} does not exist and cannot be created in {parent!r} ({reason})'


def check_writable_output(path: str, what: str, *, directory: bool = False) -> None:
    """Raise :class:`UsageError` unless ``path`` can be written.

    Args:
        path: an output file, or with ``directory=True`` an output folder (created if missing).
        what: the flag or key that named it (``--out``, ``--show-dir``, ``imgfile_prefix``), quoted
            in the message.
        directory: ``path`` is a folder to write files into.
    """
    if not isinstance(path, str) or not path:
        raise UsageError(f'{what} must be a non-empty path, got {path!r}')
    if directory:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f'{what} {path!r} is a file; expected a directory')
        _probe_directory(path, path, what)
        return
    if os.path.isdir(path):
        raise UsageError(f'{what} {path!r} is a directory; expected a file name such as '
                         f'{os.path.join(path, "metrics.json")!r}')
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f'{what} {path!r} exists and is not writable; expected a writable file')
    _probe_directory(os.path.dirname(os.path.abspath(path)), path, what)


def prepare_output_folder(out: str, overwrite: bool, what: str = '--out') -> None:
    """Refuse a non-empty folder ``out`` unless ``overwrite``, then empty it (so nothing stale of an
    earlier run stays behind); it must be writable. ``what`` names the flag in the messages."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f'{what} {out!r} is a file; expected a folder')
    if os.path.isdir(out) and os.listdir(out):
        if not overwrite:
            raise UsageError(f'{what} {out!r} is not empty; expected an empty or new folder (add '
                             f'--overwrite to empty it first)')
        for name in os.listdir(out):
            path = os.path.join(out, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    check_writable_output(out, what, directory=True)
