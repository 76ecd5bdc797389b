"""Running ``tools/<name>.py`` in this process: its ``main`` under ``run_cli``, as its ``__main__``
does.

A tool started as a subprocess imports torch and the package again (3-4 s each on the 2-core CI
machine). Tests that are not about processes (signals, launchers, what a fresh interpreter loads)
run the tools here instead. :func:`run_tool` then puts back what a run changes for the rest of the
process: deterministic algorithms, cuDNN flags, threads, RNG states, environment variables and the
package logger's level and file handlers. A traceback surfaces as an exception, not as text.
"""
import contextlib
import logging
import os
import random
import runpy
import sys
from typing import Callable, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch

from mmseg.utils.cli import run_cli
from mmseg.utils.logger import get_root_logger

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MAINS = {}


def tool_main(name: str) -> Callable:
    """``main(argv)`` of ``tools/<name>.py`` (loaded once per process)."""
    if name not in _MAINS:
        _MAINS[name] = runpy.run_path(os.path.join(ROOT, 'tools', f'{name}.py'),
                                      run_name=f'tool_{name}')['main']
    return _MAINS[name]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time (each test's capture)."""

    def write(self, text):
        return sys.stderr.write(text)

    def flush(self):
        sys.stderr.flush()


@contextlib.contextmanager
def process_state_kept() -> Iterator[None]:
    """Undo, on leaving, the process-wide changes a tool run makes (see the module docstring)."""
    logger = get_root_logger()  # the console handler exists from here on
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:  # the package's, not pytest's
            # not setStream: it flushes the old, maybe closed, stream
            handler.stream = _CurrentStderr()
    handlers, level, package_level = list(logger.handlers), logger.level, logger._themask_level
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    threads, environ = torch.get_num_threads(), dict(os.environ)
    rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger._themask_level = package_level
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environ)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.set_rng_state(rng[2])


def run_tool(name: str, argv: Sequence[str], capsys,
             threads: Optional[int] = None) -> Tuple[int, str, str]:
    """Run ``tools/<name>.py argv`` here; return ``(exit status, stdout, stderr)``.

    Args:
        capsys: the calling test's fixture.
        threads: compute with this many threads during the run. Weights compared bitwise with a
            subprocess's (started with ``OMP_NUM_THREADS=1``) need the same count: reductions split
            over other thread counts round differently.

    ``THEMASK_DEBUG`` is unset for the run.
    """
    with process_state_kept():
        os.environ.pop('THEMASK_DEBUG', None)
        if threads is not None:
            torch.set_num_threads(threads)
        capsys.readouterr()
        code = 0
        try:
            run_cli(tool_main(name), list(argv))
        except SystemExit as exit_info:
            code = exit_info.code
        out, err = capsys.readouterr()
    # SystemExit('error: ...'): Python prints it on stderr and exits with 1
    if isinstance(code, str):
        code, err = 1, err + code + '\n'
    return (0 if code is None else code), out, err
