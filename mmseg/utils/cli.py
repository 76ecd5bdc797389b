"""Entry points of the command-line tools: user errors end with one clear line, not a traceback.

An error that names a wrong input - a config key or value, an unknown type, a missing or unsafe
file, bad data, a non-finite loss - is printed as ``error: <message>`` with exit status 1. Any
other exception keeps its traceback. ``THEMASK_DEBUG=1`` shows tracebacks for everything.
"""
import os
import sys
from typing import Any, Callable, Optional, Sequence


def user_error_types() -> tuple:
    from ..core.runner.checkpoint import UnsafeCheckpointError
    from ..core.runner.runner import NonFiniteLossError
    from ..datasets.file_io import DataError
    from .config import ConfigError
    from .registry import UnknownTypeError
    return (ConfigError, UnknownTypeError, FileNotFoundError, NotADirectoryError, DataError,
            UnsafeCheckpointError, NonFiniteLossError)


def run_cli(main: Callable[[Optional[Sequence[str]]], Any], argv: Optional[Sequence[str]] = None) -> Any:
    """Run ``main(argv)``; exit with ``error: ...`` on a user error (see the module docstring)."""
    try:
        return main(argv)
    except user_error_types() as err:
        if os.environ.get('THEMASK_DEBUG'):
            raise
        print(f'error: {err}', file=sys.stderr, flush=True)
        sys.exit(1)
