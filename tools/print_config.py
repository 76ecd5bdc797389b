"""Print a config file after `_base_` inheritance and --options overrides.

    python tools/print_config.py CONFIG [--options key.path=value ...]
"""
import argparse

from mmseg.utils.cli import run_cli
from mmseg.utils.config import DictAction, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Print the merged config.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. runner.max_iters=12000 '
                             'data.train.dataset.dilation="[-3]"; a leading + adds a new key')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.options)
    print(f'Config ({args.config}):\n{cfg.pretty_text}')


if __name__ == '__main__':
    run_cli(main)
