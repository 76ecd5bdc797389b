"""Generate a small synthetic dataset in the Cityscapes layout (no download needed).

    python tools/make_synthetic_cityscapes.py [--out data/cityscapes_synthetic] [--cities 2 1]
        [--snippets 4] [--seed 0] [--size 128x256] [--overwrite]
    python tools/convert_datasets/cityscapes.py data/cityscapes_synthetic

30-frame snippets whose 20th frame has an official labelIds image (the second command writes the
labelTrainIds the datasets read). ``--cities TRAIN VAL`` gives the number of cities per split. The
same arguments give byte-identical files. A non-empty output folder is refused unless
``--overwrite`` is given; then it is emptied first.
"""
import argparse
import time

from mmseg.utils.cli import positive_int, run_cli, size_hw
from mmseg.utils.errors import UsageError
from mmseg.utils.paths import prepare_output_folder

MIN_SIDE = 32


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic Cityscapes-format dataset')
    parser.add_argument('--out', default='data/cityscapes_synthetic', help='output dataset root')
    parser.add_argument('--cities', type=positive_int, nargs=2, default=[2, 1],
                        metavar=('TRAIN', 'VAL'),
                        help='cities of train and of val (8 in all at most)')
    parser.add_argument('--snippets', type=positive_int, default=4,
                        help='30-frame snippets per city')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--size', type=size_hw, default=(128, 256),
                        help=f'frame size HxW (each at least {MIN_SIDE})')
    parser.add_argument('--overwrite', action='store_true',
                        help='empty a non-empty --out folder first (default: refuse it)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.datasets.synthetic_cityscapes import CITY_NAMES, make_synthetic_cityscapes
    if sum(args.cities) > len(CITY_NAMES):
        raise UsageError(f'--cities {args.cities[0]} {args.cities[1]}: expected '
                         f'{len(CITY_NAMES)} cities in all at most')
    if min(args.size) < MIN_SIDE:
        raise UsageError(f'--size {args.size[0]}x{args.size[1]}: expected height and width of at '
                         f'least {MIN_SIDE} pixels')
    prepare_output_folder(args.out, args.overwrite, '--out')
    start = time.time()
    labelled = make_synthetic_cityscapes(args.out, cities=args.cities, snippets=args.snippets,
                                         seed=args.seed, size=args.size)
    counts = ', '.join(f'{len(v)} {k}' for k, v in labelled.items())
    print(f'wrote {counts} snippets of 30 {args.size[0]}x{args.size[1]} frames to {args.out} in '
          f'{time.time() - start:.1f} s; next: python tools/convert_datasets/cityscapes.py '
          f'{args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
