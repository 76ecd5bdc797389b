"""Test (and evaluate) a THE-Mask segmentor.

    python tools/test.py CONFIG CHECKPOINT --eval mIoU mVC [--options data.test.test_size=N]
    tools/dist_test.sh CONFIG CHECKPOINT GPUS --eval mIoU mVC --options data.test.test_size=N
"""
import argparse

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--aug-test', action='store_true',
                        help='multi-scale (0.5-1.75) and flip test-time augmentation')
    parser.add_argument('--out', help='write the metrics as JSON to this file')
    parser.add_argument('--format-only', action='store_true',
                        help='write VSPW-format label PNGs without evaluating '
                             '(--eval-options imgfile_prefix=DIR)')
    parser.add_argument('--eval', type=str, nargs='+', default=None,
                        help='metrics: mIoU, mVC (mVC8 and mVC16), mDice')
    parser.add_argument('--show-dir', help='directory where image/prediction overlays are written')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted prediction in --show-dir overlays (0, 1]')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. data.test.test_size=2')
    parser.add_argument('--eval-options', nargs='+', action=DictAction, default={},
                        help='evaluation options, e.g. imgfile_prefix=DIR vc_gt=raw')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch (torchrun uses LOCAL_RANK)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.apis.test import cli_test
    cli_test(args)


if __name__ == '__main__':
    run_cli(main)
