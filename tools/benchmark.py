"""Benchmark a THE-Mask model: inference (and training-step) speed, peak memory, size, GFLOPs.

    python tools/benchmark.py local_configs/themask/video_themask_mit_b1.py --clip-len 2 \
        --size 480x480 --threads 2 --compare-reference --out work_dirs/benchmark_b1.json
    python tools/benchmark.py CONFIG --device cuda --train --amp

Inference is ``simple_test`` on one random normalised clip (1, T, 3, H, W): labels at the input
size, as ``tools/test.py`` computes them. ``--train`` also times one training step (forward, the
full criterion, backward, AdamW step) on random labels. ``--compare-reference`` measures the same
calls in reference mode (the original's computational path: the PyTorch deformable-attention
reference, explicit attention, every intermediate prediction) in the same run, reports the
speed-up and checks that both modes give the same labels. Weights are random (``model.pretrained``
is ignored). GFLOPs count matrix products, convolutions and attention (torch's FlopCounterMode);
the deformable-attention sampling is not counted.
"""
import argparse
import contextlib
import json
import platform

import torch

from mmseg.models import build_segmentor
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import available_backends
from mmseg.models.utils import reference_mode
from mmseg.utils.benchmark import (count_gflops, enable_cpu_peak_memory, median_ms, peak_memory_mib,
                                   text_table)
from mmseg.utils.cli import run_cli, size_text
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError
from mmseg.utils.json_io import write_json_atomically
from mmseg.utils.paths import check_writable_output


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark a THE-Mask model')
    parser.add_argument('config')
    parser.add_argument('--clip-len', type=int, default=2, help='frames per clip T')
    parser.add_argument('--size', type=size_text, default='480x480', help='input HxW')
    parser.add_argument('--iters', type=int, default=5, help='timed repeats (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed repeats first')
    parser.add_argument('--train', action='store_true', help='also time a training step')
    parser.add_argument('--amp', action='store_true', help='training step under autocast '
                        '(bfloat16 on CPU, float16 on CUDA)')
    parser.add_argument('--compare-reference', action='store_true',
                        help='also measure reference mode (the original computational path)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def build(args):
    cfg = load_config(args.config, args.options)
    cfg.model.pretrained = None
    cfg.model.decode_head.transformer_decoder_cfg.num_frames = args.clip_len
    torch.manual_seed(args.seed)
    return build_segmentor(cfg.model).to(args.device)


def random_batch(args, num_classes):
    height, width = (int(v) for v in args.size.lower().split('x'))
    gen = torch.Generator().manual_seed(args.seed)
    img = torch.randn(1, args.clip_len, 3, height, width, generator=gen).to(args.device)
    # blocky labels of a few classes, so that the matcher and the losses see realistic targets
    cells = torch.randint(0, min(num_classes, 8), (1, args.clip_len, 1, height // 32 + 1, width // 32 + 1),
                          generator=gen)
    gt = cells.repeat_interleave(32, -2).repeat_interleave(32, -1)[..., :height, :width].to(args.device)
    return img, gt, {'ori_shape': (height, width, 3)}


def measure(model, args, img, gt, meta, cpu_measurable):
    """{'infer_ms', 'infer_peak_mib', 'fps', ['train_ms', 'train_peak_mib']}, labels."""
    model.eval()
    labels = []

    def infer():
        with torch.no_grad():
            labels[:] = model.simple_test(img, meta)

    result = dict(infer_ms=median_ms(infer, args.device, args.iters, args.warmup))
    result['infer_peak_mib'] = peak_memory_mib(infer, args.device, cpu_measurable)
    result['fps'] = args.clip_len / result['infer_ms'] * 1e3
    if args.train:
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
        amp_dtype = torch.float16 if args.device == 'cuda' else torch.bfloat16
        scaler = torch.amp.GradScaler(enabled=args.amp and amp_dtype == torch.float16)

        def step():
            with torch.autocast(device_type=args.device, dtype=amp_dtype, enabled=args.amp):
                losses = model(img, None, gt_semantic_seg=gt, return_loss=True, iteration=0)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(sum(losses.values())).backward()
            scaler.step(optimizer)
            scaler.update()

        result['train_ms'] = median_ms(step, args.device, args.iters, args.warmup)
        result['train_peak_mib'] = peak_memory_mib(step, args.device, cpu_measurable)
        model.eval()
    return result, [l.copy() for l in labels]


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise UsageError('--device cuda: no CUDA device is available; expected --device cpu')
    if args.out:
        check_writable_output(args.out, '--out')
    cpu_measurable = args.device == 'cpu' and enable_cpu_peak_memory()
    model = build(args)
    img, gt, meta = random_batch(args, model.num_classes)
    env = dict(config=args.config, clip_len=args.clip_len, size=args.size, device=args.device,
               gpu=torch.cuda.get_device_name() if args.device == 'cuda' else None,
               cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
               torch=torch.__version__, msda=available_backends()['extension'], amp=args.amp,
               params=sum(p.numel() for p in model.parameters()),
               gflops_per_clip=count_gflops(model, img, meta))
    print(f'[benchmark] {json.dumps(env)}', flush=True)
    rows = {}
    modes = [('fast', contextlib.nullcontext)] + ([('reference', reference_mode)] if args.compare_reference else [])
    labels = {}
    for name, context in modes:
        with context():
            rows[name], labels[name] = measure(model, args, img, gt, meta, cpu_measurable)
        print(f'[benchmark] {name}: {json.dumps(rows[name])}', flush=True)
    if args.compare_reference:
        same = sum((a == b).sum() for a, b in zip(labels['fast'], labels['reference']))
        total = sum(a.size for a in labels['fast'])
        env['labels_equal_fraction'] = float(same) / total
        for key in ('infer_ms', 'train_ms'):
            if key in rows['fast']:
                env[f'{key[:-3]}_speedup_vs_reference'] = rows['reference'][key] / rows['fast'][key]

    def number(value, fmt):
        return '-' if value is None else format(value, fmt)

    header = ['mode', 'infer ms/clip', 'frames/s', 'infer peak MiB', 'train ms/step', 'train peak MiB']
    table = text_table(header, [[name, number(r['infer_ms'], '.0f'), number(r['fps'], '.2f'),
                                 number(r['infer_peak_mib'], '.0f'), number(r.get('train_ms'), '.0f'),
                                 number(r.get('train_peak_mib'), '.0f')] for name, r in rows.items()])
    print(table)
    print(f'params {env["params"]:,}, {env["gflops_per_clip"]:.1f} GFLOPs per clip (matmuls, convs, attention)')
    if args.compare_reference:
        print(f'fast vs reference: inference x{env["infer_speedup_vs_reference"]:.2f}'
              + (f', training step x{env["train_speedup_vs_reference"]:.2f}' if args.train else '')
              + f'; labels equal on {100 * env["labels_equal_fraction"]:.4f}% of pixels')
    if args.out:
        write_json_atomically(args.out, {'environment': env, 'results': rows})
        print(f'[benchmark] wrote {args.out}')


if __name__ == '__main__':
    run_cli(main)
