"""Train a THE-Mask segmentor.

    python tools/train.py CONFIG [--work-dir DIR] [--options k=v ...]      # one process
    tools/dist_train.sh CONFIG GPUS [--work-dir DIR] [--finetune-from CKPT] # torchrun
"""
import argparse
from typing import Optional

import torch

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError
from mmseg.utils.logger import LOG_LEVELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--load-from', help='checkpoint whose weights initialise the model')
    parser.add_argument('--finetune-from', help='checkpoint loaded non-strictly; then only '
                        'parameters matching finetune_cfg.trainable_patterns (default: '
                        '"predictor") are trained')
    parser.add_argument('--resume-from', help='checkpoint to resume from (weights, optimizer, '
                        'scheduler, iteration and RNG states)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--gpus', type=int, help='number of GPUs to use (non-distributed: only 1)')
    group.add_argument('--gpu-ids', type=int, nargs='+',
                       help='ids of the GPU to use (non-distributed)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='use deterministic algorithms (cuDNN and torch)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (config key amp.dtype: float16 or bfloat16)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the model (config key compile)')
    parser.add_argument('--log-level', choices=LOG_LEVELS,
                        help='log level (default: the config\'s log_level)')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. runner.max_iters=12000; a leading + adds '
                             'a key')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch (torchrun uses LOCAL_RANK)')
    return parser.parse_args(argv)


def device_from_args(args) -> Optional[torch.device]:
    """The device of a one-process run from ``--gpus`` / ``--gpu-ids`` (None: the default)."""
    if args.gpus is not None and args.gpus != 1:
        raise UsageError(f'--gpus {args.gpus}: one process trains on one device; use '
                         f'tools/dist_train.sh CONFIG {args.gpus} for several GPUs')
    if args.gpu_ids is None:
        return None
    if len(args.gpu_ids) != 1:
        raise UsageError('--gpu-ids takes one id without a launcher; use tools/dist_train.sh for '
                         'several GPUs')
    if not torch.cuda.is_available():
        raise UsageError(f'--gpu-ids {args.gpu_ids[0]} but no CUDA device is available')
    if args.launcher != 'none':
        raise UsageError('--gpu-ids is for non-distributed runs; the launcher assigns devices')
    return torch.device('cuda', args.gpu_ids[0])


def main(argv=None):
    args = parse_args(argv)
    device = device_from_args(args)
    cfg = load_config(args.config, dict(args.options,
                                        **({'log_level': args.log_level} if args.log_level
                                           else {})))
    from mmseg.apis.train import train_from_config
    train_from_config(cfg, config_path=args.config, work_dir=args.work_dir,
                      load_from=args.load_from, resume_from=args.resume_from,
                      finetune=args.finetune_from, launcher=args.launcher,
                      seed=args.seed, deterministic=args.deterministic, device=device,
                      validate=not args.no_validate, amp=args.amp,
                      compile=args.compile)


if __name__ == '__main__':
    run_cli(main)
