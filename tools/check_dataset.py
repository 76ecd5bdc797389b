"""Check a video dataset before a long run: every split file, video folder, frame and mask.

    python tools/check_dataset.py data/vspw/VSPW_480p [--split val] [--workers 8] [--json OUT]
    python tools/check_dataset.py data/cityscapes [--split train]
    python tools/check_dataset.py --config CONFIG [--split train] [--options data_root=DIR]

The first forms check a dataset root: a Cityscapes layout (``leftImg8bit_sequence/`` and
``gtFine/``, default splits train and val) or a VSPW layout (default splits train, val and test);
``--layout`` says which when the folder does not. ``--config`` checks the datasets of a config's
``data.train``, ``data.val`` and ``data.test`` (``--split`` picks among them) with their own
layout (``img_dir``, ``ann_dir``), suffixes and labels (``classes``, ``label_map``,
``reduce_zero_label``).

Lists every problem found (missing, empty or corrupt frames, missing reference frames, missing
masks, colour masks, masks of the wrong size or with values outside the dataset's labels, ...), then
one table of the counts per split, and exits with status 1 if there is any problem.
"""
import argparse
import os

from mmseg.utils.cli import non_negative_int, run_cli
from mmseg.utils.config import DictAction
from mmseg.utils.errors import UsageError
from mmseg.utils.paths import check_writable_output


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check a video dataset')
    parser.add_argument('root', nargs='?',
                        help='dataset root: VSPW (train.txt, val.txt, test.txt and data/) or '
                             'Cityscapes (leftImg8bit_sequence/ and gtFine/)')
    parser.add_argument('--layout', choices=['auto', 'vspw', 'cityscapes'], default='auto',
                        help='layout of ROOT (auto: cityscapes when it holds '
                             'leftImg8bit_sequence/)')
    parser.add_argument('--config', help='check the datasets of this config instead of a VSPW root')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides (with --config), e.g. data_root=DIR')
    parser.add_argument('--split', action='append', dest='splits',
                        help='split to check (repeatable; default: VSPW train, val and test, '
                             'Cityscapes train and val; with --config the dataset names train, '
                             'val, test)')
    parser.add_argument('--workers', type=non_negative_int, default=min(8, os.cpu_count() or 1),
                        help='processes reading files (0: none)')
    parser.add_argument('--json', help='also write the problems and counts to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.datasets.dataset_check import detect_layout, scan_config, scan_dataset, summary_table
    from mmseg.utils.json_io import write_json_atomically
    if (args.root is None) == (args.config is None):
        raise UsageError('give either a dataset root or --config CONFIG')
    if args.root is not None and not os.path.isdir(args.root):
        raise FileNotFoundError(f'dataset root {args.root!r} does not exist; expected a folder '
                                f'holding train.txt, val.txt, test.txt and data/ (VSPW) or '
                                f'leftImg8bit_sequence/ and gtFine/ (Cityscapes)')
    if args.json:
        check_writable_output(args.json, '--json')
    if args.config:
        from mmseg.utils.config import load_config
        cfg = load_config(args.config, args.options)
        splits = args.splits or ['train', 'val', 'test']
        problems, counts, checked = scan_config(cfg.data, splits, workers=args.workers)
        where = ', '.join(checked)
    else:
        layout = detect_layout(args.root) if args.layout == 'auto' else args.layout
        if layout == 'cityscapes' and not any(os.path.isdir(os.path.join(args.root, d))
                                              for d in ('leftImg8bit_sequence', 'gtFine')):
            raise FileNotFoundError(f'dataset root {args.root!r} has no leftImg8bit_sequence/ or '
                                    f'gtFine/ folder; expected the Cityscapes layout (--layout '
                                    f'cityscapes)')
        problems, counts = scan_dataset(args.root, args.splits, workers=args.workers, layout=layout)
        splits = list(counts['per_split'])
        where = f'{", ".join(splits)} in {args.root}'
    for problem in problems:
        print(problem['problem'])
    print(summary_table(problems, counts))
    what = 'snippets' if counts.get('layout') == 'cityscapes' else 'videos'
    print(f'checked {counts["videos"]} {what} and {counts["frames"]} frames of {where}: '
          f'{len(problems)} problem(s)')
    if args.json:
        write_json_atomically(args.json, dict(root=args.root, config=args.config, splits=splits,
                                              **counts, problems=problems))
    return 1 if problems else 0


if __name__ == '__main__':
    run_cli(main)
