"""Plot curves from JSON logs, or summarise the training speed.

    python tools/analyze_logs.py plot_curve LOG.json [LOG2.json ...] --keys loss decode.loss_ce \
        mIoU [--legend run1 run2] [--title T] [--width 800 --height 320] --out curves.png
    python tools/analyze_logs.py cal_train_time LOG.json [LOG2.json ...] [--include-outliers]

LOG.json is the ``WORK_DIR/<timestamp>.log.json`` a training run writes: one meta line, then
``{"mode": "train" | "val", "iter": ..., ...}`` lines. Each key gets its own panel, with one line
per log; keys of ``val`` lines (mIoU, mVC8, ...) are plotted against the iteration they were
evaluated at.
"""
import argparse
import difflib
import json
import os
import statistics
from typing import Any, Dict, List

from mmseg.utils.cli import positive_int, run_cli
from mmseg.utils.errors import DataError, UsageError
from mmseg.utils.paths import check_writable_output
from toolkit.plot import line_chart, stack_vertically


def load_json_log(path: str) -> Dict[str, List[Dict[str, Any]]]:
    """Return ``{'train': [...], 'val': [...]}`` records of a JSON log (the meta line is
    skipped)."""
    records: Dict[str, List[Dict[str, Any]]] = {'train': [], 'val': []}
    if not os.path.isfile(path):
        raise FileNotFoundError(f'log file {path!r} does not exist; expected a '
                                f'WORK_DIR/<timestamp>.log.json written by training')
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise DataError(f'{path}:{number} is not a JSON line ({err}); expected a '
                                f'<timestamp>.log.json written by training') from None
            mode = record.get('mode')
            if mode in records:
                records[mode].append(record)
    if not records['train'] and not records['val']:
        raise DataError(f'{path} has no "train" or "val" lines; expected a <timestamp>.log.json')
    return records


def _unknown_key(key: str, available: List[str]) -> UsageError:
    """``--keys KEY`` that no log has, with the closest keys (``loss_ce`` -> ``decode.loss_ce``)."""
    close = [k for k in available if k.endswith('.' + key)]
    close += [k for k in difflib.get_close_matches(key, available, n=3, cutoff=0.6)
              if k not in close]
    hint = f' Did you mean {" or ".join(close[:3])}?' if close else ''
    return UsageError(f'--keys {key}: no log has this key.{hint} Keys found: '
                      f'{", ".join(available)}')


def plot_curve(args: argparse.Namespace) -> None:
    if len(args.legend or args.json_logs) != len(args.json_logs):
        raise UsageError(f'--legend has {len(args.legend)} names for {len(args.json_logs)} logs; '
                         f'expected one name per log')
    check_writable_output(args.out, '--out')
    logs = [load_json_log(path) for path in args.json_logs]
    legend = args.legend or args.json_logs
    panels = []
    for key in args.keys:
        series = []
        for name, log in zip(legend, logs):
            records = [r for mode in ('train', 'val') for r in log[mode] if key in r]
            if records:
                series.append((name, [r['iter'] for r in records],
                               [float(r[key]) for r in records]))
        if not series:
            raise _unknown_key(key, sorted({k for log in logs for mode in log.values()
                                            for r in mode for k in r}))
        title = f'{args.title}: {key}' if args.title else key
        panels.append(line_chart(series, size=(args.width, args.height), title=title, xlabel='iter',
                                 ylabel=key))
    stack_vertically(panels).save(args.out)
    print(f'saved {args.out} ({args.width}x{args.height * len(panels)})')


def cal_train_time(args: argparse.Namespace) -> None:
    for path in args.json_logs:
        records = load_json_log(path)['train']
        if not args.include_outliers:
            records = records[1:]  # the first interval includes start-up (workers, first batches)
        if not records:
            raise DataError(f'{path} has too few train lines to time; expected at least 2 (or add '
                            f'--include-outliers)')
        times = [r['time'] for r in records]
        slowest = max(records, key=lambda r: r['time'])
        fastest = min(records, key=lambda r: r['time'])
        print(f'-----Analyze train time of {path}-----')
        print(f'slowest interval: up to iter {slowest["iter"]}, {slowest["time"]:.4f} s/iter')
        print(f'fastest interval: up to iter {fastest["iter"]}, {fastest["time"]:.4f} s/iter')
        print(f'time std over intervals: {statistics.pstdev(times):.4f}')
        print(f'average iter time: {statistics.fmean(times):.4f} s/iter')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyze JSON training logs')
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot the curves of some keys')
    plot.add_argument('json_logs', nargs='+', help='JSON log files')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot (one panel each)')
    plot.add_argument('--legend', nargs='+', help='one name per log (default: the file names)')
    plot.add_argument('--title', default='', help='title prefix of every panel')
    plot.add_argument('--width', type=positive_int, default=800, help='image width in pixels')
    plot.add_argument('--height', type=positive_int, default=320,
                      help='height of each panel in pixels')
    plot.add_argument('--out', required=True, help='output image (PNG)')
    timing = commands.add_parser('cal_train_time', help='summarise the time per iteration')
    timing.add_argument('json_logs', nargs='+', help='JSON log files')
    timing.add_argument('--include-outliers', action='store_true',
                        help='include the first interval, which contains start-up time')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    {'plot_curve': plot_curve, 'cal_train_time': cal_train_time}[args.command](args)


if __name__ == '__main__':
    run_cli(main)
