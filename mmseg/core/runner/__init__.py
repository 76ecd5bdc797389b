"""The training engine: runner, optimizer, LR schedule, hooks, checkpoints and the data stream."""
from .builder import HOOKS, OPTIMIZERS
from .checkpoint import (UnsafeCheckpointError, convert_trusted_checkpoint, finetune_from, load_checkpoint,
                         read_checkpoint, save_checkpoint)
from .dataloader import InfiniteSampler, SeededSampleStream, build_train_dataloader, collate_stack
from .hooks import CheckpointHook, EvalHook, Hook
from .logger_hooks import LoggerHook, TensorboardLoggerHook, TextLoggerHook
from .lr_schedule import PolyLrSchedule, build_lr_schedule
from .optimizer import build_optimizer
from .runner import IterBasedRunner, NonFiniteLossError, build_runner, parse_losses

__all__ = ['HOOKS', 'OPTIMIZERS', 'UnsafeCheckpointError', 'convert_trusted_checkpoint', 'finetune_from',
           'load_checkpoint', 'read_checkpoint', 'save_checkpoint', 'InfiniteSampler', 'SeededSampleStream',
           'build_train_dataloader', 'collate_stack', 'CheckpointHook', 'EvalHook', 'Hook', 'LoggerHook',
           'TensorboardLoggerHook', 'TextLoggerHook', 'PolyLrSchedule', 'build_lr_schedule',
           'build_optimizer', 'IterBasedRunner', 'NonFiniteLossError', 'build_runner', 'parse_losses']
