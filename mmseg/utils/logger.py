"""The package logger: one ``logging`` logger named ``mmseg``, quiet on non-zero ranks."""
import logging
import os
from typing import Optional

_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


def _rank() -> int:
    for var in ('RANK', 'SLURM_PROCID'):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def get_root_logger(log_file: Optional[str] = None, log_level: int = logging.INFO) -> logging.Logger:
    """Return the ``mmseg`` logger; the first call with ``log_file`` also writes to that file.

    Processes other than rank 0 only log errors, so a multi-GPU run prints each line once.
    """
    logger = logging.getLogger('mmseg')
    rank = _rank()
    if not getattr(logger, '_themask_configured', False):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
        logger._themask_configured = True
    if log_file is not None and rank == 0:
        path = os.path.abspath(log_file)
        if not any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in logger.handlers):
            file_handler = logging.FileHandler(path, 'w')
            file_handler.setFormatter(logging.Formatter(_FORMAT))
            logger.addHandler(file_handler)
    logger.setLevel(log_level if rank == 0 else logging.ERROR)
    return logger


def print_log(msg: str, logger: Optional[logging.Logger] = None, level: int = logging.INFO) -> None:
    """Log ``msg`` with ``logger`` (the package logger by default)."""
    (logger or get_root_logger()).log(level, msg)
