"""Check a VSPW-layout dataset before a long run: every split file, video folder, frame and mask.

    python tools/check_dataset.py data/vspw/VSPW_480p [--split val] [--workers 8] [--json OUT]

Lists every problem found (missing, empty or corrupt frames, missing masks, colour masks, masks of
the wrong size or with values outside 0..124 and 255, ...) and exits with status 1 if there is any.
"""
import argparse
import os

from mmseg.utils.cli import non_negative_int, run_cli
from mmseg.utils.paths import check_writable_output


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check a VSPW-layout dataset')
    parser.add_argument('root', help='dataset root holding train.txt, val.txt, test.txt and data/')
    parser.add_argument('--split', action='append', dest='splits',
                        help='split to check (repeatable; default: train, val and test)')
    parser.add_argument('--workers', type=non_negative_int, default=min(8, os.cpu_count() or 1),
                        help='processes reading files (0: none)')
    parser.add_argument('--json', help='also write the problems and counts to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        raise FileNotFoundError(f'dataset root {args.root!r} does not exist; expected a folder holding '
                                f'train.txt, val.txt, test.txt and data/')
    if args.json:
        check_writable_output(args.json, '--json')
    from mmseg.datasets.dataset_check import scan_dataset
    from mmseg.utils.json_io import write_json_atomically
    splits = args.splits or ['train', 'val', 'test']
    problems, counts = scan_dataset(args.root, splits, workers=args.workers)
    for problem in problems:
        print(problem['problem'])
    print(f'checked {counts["videos"]} videos and {counts["frames"]} frames of {", ".join(splits)} '
          f'in {args.root}: {len(problems)} problem(s)')
    if args.json:
        write_json_atomically(args.json, dict(root=args.root, splits=splits, **counts, problems=problems))
    return 1 if problems else 0


if __name__ == '__main__':
    run_cli(main)
