"""The one place where errors become what a command-line user sees.

An error that names a wrong input (:class:`~mmseg.utils.errors.UserError`: a config key or value, a
flag, an unknown type, a missing, unsafe or unfitting file, bad data, a non-finite loss; and
``FileNotFoundError``/``NotADirectoryError``) is printed as one line ``error: <message>`` on stderr
with exit status 1. Any other exception keeps its traceback. ``THEMASK_DEBUG=1`` shows tracebacks
for everything.
"""
import os
import sys
from typing import Any, Callable, Optional, Sequence

from .errors import UserError

__all__ = ['run_cli', 'USER_ERRORS', 'DEBUG_ENV']

USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError)
DEBUG_ENV = 'THEMASK_DEBUG'


def run_cli(main: Callable[[Optional[Sequence[str]]], Any], argv: Optional[Sequence[str]] = None) -> Any:
    """Run ``main(argv)``; exit with ``error: ...`` on a user error (see the module docstring).

    An integer returned by ``main`` becomes the exit status.
    """
    try:
        result = main(argv)
    except USER_ERRORS as err:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f'error: {err}', file=sys.stderr, flush=True)
        sys.exit(1)
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
    return result
