"""Write the Cityscapes trainId labels the datasets read from the official labelId images.

    python tools/convert_datasets/cityscapes.py data/cityscapes [--workers 8] [--overwrite]

For every ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` it writes ``*_gtFine_labelTrainIds.png``
beside it by the official table (the 19 trained ids become 0..18, all others 255). A trainIds file
that already exists is kept unless ``--overwrite``. The table is 34 entries, written out in
``mmseg/datasets/cityscapes.py``: cityscapesScripts (and its matplotlib, pyquaternion and
coloredlogs) is not needed for it. Exits with status 1 if a label could not be converted.
"""
import argparse
import os
import time

from mmseg.utils.cli import non_negative_int, run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write Cityscapes labelTrainIds from labelIds')
    parser.add_argument('root', help='Cityscapes root holding gtFine/')
    parser.add_argument('--workers', type=non_negative_int, default=min(8, os.cpu_count() or 1),
                        help='processes (0: none)')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite trainIds labels that exist')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        raise FileNotFoundError(f'Cityscapes root {args.root!r} does not exist; expected a folder '
                                f'holding gtFine/')
    from mmseg.datasets.cityscapes_convert import convert_label_ids
    start = time.time()
    counts = convert_label_ids(args.root, workers=args.workers, overwrite=args.overwrite)
    for message in counts['failed']:
        print(message)
    print(f'{counts["labels"]} labelIds images under {os.path.join(args.root, "gtFine")}: wrote '
          f'{counts["written"]}, kept {counts["skipped"]} that existed, '
          f'{len(counts["failed"])} failed ({time.time() - start:.1f} s)')
    return 1 if counts['failed'] else 0


if __name__ == '__main__':
    run_cli(main)
