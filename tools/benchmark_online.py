"""Frames/s of online segmentation against recomputing each frame's clip and the test protocol.

    python tools/benchmark_online.py local_configs/themask/video_themask_mit_b1.py --size 480x853 \
        --threads 2 --dilations=-3 --dilations=-9,-6,-3 --frames 6 \
        --out work_dirs/benchmark_online.json

For each dilation (clip = frames t+d, then t), on random uint8 BGR frames of ``--size`` through the
config's test pipeline (random weights, ``model.pretrained`` ignored):

* ``online``: :class:`mmseg.apis.OnlineSegmenter`, the backbone and pixel decoder once per frame;
* ``recompute``: ``inference_segmentor`` on the whole clip of every frame (the same predictions);
* ``clips``: the test protocol, ``make_test_clips(N, len(clip), --test-gap)``, every frame once.

Each mode segments ``--warmup`` untimed frames, then ``--frames`` timed ones; frames/s is timed
frames over their total wall time. Online and recompute alternate frame by frame, so that a drift
of the machine's speed reaches both alike.
"""
import argparse
import json
import platform
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from mmseg.apis import OnlineSegmenter, inference_segmentor, init_segmentor
from mmseg.apis.online import clip_offsets
from mmseg.datasets import make_test_clips
from mmseg.utils.cli import non_negative_int, positive_int, run_cli, size_hw, size_text
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError
from mmseg.utils.json_io import write_json_atomically
from mmseg.utils.paths import check_writable_output
from mmseg.utils.table import text_table
from toolkit.benchmark import synchronize


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark online segmentation')
    parser.add_argument('config', nargs='?',
                        default='local_configs/themask/video_themask_mit_b1.py')
    parser.add_argument('--size', type=size_text, default='480x853',
                        help='frame HxW (before the test pipeline)')
    parser.add_argument('--dilations', action='append',
                        help='comma-separated offsets <= 0, repeatable '
                        '(default: -3 and -9,-6,-3); write --dilations=-3')
    parser.add_argument('--frames', type=positive_int, default=6, help='timed frames per mode')
    parser.add_argument('--warmup', type=non_negative_int, default=1,
                        help='untimed frames (clips) first')
    parser.add_argument('--test-gap', type=int, default=3,
                        help='frame spacing of the test protocol clips')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def build(args, dilation: Sequence[int]):
    cfg = load_config(args.config, args.options)
    cfg.model.pretrained = None
    cfg.model.decode_head.transformer_decoder_cfg.num_frames = len(clip_offsets(dilation))
    torch.manual_seed(args.seed)
    return init_segmentor(cfg, device=args.device)


def timed(run, device: str) -> float:
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - start


def measure(model, frames: List[np.ndarray], dilation: Sequence[int],
            args) -> Dict[str, Dict[str, float]]:
    """frames/s and ms/frame of each mode."""
    offsets = clip_offsets(dilation)
    target = offsets.index(0)
    warm, timed_frames = frames[:args.warmup], frames[args.warmup:]
    results = {}

    segmenter = OnlineSegmenter(model, dilation=dilation)

    def recompute(t: int) -> None:
        inference_segmentor(model, [frames[max(t + d, 0)] for d in offsets])[target]

    for t, frame in enumerate(warm):
        segmenter(frame)
        recompute(t)
    # frame by frame, online then recompute, so that a drift of the machine's speed reaches
    # both alike
    results['online'] = results['recompute'] = 0.0
    for t in range(len(warm), len(frames)):
        results['online'] += timed(lambda: segmenter(frames[t]), args.device)
        results['recompute'] += timed(lambda: recompute(t), args.device)

    clips = make_test_clips(len(timed_frames), len(offsets), args.test_gap)
    if warm:
        inference_segmentor(model, warm[:1] * len(offsets))
    results['clips'] = timed(lambda: [inference_segmentor(model, [timed_frames[i] for i in c])
                                      for c in clips],
                             args.device)
    return {mode: dict(fps=len(timed_frames) / seconds,
                       ms_per_frame=seconds / len(timed_frames) * 1e3)
            for mode, seconds in results.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise UsageError(f'--device {args.device}: no CUDA device is available')
    if args.out:
        check_writable_output(args.out, '--out')
    height, width = size_hw(args.size)
    try:
        dilations = [[int(d) for d in text.split(',')]
                     for text in (args.dilations or ['-3', '-9,-6,-3'])]
    except ValueError:
        raise UsageError(f'--dilations: expected comma-separated integers such as -9,-6,-3, got '
                         f'{args.dilations!r}') from None
    rng = np.random.default_rng(args.seed)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
              for _ in range(args.warmup + args.frames)]
    env = dict(config=args.config, size=args.size, device=args.device,
               threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
               torch=torch.__version__, frames=args.frames, warmup=args.warmup,
               test_gap=args.test_gap)
    print(f'[benchmark_online] {json.dumps(env)}', flush=True)
    rows, results = [], []
    for dilation in dilations:
        model = build(args, dilation)
        r = measure(model, frames, dilation, args)
        speedup = r['online']['fps'] / r['recompute']['fps']
        results.append(dict(dilation=dilation, clip_len=len(clip_offsets(dilation)), modes=r,
                            online_vs_recompute=speedup))
        print(f'[benchmark_online] {json.dumps(results[-1])}', flush=True)
        rows.append([str(dilation), str(len(clip_offsets(dilation)))]
                    + [f'{r[m]["fps"]:.3f}' for m in ('online', 'recompute', 'clips')]
                    + [f'x{speedup:.2f}'])
        del model
    print(text_table(['dilation', 'clip frames', 'online frames/s', 'recompute frames/s',
                      'clips frames/s', 'online / recompute'], rows))
    if args.out:
        write_json_atomically(args.out, {'environment': env, 'results': results})
        print(f'[benchmark_online] wrote {args.out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
