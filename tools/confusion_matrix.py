"""Plot the confusion matrix that ``tools/test.py --eval mIoU --out RESULTS.json`` saved.

    python tools/test.py CONFIG CKPT --eval mIoU --out work_dirs/results.json
    python tools/confusion_matrix.py work_dirs/results.json [--out confusion.png] [--max-classes 30]

Writes a heat map (rows: ground truth, columns: prediction, each row normalised to 100%, class
names on both axes) and prints the largest confusions between different classes as a table.
"""
import argparse
import json
import os

import numpy as np

from mmseg.utils.cli import run_cli
from mmseg.utils.errors import UsageError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot a confusion matrix from tools/test.py --out JSON')
    parser.add_argument('results', help='the --out JSON of tools/test.py (evaluated with mIoU or '
                                        'mDice)')
    parser.add_argument('--out', help='PNG to write (default: next to the JSON, '
                                      '<name>_confusion.png)')
    parser.add_argument('--max-classes', type=int, default=40,
                        help='plot at most this many classes (those with the most ground-truth '
                             'pixels)')
    parser.add_argument('--top', type=int, default=10, help='confusions to list')
    return parser.parse_args(argv)


def load_confusion(path: str):
    """(matrix (K, K) int64, class names) from a results JSON."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'results file {path!r} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            results = json.load(f)
    except json.JSONDecodeError as err:
        raise UsageError(f'{path} is not JSON ({err}); expected the --out file of '
                         f'tools/test.py') from None
    if not isinstance(results, dict) or 'confusion_matrix' not in results:
        raise UsageError(f'{path} holds no confusion_matrix; write it with tools/test.py --eval '
                         f'mIoU --out {path}')
    matrix = np.asarray(results['confusion_matrix'], dtype=np.int64)
    classes = results.get('classes') or [str(i) for i in range(len(matrix))]
    if matrix.ndim != 2 or matrix.shape != (len(classes), len(classes)):
        raise UsageError(f'{path}: confusion_matrix has shape {matrix.shape}; expected '
                         f'{len(classes)}x{len(classes)} (one row and column per class)')
    return matrix, list(classes)


def top_confusions(matrix: np.ndarray, classes, top: int):
    """[(ground truth, predicted as, % of the ground-truth class's pixels)] largest first."""
    totals = matrix.sum(1)
    rows = []
    for i, j in zip(*np.nonzero(matrix)):
        if i != j and totals[i]:
            rows.append((classes[i], classes[j], 100.0 * matrix[i, j] / totals[i]))
    return sorted(rows, key=lambda r: -r[2])[:top]


def main(argv=None):
    args = parse_args(argv)
    if args.max_classes < 1:
        raise UsageError(f'--max-classes must be at least 1, got {args.max_classes}')
    from mmseg.utils.paths import check_writable_output
    from mmseg.utils.table import text_table
    from toolkit.figures import confusion_image
    out = args.out or os.path.splitext(args.results)[0] + '_confusion.png'
    if args.out:
        check_writable_output(out, '--out')
    matrix, classes = load_confusion(args.results)
    image = confusion_image(matrix, classes, max_classes=args.max_classes)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    image.save(out)
    rows = top_confusions(matrix, classes, args.top)
    if rows:
        print(text_table(['ground truth', 'predicted as', '% of its pixels'],
                         [[a, b, f'{p:.1f}'] for a, b, p in rows]))
    print(f'wrote {out} ({min(len(classes), args.max_classes)} of {len(classes)} classes)')
    return 0


if __name__ == '__main__':
    run_cli(main)
