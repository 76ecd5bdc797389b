"""Print a config file after `_base_` inheritance and --options overrides; --save writes it.

    python tools/print_config.py CONFIG [--options key.path=value ...] [--save merged.py]
"""
import argparse
import os

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the merged config.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. runner.max_iters=12000 '
                             'data.train.dataset.dilation="[-3]"; a leading + adds a new key')
    parser.add_argument('--save', help='also write the merged config to this file (.py, .json or '
                                       '.yaml)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.options)
    print(f'Config ({args.config}):\n{cfg.pretty_text}')
    if args.save:
        if not args.save.endswith(('.py', '.json', '.yaml', '.yml')):
            raise UsageError(f'--save {args.save!r}: the file must end with .py, .json or .yaml')
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        cfg.dump(args.save)
        print(f'saved the merged config to {args.save}')
    return 0


if __name__ == '__main__':
    run_cli(main)
