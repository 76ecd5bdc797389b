"""Test (and evaluate) a THE-Mask segmentor.

    python tools/test.py CONFIG CHECKPOINT [--eval mIoU mVC] [--options data.test.test_size=N]
    python tools/test.py PUBLISHED_DIR [CHECKPOINT] [--eval mIoU mVC] [--options ...]
    tools/dist_test.sh CONFIG CHECKPOINT GPUS [--eval mIoU mVC] --options data.test.test_size=N

Without --eval, --format-only or --show-dir it evaluates mIoU, as the original does. A folder
written by tools/publish_model.py is a checkpoint; alone, it also gives the config (its
config.py).
"""
import argparse
import os

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError
from mmseg.utils.logger import LOG_LEVELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path (or a published model folder)')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint file (default: the published folder given as config)')
    parser.add_argument('--aug-test', action='store_true',
                        help='multi-scale (0.5-1.75) and flip test-time augmentation')
    parser.add_argument('--out', help='write the metrics as JSON to this file')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the model (config key compile)')
    parser.add_argument('--format-only', action='store_true',
                        help='write VSPW-format label PNGs without evaluating '
                             '(--eval-options imgfile_prefix=DIR)')
    parser.add_argument('--eval', type=str, nargs='+', default=None,
                        help='metrics: mIoU, mVC (mVC8 and mVC16), mDice (default: mIoU unless '
                             '--format-only or --show-dir)')
    parser.add_argument('--allow-partial-load', action='store_true',
                        help='load a checkpoint that does not fit the model (missing, unknown or '
                             'reshaped tensors; missing ones keep their initial values) instead of '
                             'refusing it')
    parser.add_argument('--show-dir', help='directory where image/prediction overlays are written')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted prediction in --show-dir overlays (0, 1]')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. data.test.test_size=2')
    parser.add_argument('--eval-options', nargs='+', action=DictAction, default={},
                        help='evaluation options, e.g. imgfile_prefix=DIR vc_gt=raw; '
                             'label_offset=1 writes VSPW\'s raw ids 1..124 instead of 0..123')
    parser.add_argument('--log-level', choices=LOG_LEVELS,
                        help='log level (default: the config\'s log_level)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by torch.distributed.launch (torchrun uses LOCAL_RANK)')
    return parser.parse_args(argv)


def metrics_from_args(args) -> list:
    """The metrics to compute: ``--eval``, or mIoU when no output was asked for at all."""
    if args.eval and args.format_only:
        raise UsageError('--eval and --format-only exclude each other (--format-only only writes '
                         'the result PNGs; to write them while evaluating, add --eval-options '
                         'imgfile_prefix=DIR to --eval)')
    if args.format_only:
        if 'imgfile_prefix' not in args.eval_options:
            raise UsageError('--format-only needs --eval-options imgfile_prefix=DIR')
        if args.out:
            raise UsageError('--out writes the metrics, so it needs --eval, not --format-only')
        return []
    if args.eval:
        return list(args.eval)
    return [] if args.show_dir and not args.out else ['mIoU']


def config_and_checkpoint(args) -> tuple:
    """(config path, checkpoint); a published folder alone gives both."""
    from mmseg.utils.published_model import CONFIG_FILE, is_published_model
    if is_published_model(args.config):
        return os.path.join(args.config, CONFIG_FILE), args.checkpoint or args.config
    if args.checkpoint is None:
        raise UsageError(f'expected CONFIG CHECKPOINT, or a folder written by '
                         f'tools/publish_model.py; got only {args.config!r}')
    return args.config, args.checkpoint


def main(argv=None):
    args = parse_args(argv)
    args.config, args.checkpoint = config_and_checkpoint(args)
    metrics = metrics_from_args(args)
    cfg = load_config(args.config,
                      dict(args.options,
                           **({'log_level': args.log_level} if args.log_level else {})))
    from mmseg.apis.test import test_from_config
    test_from_config(cfg, args.checkpoint, config_path=args.config, metrics=metrics,
                     eval_options=args.eval_options, out=args.out, show_dir=args.show_dir,
                     opacity=args.opacity, launcher=args.launcher, aug_test=args.aug_test,
                     strict=not args.allow_partial_load, compile=args.compile)


if __name__ == '__main__':
    run_cli(main)
