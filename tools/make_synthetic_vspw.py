"""Generate a small synthetic dataset in the VSPW layout (no download needed).

    python tools/make_synthetic_vspw.py [--out data/vspw_synthetic] [--videos 128] [--seed 0]
                                        [--size 120x160] [--frames 12-30] [--overwrite]

Videos: a quarter val, a twelfth test (frames only), the rest train. The same arguments give
byte-identical files. A non-empty output folder is refused unless ``--overwrite`` is given; then
it is emptied first, so no stale video of an earlier run stays behind.
"""
import argparse
import time

from mmseg.utils.cli import int_range, run_cli, size_hw
from mmseg.utils.errors import UsageError
from mmseg.utils.paths import prepare_output_folder

MIN_VIDEOS, MIN_SIDE = 3, 32


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic VSPW-format dataset')
    parser.add_argument('--out', default='data/vspw_synthetic', help='output dataset root')
    parser.add_argument('--videos', type=int, default=128,
                        help=f'number of videos (all splits, at least {MIN_VIDEOS})')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--size', type=size_hw, default=(120, 160),
                        help=f'frame size HxW (each at least {MIN_SIDE})')
    parser.add_argument('--frames', type=int_range, default=(12, 30),
                        help='frames per video MIN-MAX (MIN >= 1)')
    parser.add_argument('--overwrite', action='store_true',
                        help='empty a non-empty --out folder first (default: refuse it)')
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Refuse values the generator cannot use, naming the flag and the limit."""
    if args.videos < MIN_VIDEOS:
        raise UsageError(f'--videos {args.videos}: expected at least {MIN_VIDEOS} (one train, one '
                         f'val and one test video)')
    if min(args.size) < MIN_SIDE:
        raise UsageError(f'--size {args.size[0]}x{args.size[1]}: expected height and width of at '
                         f'least {MIN_SIDE} pixels')
    if args.frames[0] < 1:
        raise UsageError(f'--frames {args.frames[0]}-{args.frames[1]}: expected MIN >= 1')


def main(argv=None):
    args = parse_args(argv)
    check_args(args)
    prepare_output_folder(args.out, args.overwrite, '--out')
    from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
    start = time.time()
    splits = make_synthetic_vspw(args.out, videos=args.videos, seed=args.seed, size=args.size,
                                 frames=args.frames)
    counts = ', '.join(f'{len(v)} {k}' for k, v in splits.items())
    print(f'wrote {counts} videos of {args.size[0]}x{args.size[1]} to {args.out} in '
          f'{time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    run_cli(main)
