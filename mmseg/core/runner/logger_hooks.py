"""Logger hooks: text lines, JSON lines (``WORK_DIR/<timestamp>.log.json``) and TensorBoard.

Every ``interval`` iterations (and at the last one) they report ``runner.log_record()``: the
learning rate, each loss term and the total ``loss`` averaged over the iterations since the last
report and over all processes, ``grad_norm`` when gradients are clipped, ``time`` and ``data_time``
(seconds per iteration), ``memory`` (MB: peak CUDA memory on a GPU, else peak process RSS) and the
number of steps skipped for a non-finite loss. Only rank 0 writes.

JSON lines, as mmcv 1.x writes them: the first line is the run's meta (``env_info``, ``config``,
``seed``, ...), then ``{"mode": "train", "iter": ..., "lr": ..., <loss terms>, "loss": ...,
"time": ..., "data_time": ..., "memory": ...}`` per report and ``{"mode": "val", "iter": ...,
<metrics>}`` per evaluation.
"""
import datetime
import importlib.util
import json
import os
import time
from typing import TYPE_CHECKING, Any, Dict, Optional

from .builder import HOOKS
from .hooks import Hook, _check_interval

if TYPE_CHECKING:
    from .runner import IterBasedRunner

__all__ = ['LoggerHook', 'TextLoggerHook', 'TensorboardLoggerHook']


class LoggerHook(Hook):
    """Base of the logger hooks: calls :meth:`log_train` every ``interval`` iterations."""

    priority = 80

    def __init__(self, *, interval: int = 50, by_epoch: bool = False) -> None:
        if by_epoch:
            raise ValueError('log_config hooks with by_epoch=True are not supported: the runner '
                             'counts iterations')
        self.interval = _check_interval('log_config.interval', interval)

    def after_train_iter(self, runner: 'IterBasedRunner') -> None:
        if runner.iter % self.interval == 0 or runner.iter == runner.max_iters:
            record = runner.log_record()  # every process takes part: the averages are all-reduced
            if runner.rank == 0:
                self.log_train(runner, record)

    def after_val(self, runner: 'IterBasedRunner', metrics: Dict[str, float]) -> None:
        if runner.rank == 0:
            self.log_val(runner, metrics)

    def log_train(self, runner: 'IterBasedRunner', record: Dict[str, Any]) -> None:
        """Write one training report (rank 0 only)."""

    def log_val(self, runner: 'IterBasedRunner', metrics: Dict[str, float]) -> None:
        """Write one evaluation report (rank 0 only)."""


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.4f}' if abs(value) >= 1e-3 or value == 0 else f'{value:.3e}'
    return str(value)


@HOOKS.register_module()
class TextLoggerHook(LoggerHook):
    """Text lines in the log and JSON lines in ``WORK_DIR/<timestamp>.log.json``."""

    def __init__(self, *, interval: int = 50, by_epoch: bool = False) -> None:
        super().__init__(interval=interval, by_epoch=by_epoch)
        self.json_path = ''
        self._start_time = 0.0
        self._start_iter = 0

    def before_run(self, runner: 'IterBasedRunner') -> None:
        self._start_time, self._start_iter = time.perf_counter(), runner.iter
        if runner.rank != 0:
            return
        self.json_path = os.path.join(runner.work_dir, f'{runner.timestamp}.log.json')
        if not os.path.exists(self.json_path):
            self._append(runner.meta)
        runner.logger.info(f'JSON log: {self.json_path}')

    def _append(self, record: Dict[str, Any]) -> None:
        with open(self.json_path, 'a') as handle:
            handle.write(json.dumps(record) + '\n')

    def log_train(self, runner: 'IterBasedRunner', record: Dict[str, Any]) -> None:
        done = runner.iter - self._start_iter
        eta_s = ((time.perf_counter() - self._start_time) / max(done, 1)
                 * (runner.max_iters - runner.iter))
        eta = str(datetime.timedelta(seconds=int(eta_s)))
        fields = [f'lr: {record["lr"]:.3e}', f'eta: {eta}']
        fields += [f'{key}: {_format_value(value)}' for key, value in record.items() if key != 'lr']
        runner.logger.info(f'Iter [{runner.iter}/{runner.max_iters}]\t' + ', '.join(fields))
        self._append({'mode': 'train', 'iter': runner.iter, **record})

    def log_val(self, runner: 'IterBasedRunner', metrics: Dict[str, float]) -> None:
        runner.logger.info(f'Iter(val) [{runner.iter}]\t'
                           + ', '.join(f'{key}: {_format_value(value)}'
                                       for key, value in metrics.items()))
        self._append({'mode': 'val', 'iter': runner.iter, **metrics})


@HOOKS.register_module()
class TensorboardLoggerHook(LoggerHook):
    """Scalars ``train/<name>`` and ``val/<metric>`` for TensorBoard in ``log_dir``.

    Skipped, with one log line, when the ``tensorboard`` package is not installed.

    Args:
        interval: iterations between reports.
        log_dir: default ``WORK_DIR/tf_logs``.
        by_epoch: must be False.
    """

    def __init__(self, *, interval: int = 50, log_dir: Optional[str] = None,
                 by_epoch: bool = False) -> None:
        super().__init__(interval=interval, by_epoch=by_epoch)
        self.log_dir = log_dir
        self.writer = None

    def before_run(self, runner: 'IterBasedRunner') -> None:
        if runner.rank != 0:
            return
        if importlib.util.find_spec('tensorboard') is None:
            runner.logger.info('TensorBoard logging skipped: the tensorboard package is not '
                               'installed (pip install tensorboard)')
            return
        from torch.utils.tensorboard import SummaryWriter
        self.log_dir = self.log_dir or os.path.join(runner.work_dir, 'tf_logs')
        self.writer = SummaryWriter(self.log_dir)
        runner.logger.info(f'TensorBoard: tensorboard --logdir {self.log_dir}')

    def _write(self, prefix: str, values: Dict[str, Any], step: int) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            self.writer.add_scalar(f'{prefix}/{key}', value, step)
        self.writer.flush()

    def log_train(self, runner: 'IterBasedRunner', record: Dict[str, Any]) -> None:
        self._write('train', record, runner.iter)

    def log_val(self, runner: 'IterBasedRunner', metrics: Dict[str, float]) -> None:
        self._write('val', metrics, runner.iter)

    def after_run(self, runner: 'IterBasedRunner') -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
