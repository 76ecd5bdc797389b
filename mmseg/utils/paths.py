"""Checking output paths before any work starts, so that a long run never fails at its last step."""
import os

from .errors import UsageError

__all__ = ['check_writable_output']


def _probe_directory(directory: str, path: str, what: str) -> None:
    """Create ``directory`` if needed and write (then delete) a probe file in it."""
    try:
        os.makedirs(directory, exist_ok=True)
        probe = os.path.join(directory, f'.themask_write_test_{os.getpid()}')
        with open(probe, 'w') as handle:
            handle.write('ok')
        os.remove(probe)
    except OSError as err:
        reason = err.strerror or str(err)
        raise UsageError(f'{what} {path!r} cannot be written: {reason} ({directory!r}); '
                         f'expected a path in a writable directory') from None


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
