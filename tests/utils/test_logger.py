"""The package logger: a run's log file gets that run's lines only, levels by name, quiet ranks."""
import logging

import pytest

from mmseg.utils.errors import ConfigError
from mmseg.utils.logger import close_log_file, get_root_logger


@pytest.fixture
def logger():
    log = logging.getLogger('mmseg')
    handlers, level = list(log.handlers), log.level
    saved = getattr(log, '_themask_level', None)
    yield log
    for handler in log.handlers:
        if handler not in handlers:
            handler.close()
    log.handlers[:] = handlers
    log.setLevel(level)
    if saved is not None:
        log._themask_level = saved


def test_two_runs_in_one_process_write_their_own_files(logger, tmp_path):
    first, second = tmp_path / 'first.log', tmp_path / 'second.log'
    get_root_logger(log_file=str(first), log_level='INFO').info('line of the first run')
    close_log_file(str(first))
    get_root_logger(log_file=str(second)).info('line of the second run')
    close_log_file(str(second))
    get_root_logger().info('after both runs')
    assert 'line of the first run' in first.read_text() and 'second run' not in first.read_text()
    assert 'line of the second run' in second.read_text() and 'first run' not in second.read_text()
    assert 'after both runs' not in first.read_text() + second.read_text()
    assert not any(isinstance(h, logging.FileHandler) for h in logger.handlers)


def test_levels_by_name_and_quiet_ranks(logger, monkeypatch):
    assert get_root_logger(log_level='DEBUG').level == logging.DEBUG
    assert get_root_logger().level == logging.DEBUG  # kept until changed
    with pytest.raises(ConfigError, match="log_level='LOUD' is not a log level"):
        get_root_logger(log_level='LOUD')
    monkeypatch.setenv('RANK', '1')
    assert get_root_logger(log_level='INFO').level == logging.ERROR
