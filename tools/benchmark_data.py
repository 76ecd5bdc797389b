"""Measure the data pipeline and the evaluation at VSPW 480p size.

    python tools/benchmark_data.py [--data DIR] [--workers 0 1 2] [--batches 20] [--json OUT]

1. Training pipeline: clips/s of the real VSPW training pipeline
   (``local_configs/_base_/datasets/vspw_repeat2_mask2former.py``) on 2-frame clips (dilation [-3]),
   2 clips per batch, for each number of loader workers.
2. Evaluation: frames/s of ``evaluator.process`` (mIoU and mVC, ground truth read from disk) on
   random predictions of the frame size.

The data is a synthetic VSPW-layout set generated at 480x853 (``--data`` reuses or creates it).
"""
import argparse
import logging
import os
import tempfile
import time

import numpy as np

from mmseg.utils.cli import non_negative_int, positive_int, run_cli
from mmseg.utils.paths import check_writable_output

CONFIG = 'local_configs/_base_/datasets/vspw_repeat2_mask2former.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark the data pipeline and the evaluation')
    parser.add_argument('--data', help='synthetic dataset folder (created at 480x853 if missing)')
    parser.add_argument('--workers', type=non_negative_int, nargs='+', default=[0, 1, 2],
                        help='loader workers to try')
    parser.add_argument('--batches', type=positive_int, default=20,
                        help='timed training batches per setting')
    parser.add_argument('--json', help='write the results to this JSON file')
    return parser.parse_args(argv)


def bench_train(cfg, data_root, workers, batches):
    from mmseg.datasets import VSPWDataset2, build_dataloader
    dataset = VSPWDataset2(data_root, 'train', cfg.data.train.dataset.pipeline, dilation=[-3])
    loader = build_dataloader(dataset, samples_per_gpu=2, workers_per_gpu=workers, seed=0,
                              sampler=[i % len(dataset) for i in range(2 * (batches + 2))])
    iterator = iter(loader)
    for _ in range(2):  # warm up (worker start)
        next(iterator)
    start = time.perf_counter()
    clips = 0
    for batch in iterator:
        clips += batch['img'].shape[0]
    return clips / (time.perf_counter() - start)


def bench_eval(cfg, data_root):
    from mmseg.datasets import VSPWDataset_multiFrameTest
    dataset = VSPWDataset_multiFrameTest(data_root, 'val', cfg.data.test.pipeline)
    evaluator = dataset.build_evaluator(metrics=['mIoU', 'mVC'])
    rng = np.random.default_rng(0)
    metas = [dict(video=v, frame=f) for v, frames in dataset.video_frames.items() for f in frames]
    shape = dataset.get_gt_seg_map(metas[0]['video'], metas[0]['frame']).shape
    preds = [rng.integers(0, 124, shape).astype(np.uint8) for _ in range(8)]
    start = time.perf_counter()
    for i, meta in enumerate(metas):
        evaluator.process(preds[i % len(preds)], meta)
    quiet = logging.getLogger('benchmark_data.quiet')
    quiet.setLevel(logging.WARNING)
    evaluator.evaluate(logger=quiet)
    return len(metas) / (time.perf_counter() - start), f'{len(metas)} frames {shape[0]}x{shape[1]}'


def main(argv=None):
    args = parse_args(argv)
    if args.json:
        check_writable_output(args.json, '--json')
    from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
    from mmseg.utils.config import load_config
    from mmseg.utils.json_io import write_json_atomically
    from mmseg.utils.table import text_table
    cfg = load_config(CONFIG)
    data_root = args.data or os.path.join(tempfile.gettempdir(), 'themask_benchmark_vspw_480p')
    if not os.path.isfile(os.path.join(data_root, 'val.txt')):
        print(f'generating a 480x853 synthetic dataset in {data_root} ...', flush=True)
        make_synthetic_vspw(data_root, videos=8, size=(480, 853), frames=(17, 24))
    rows = []
    for workers in args.workers:
        print(f'training pipeline, {workers} worker(s) ...', flush=True)
        rows.append(dict(task='train pipeline (2-frame clips, batch 2)', workers=workers,
                         rate=round(bench_train(cfg, data_root, workers, args.batches), 2),
                         unit='clips/s'))
    print('evaluation (mIoU + mVC) ...', flush=True)
    rate, frames = bench_eval(cfg, data_root)
    rows.append(dict(task=f'evaluation mIoU+mVC ({frames})', workers=0, rate=round(rate, 1),
                     unit='frames/s'))
    print('\n' + text_table(['task', 'workers', 'rate', 'unit'],
                            [[r['task'], r['workers'], r['rate'], r['unit']] for r in rows]))
    if args.json:
        write_json_atomically(args.json, dict(cpu_count=os.cpu_count(), results=rows))
    return 0


if __name__ == '__main__':
    run_cli(main)
