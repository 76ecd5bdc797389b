"""Peak memory of streaming evaluation over a long video (mIoU + mVC8/mVC16).

    python tools/benchmark_eval_memory.py [--frames 100 1000] [--size 480x853] \
        [--out eval_memory.json]

Each run evaluates one synthetic video of N frames in a fresh process: the ground truth of frame t
is a fixed label map shifted by t pixels (a panning camera), the prediction is that map with 5% of
the pixels changed; both are made on the fly, so nothing but the evaluator keeps frames. Reported:
the process's peak resident set size, its resident set size before the first frame (torch, numpy
and the evaluator loaded), and the growth between them. Memory stays flat when the peak for the
longest video is within 10% of the peak for the shortest.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

from mmseg.utils.cli import positive_int, run_cli, size_hw
from mmseg.utils.paths import check_writable_output

NUM_CLASSES = 124


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Peak memory of streaming evaluation over a long video')
    parser.add_argument('--frames', type=positive_int, nargs='+', default=[100, 1000],
                        help='video lengths')
    parser.add_argument('--size', type=size_hw, default=(480, 853), help='frame size HxW')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--child', type=positive_int, help=argparse.SUPPRESS)  # one measurement
    return parser.parse_args(argv)


def _rss_mib() -> float:
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def measure(frames: int, size) -> dict:
    """Evaluate one video of ``frames`` frames in this process; return its memory figures."""
    import numpy as np

    from mmseg.core.evaluation import VideoSegEvaluator
    from mmseg.datasets.file_io import reduce_zero_label_table
    height, width = size
    rng = np.random.default_rng(0)
    base = rng.integers(0, NUM_CLASSES + 1, (height // 16 + 1, width // 16 + 1 + frames),
                        dtype=np.uint8)
    base = base.repeat(16, 0).repeat(16, 1)

    def ground_truth(t):
        return np.ascontiguousarray(base[:height, t:t + width])

    names = [f'{t:05d}' for t in range(frames)]
    evaluator = VideoSegEvaluator(class_names=[str(c) for c in range(NUM_CLASSES)],
                                  video_frames={'video': names},
                                  load_gt=lambda video, frame, shape: ground_truth(int(frame)),
                                  gt_label_map=reduce_zero_label_table(), metrics=['mIoU', 'mVC'])
    before = _rss_mib()
    start = time.perf_counter()
    noise = np.random.default_rng(1)
    for t, name in enumerate(names):
        pred = np.clip(ground_truth(t).astype(np.int64) - 1, 0, NUM_CLASSES - 1)
        flip = noise.random(pred.shape) < 0.05
        pred[flip] = noise.integers(0, NUM_CLASSES, int(flip.sum()))
        evaluator.process(pred, dict(video='video', frame=name))
    import logging
    quiet = logging.getLogger('benchmark_eval_memory.quiet')
    quiet.setLevel(logging.WARNING)
    results = evaluator.evaluate(logger=quiet)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return dict(frames=frames, size=f'{height}x{width}', rss_before_mib=round(before, 1),
                peak_rss_mib=round(peak, 1), growth_mib=round(peak - before, 1),
                seconds=round(time.perf_counter() - start, 1),
                mIoU=results['mIoU'], mVC8=results['mVC8'], mVC16=results['mVC16'])


def run_child(frames: int, size) -> dict:
    command = [sys.executable, os.path.abspath(__file__), '--child', str(frames), '--size',
               f'{size[0]}x{size[1]}']
    res = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.size)))
        return 0
    if args.out:
        check_writable_output(args.out, '--out')
    rows = []
    for frames in args.frames:
        print(f'evaluating {frames} frames of {args.size[0]}x{args.size[1]} ...', flush=True)
        rows.append(run_child(frames, args.size))
    from mmseg.utils.table import text_table
    print(text_table(['frames', 'size', 'RSS before MiB', 'peak RSS MiB', 'growth MiB', 's',
                      'mVC8'],
                     [[r['frames'], r['size'], r['rss_before_mib'], r['peak_rss_mib'],
                       r['growth_mib'], r['seconds'],
                       f'{100 * r["mVC8"]:.2f}' if r['mVC8'] is not None else 'n/a']
                      for r in rows]))
    ratio = rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']
    print(f'peak RSS {rows[-1]["frames"]} frames / {rows[0]["frames"]} frames: {ratio:.3f} '
          f'({"within" if abs(ratio - 1) <= 0.10 else "NOT within"} 10%)')
    if args.out:
        from mmseg.utils.json_io import write_json_atomically
        write_json_atomically(args.out, dict(results=rows, peak_ratio=ratio,
                                             cpu_count=os.cpu_count()))
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
