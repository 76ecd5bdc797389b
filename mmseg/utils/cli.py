"""The one place where errors become what a command-line user sees.

An error that names a wrong input (:class:`~mmseg.utils.errors.UserError`: a config key or value, a
flag, an unknown type, a missing, unsafe or unfitting file, bad data, a non-finite loss; and
``FileNotFoundError``/``NotADirectoryError``) is printed as one line ``error: <message>`` on stderr
with exit status 1. Any other exception keeps its traceback. ``THEMASK_DEBUG=1`` shows tracebacks
for everything. Either way the output folders the command's checks created and left empty are
removed.
"""
import argparse
import os
import re
import sys
from typing import Any, Callable, Optional, Sequence, Tuple

from .errors import UserError
from .paths import forget_created_dirs, remove_created_empty_dirs

__all__ = ['run_cli', 'USER_ERRORS', 'DEBUG_ENV', 'size_hw', 'size_text', 'int_range',
           'positive_int', 'non_negative_int']

USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError)
DEBUG_ENV = 'THEMASK_DEBUG'


def run_cli(main: Callable[[Optional[Sequence[str]]], Any],
            argv: Optional[Sequence[str]] = None) -> Any:
    """Run ``main(argv)``; exit with ``error: ...`` on a user error (see the module docstring).

    An integer returned by ``main`` becomes the exit status.
    """
    try:
        result = main(argv)
    except USER_ERRORS as err:
        remove_created_empty_dirs()
        if os.environ.get(DEBUG_ENV):
            raise
        print(f'error: {err}', file=sys.stderr, flush=True)
        sys.exit(1)
    except BaseException:
        remove_created_empty_dirs()
        raise
    forget_created_dirs()
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
    return result


def size_hw(text: str) -> Tuple[int, int]:
    """argparse type: ``'480x853'`` -> ``(480, 853)``; anything else is an argparse error."""
    match = re.fullmatch(r'\s*(\d+)\s*[xX]\s*(\d+)\s*', text)
    if not match or 0 in (int(match.group(1)), int(match.group(2))):
        raise argparse.ArgumentTypeError(f'expected HxW (height x width in pixels, e.g. 480x480), '
                                         f'got {text!r}')
    return int(match.group(1)), int(match.group(2))


def int_range(text: str) -> Tuple[int, int]:
    """argparse type: ``'12-30'`` -> ``(12, 30)`` (MIN-MAX with MIN <= MAX)."""
    match = re.fullmatch(r'\s*(\d+)\s*-\s*(\d+)\s*', text)
    if not match or int(match.group(1)) > int(match.group(2)):
        raise argparse.ArgumentTypeError(f'expected MIN-MAX with MIN <= MAX (e.g. 12-30), got '
                                         f'{text!r}')
    return int(match.group(1)), int(match.group(2))


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected an integer >= 1, got {text!r}')
    return value


def size_text(text: str) -> str:
    """argparse type: like :func:`size_hw`, but keeps the text (normalised to ``'HxW'``)."""
    height, width = size_hw(text)
    return f'{height}x{width}'


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f'expected an integer >= 0, got {text!r}')
    return value
