"""Make the 3-class toy video dataset of docs/custom_dataset.md (a non-VSPW layout).

    python tools/make_toy_dataset.py [--out data/toy3] [--videos 6] [--frames 12-24] [--size 64x96]

Writes ``splits/{train,val}.txt``, ``videos/<name>/frames/<i>.png`` and
``videos/<name>/labels/<i>.png`` (0 background, 1 ball, 2 box, 255 void).
"""
import argparse
import re
import time

from mmseg.utils.cli import run_cli
from mmseg.utils.errors import UsageError


def _pair(text: str, sep: str, name: str):
    match = re.fullmatch(rf'(\d+){sep}(\d+)', text)
    if not match:
        raise argparse.ArgumentTypeError(f'{name} must look like N{sep}M, got {text!r}')
    return int(match.group(1)), int(match.group(2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Make the 3-class toy video dataset')
    parser.add_argument('--out', default='data/toy3', help='output dataset root')
    parser.add_argument('--videos', type=int, default=6,
                        help='number of videos (a third go to val)')
    parser.add_argument('--frames', type=lambda s: _pair(s, '-', '--frames'), default=(12, 24),
                        help='frames per video MIN-MAX')
    parser.add_argument('--size', type=lambda s: _pair(s, 'x', '--size'), default=(64, 96),
                        help='frame size HxW')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.datasets.toy_dataset import make_toy_dataset
    start = time.time()
    try:
        splits = make_toy_dataset(args.out, videos=args.videos, frames=args.frames, size=args.size,
                                  seed=args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    print(f'wrote {len(splits["train"])} train and {len(splits["val"])} val videos of '
          f'{args.size[0]}x{args.size[1]} to {args.out} in {time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    run_cli(main)
