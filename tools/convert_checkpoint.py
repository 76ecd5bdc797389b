"""Convert a TRUSTED checkpoint that needs arbitrary unpickling into one that loads safely.

THE-Mask loads every checkpoint with ``torch.load(..., weights_only=True)``: only tensors and plain
Python values. A file holding other Python objects (NumPy scalars, custom classes) is refused,
because unpickling such objects can run any code the file's author put there. If you trust where
the file came from, convert it once:

    python tools/convert_checkpoint.py IN.pth OUT.pth --trust

This unpickles IN.pth fully (``weights_only=False``), keeps the tensors and plain values (NumPy
arrays become tensors, NumPy scalars Python numbers), lists what it left out, writes OUT.pth and
checks that OUT.pth loads with ``weights_only=True``.
"""
import argparse
import sys

from mmseg.utils.checkpoint import UnsafeCheckpointError, convert_trusted_checkpoint, read_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Re-save a trusted checkpoint with tensors and plain '
                                                 'values only, so that it loads with weights_only=True')
    parser.add_argument('src', help='the checkpoint to convert')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--trust', action='store_true',
                        help='confirm that you trust SRC: it will be unpickled, which can run code')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        read_checkpoint(args.src, 'convert_checkpoint')
    except UnsafeCheckpointError:
        if not args.trust:
            print(f'{args.src} needs arbitrary unpickling, which can run code chosen by whoever made '
                  f'the file. Only if you trust its origin, run again with --trust.', file=sys.stderr)
            return 2
        convert_trusted_checkpoint(args.src, args.dst)
        return 0
    print(f'{args.src} already loads with weights_only=True; nothing to convert.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
