"""The package logger: one ``logging`` logger named ``mmseg``, quiet on non-zero ranks.

Its level is the config's ``log_level`` (``tools/train.py --log-level``); ``DEBUG`` also shows the
debug lines, such as the matcher's note when queries run out.
"""
import logging
import os
from typing import Optional, Set, Union

__all__ = ['get_root_logger', 'close_log_file', 'print_log', 'log_once', 'LOG_LEVELS', 'FILE_ONLY']

_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'
LOG_LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR')
# ``logger.info(text, extra=FILE_ONLY)``: a record for the log file, not the console (the whole
# config, the environment)
FILE_ONLY = {'file_only': True}
# the keys of the notices :func:`log_once` has logged in this process
_LOGGED_ONCE: Set[str] = set()


def _console_record(record: logging.LogRecord) -> bool:
    return not getattr(record, 'file_only', False)


def _rank() -> int:
    for var in ('RANK', 'SLURM_PROCID'):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _level(log_level: Union[int, str]) -> int:
    if isinstance(log_level, str):
        if log_level.upper() not in LOG_LEVELS:
            from .errors import ConfigError
            raise ConfigError(f'log_level={log_level!r} is not a log level; expected one of '
                              f'{LOG_LEVELS}')
        return getattr(logging, log_level.upper())
    return int(log_level)


def get_root_logger(log_file: Optional[str] = None,
                    log_level: Optional[Union[int, str]] = None) -> logging.Logger:
    """Return the ``mmseg`` logger; the first call with ``log_file`` also writes to that file.

    ``log_level`` (a name such as ``'DEBUG'`` or a ``logging`` number) sets the level; without it
    the level stays as set before (INFO at first). Processes other than rank 0 only log errors, so a
    multi-GPU run prints each line once.
    """
    logger = logging.getLogger('mmseg')
    rank = _rank()
    if not getattr(logger, '_themask_configured', False):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(_console_record)
        logger.addHandler(handler)
        logger.propagate = False
        logger._themask_configured = True
        logger._themask_level = logging.INFO
    if log_file is not None and rank == 0:
        path = os.path.abspath(log_file)
        if not any(isinstance(h, logging.FileHandler) and h.baseFilename == path
                   for h in logger.handlers):
            file_handler = logging.FileHandler(path, 'w')
            file_handler.setFormatter(logging.Formatter(_FORMAT))
            logger.addHandler(file_handler)
    if log_level is not None:
        logger._themask_level = _level(log_level)
    logger.setLevel(logger._themask_level if rank == 0 else logging.ERROR)
    return logger


def close_log_file(log_file: str) -> None:
    """Stop writing the package logger to ``log_file`` (added by :func:`get_root_logger`) and close
    it.

    A second run in the same process (a sweep, a notebook) then does not also log into the first
    run's file.
    """
    logger = logging.getLogger('mmseg')
    path = os.path.abspath(log_file)
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler) and handler.baseFilename == path:
            logger.removeHandler(handler)
            handler.close()


def print_log(msg: str, logger: Optional[logging.Logger] = None, level: int = logging.INFO) -> None:
    """Log ``msg`` with ``logger`` (the package logger by default)."""
    (logger or get_root_logger()).log(level, msg)


def log_once(key: str, msg: str, level: int = logging.INFO) -> None:
    """Log ``msg`` with the package logger unless a message with ``key`` was logged before in this
    process (notices such as an accepted old name, which would otherwise repeat per dataset)."""
    if key not in _LOGGED_ONCE:
        _LOGGED_ONCE.add(key)
        get_root_logger().log(level, msg)
