"""Train a THE-Mask segmentor.

    python tools/train.py CONFIG [--work-dir DIR] [--options k=v ...]      # one process
    tools/dist_train.sh CONFIG GPUS [--work-dir DIR] [--finetune-from CKPT] # torchrun
"""
import argparse

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--load-from', help='checkpoint whose weights initialise the model')
    parser.add_argument('--finetune-from', help='checkpoint loaded non-strictly; then only parameters '
                        'matching finetune_cfg.trainable_patterns (default: "predictor") are trained')
    parser.add_argument('--resume-from', help='checkpoint to resume from (weights, optimizer, '
                        'scheduler, iteration and RNG states)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--gpus', type=int, help='number of GPUs to use (non-distributed: only 1)')
    group.add_argument('--gpu-ids', type=int, nargs='+', help='ids of the GPU to use (non-distributed)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='use deterministic algorithms (cuDNN and torch)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (config key amp.dtype: float16 or bfloat16)')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. runner.max_iters=12000; a leading + adds a key')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch (torchrun uses LOCAL_RANK)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.apis.train import cli_train
    cli_train(args)


if __name__ == '__main__':
    run_cli(main)
