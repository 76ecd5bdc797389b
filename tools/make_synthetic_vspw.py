"""Generate a small synthetic dataset in the VSPW layout (no download needed).

    python tools/make_synthetic_vspw.py [--out data/vspw_synthetic] [--videos 128] [--seed 0]
                                        [--size 120x160] [--frames 12-30]

Videos: a quarter val, a twelfth test (frames only), the rest train. The same arguments give
byte-identical files.
"""
import argparse
import re
import sys
import time


def _pair(text, sep, name):
    match = re.fullmatch(rf'(\d+){sep}(\d+)', text)
    if not match:
        raise argparse.ArgumentTypeError(f'{name} must look like N{sep}M, got {text!r}')
    return int(match.group(1)), int(match.group(2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic VSPW-format dataset')
    parser.add_argument('--out', default='data/vspw_synthetic', help='output dataset root')
    parser.add_argument('--videos', type=int, default=128, help='number of videos (all splits)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--size', type=lambda s: _pair(s, 'x', '--size'), default=(120, 160),
                        help='frame size HxW')
    parser.add_argument('--frames', type=lambda s: _pair(s, '-', '--frames'), default=(12, 30),
                        help='frames per video MIN-MAX')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
    start = time.time()
    splits = make_synthetic_vspw(args.out, videos=args.videos, seed=args.seed, size=args.size,
                                 frames=args.frames)
    counts = ', '.join(f'{len(v)} {k}' for k, v in splits.items())
    print(f'wrote {counts} videos of {args.size[0]}x{args.size[1]} to {args.out} in '
          f'{time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
