"""The training engine: runner, optimizer, LR schedule, hooks, fine-tuning and the data stream."""
from .builder import HOOKS, OPTIMIZERS
from .checkpoint import finetune_from, prune_checkpoints, remove_stale_temporaries
from .dataloader import InfiniteSampler, SeededSampleStream, build_train_dataloader
from .hooks import CheckpointHook, EvalHook, Hook
from .logger_hooks import LoggerHook, TensorboardLoggerHook, TextLoggerHook
from .lr_schedule import PolyLrSchedule, build_lr_schedule
from .optimizer import build_optimizer
from .runner import IterBasedRunner, build_runner, parse_losses

__all__ = ['HOOKS', 'OPTIMIZERS', 'finetune_from', 'prune_checkpoints', 'remove_stale_temporaries',
           'InfiniteSampler', 'SeededSampleStream', 'build_train_dataloader', 'CheckpointHook',
           'EvalHook', 'Hook', 'LoggerHook', 'TensorboardLoggerHook', 'TextLoggerHook',
           'PolyLrSchedule', 'build_lr_schedule', 'build_optimizer', 'IterBasedRunner',
           'build_runner', 'parse_losses']
