"""Benchmark a THE-Mask model: inference (and training-step) speed, peak memory, size, GFLOPs.

    python tools/benchmark.py local_configs/themask/video_themask_mit_b1.py --clip-len 2 \
        --size 480x480 --threads 2 --compare-reference --out work_dirs/benchmark_b1.json
    python tools/benchmark.py CONFIG --device cuda --train --amp
    python tools/benchmark.py CONFIG --train --with-cp --compile --bf16

Inference is ``simple_test`` on one random normalised clip (1, T, 3, H, W): labels at the input
size, as ``tools/test.py`` computes them. ``--train`` also times one training step (forward, the
full criterion, backward, the config's optimizer step) on random labels, and its split:
``forward_ms`` (backbone, pixel decoder, transformer decoder), ``criterion_ms`` (targets,
matching, point sampling, losses), ``backward_ms`` and ``optimizer_ms`` (zero_grad + optimizer
step), each measured with a device synchronisation around it in the same step (data loading is
not part of it).
``--with-cp`` measures the same step with activation checkpointing (``with_cp``) of the MiT
blocks, the pixel-decoder encoder layers and the decoder layers, as the mode ``with_cp``.
``--compile`` measures the fast mode with the model's inference (and, with ``--train``, the
training forward) under ``torch.compile`` as the mode ``compiled``. ``--bf16`` measures inference
under bfloat16 autocast (CPU or CUDA) as the mode ``bf16``, with its label agreement with fp32
(``environment.bf16_labels_equal_fraction``). ``--backend onnxruntime`` exports the model to ONNX
(``mmseg.apis.onnx_export``, the clip model) and measures the same ``simple_test`` with ONNX
Runtime running the network on the same threads (mode ``onnxruntime``; the post-processing is the
PyTorch model's), reporting ``onnxruntime_speedup_vs_fast``, the labels' equal fraction and where
ONNX Runtime's time goes (``onnxruntime_op_ms``: its profiler's time per operator type in one
run). ``--compare-reference`` measures the same
calls in reference mode (the original's computational path: the PyTorch deformable-attention
reference, explicit attention, every intermediate prediction) in the same run, reports the
speed-up and checks that both modes give the same labels. Weights are random (``model.pretrained``
is ignored). GFLOPs count matrix products, convolutions and attention (torch's FlopCounterMode);
the deformable-attention sampling is not counted.

Peak memory of every mode is measured first, the times after (``toolkit.benchmark`` says
why). Times are medians over ``--iters`` rounds after ``--warmup`` rounds; each round runs every
mode's inference, then every mode's training step, so a drift in the machine's speed reaches all
modes alike.
"""
import argparse
import contextlib
import copy
import json
import logging
import os
import platform
import statistics
import tempfile
import time

import torch

from mmseg.core.runner.optimizer import build_optimizer
from mmseg.models import build_segmentor
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
    available_backends,
    select_backend,
)
from mmseg.models.utils import reference_mode
from mmseg.utils.cli import run_cli, size_text
from mmseg.utils.config import DictAction, load_config
from mmseg.utils.errors import UsageError
from mmseg.utils.json_io import write_json_atomically
from mmseg.utils.paths import check_writable_output
from mmseg.utils.table import text_table
from toolkit.benchmark import (
    count_gflops,
    enable_cpu_peak_memory,
    peak_memory_mib,
    settle_allocator,
    synchronize,
)

_QUIET = logging.getLogger('mmseg.benchmark.quiet')
_QUIET.disabled = True


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
    parser.add_argument('--with-cp', action='store_true', help='also measure the training step '
                        'with activation checkpointing (mode with_cp; needs --train)')
    parser.add_argument('--compile', action='store_true', help='also measure the fast mode under '
                        'torch.compile (mode compiled)')
    parser.add_argument('--bf16', action='store_true', help='also measure inference under bfloat16 '
                        'autocast (mode bf16) and its label agreement with fp32')
    parser.add_argument('--backend', choices=['pytorch', 'onnxruntime'], default='pytorch',
                        help='onnxruntime: also measure the model exported to ONNX in ONNX Runtime '
                             '(mode onnxruntime, CPU)')
    parser.add_argument('--compare-reference', action='store_true',
                        help='also measure reference mode (the original computational path)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument('--options', '--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def build(args):
    """(model, the config's optimizer settings)."""
    cfg = load_config(args.config, args.options)
    cfg.model.pretrained = None
    cfg.model.decode_head.transformer_decoder_cfg.num_frames = args.clip_len
    torch.manual_seed(args.seed)
    model = build_segmentor(cfg.model).to(args.device)
    model.cfg = cfg  # what an ONNX export carries
    return model, dict(cfg.optimizer)


def random_batch(args, num_classes):
    height, width = (int(v) for v in args.size.lower().split('x'))
    gen = torch.Generator().manual_seed(args.seed)
    img = torch.randn(1, args.clip_len, 3, height, width, generator=gen).to(args.device)
    # blocky labels of a few classes, so that the matcher and the losses see realistic targets
    cells = torch.randint(0, min(num_classes, 8),
                          (1, args.clip_len, 1, height // 32 + 1, width // 32 + 1),
                          generator=gen)
    gt = (cells.repeat_interleave(32, -2).repeat_interleave(32, -1)[..., :height, :width]
          .to(args.device))
    return img, gt, {'ori_shape': (height, width, 3)}


class ModeCalls:
    """What one mode measures: the inference call and the training step (with its split), each
    run under the mode's context (``reference_mode``, ``with_cp`` ...).

    The training step uses the config's optimizer (``build_optimizer``, built in the mode's
    context). Steps update the weights; ``main`` restores them.
    """

    def __init__(self, name, context, model, args, img, gt, meta, optimizer_cfg, train=None,
                 inference=True, autocast_dtype=None):
        self.name, self.context, self.model, self.args = name, context, model, args
        self.img, self.gt, self.meta = img, gt, meta
        self.optimizer_cfg = optimizer_cfg or dict(type='AdamW', lr=1e-6)
        self.inference = inference
        self.train = args.train if train is None else train
        self.autocast_dtype = autocast_dtype
        self.optimizer = None
        self.labels = None  # of the first inference call (before any training step)
        self.split = {}

    def infer(self):
        args = self.args
        with self.context(), torch.no_grad(), torch.autocast(
                device_type=args.device, dtype=self.autocast_dtype or torch.bfloat16,
                enabled=self.autocast_dtype is not None):
            self.model.eval()
            labels = self.model.simple_test(self.img, self.meta)
        if self.labels is None:
            self.labels = [label.copy() for label in labels]

    def _timed(self, name, fn):
        out, ms = timed_ms(fn, self.args.device)
        self.split.setdefault(name, []).append(ms)
        return out

    def step(self):
        """One training step: forward_train in its parts (features and decoder, then the
        criterion), backward, optimizer step and zero_grad."""
        args, model = self.args, self.model
        amp_dtype = torch.float16 if args.device == 'cuda' else torch.bfloat16
        with self.context():
            model.train()
            if self.optimizer is None:
                self.optimizer = build_optimizer(model, self.optimizer_cfg, logger=_QUIET)
                self.scaler = torch.amp.GradScaler(enabled=args.amp and amp_dtype == torch.float16)
            head = model.decode_head
            with torch.autocast(device_type=args.device, dtype=amp_dtype, enabled=args.amp):
                outputs = self._timed('forward_ms',
                                      lambda: head.forward(model.extract_feat(self.img),
                                                           num_clips=self.img.shape[0]))
                losses = self._timed('criterion_ms',
                                     lambda: head.criterion(outputs, self.gt, iteration=0))
            self._timed('backward_ms', lambda: self.scaler.scale(
                sum(losses.values()) * head.loss_weight).backward())

            def update():
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)

            self._timed('optimizer_ms', update)
            model.eval()



def timed_ms(fn, device):
    """(fn(), its wall time in ms with a device synchronisation on both sides)."""
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, (time.perf_counter() - start) * 1e3


def calls_in_order(modes):
    """(mode, prefix, call) for every mode's inference, then every mode's training step."""
    return ([(mode, 'infer', mode.infer) for mode in modes if mode.inference]
            + [(mode, 'train', mode.step) for mode in modes if mode.train])


def memory_phase(modes, args, cpu_measurable):
    """Peak memory of each mode's calls, each after one warm-up call, every inference before any
    training step: {mode: {prefix_peak_mib}}."""
    rows = {mode.name: {} for mode in modes}
    for mode, prefix, call in calls_in_order(modes):
        call()
        rows[mode.name][f'{prefix}_peak_mib'] = peak_memory_mib(call, args.device, cpu_measurable)
    for mode in modes:
        print(f'[benchmark] {mode.name} memory: {json.dumps(rows[mode.name])}', flush=True)
    return rows


def timing_phase(modes, args):
    """Median times of every mode's calls, taken in rounds: each round runs every mode's inference,
    then every mode's training step, so that a machine whose speed drifts (other tenants, clock
    changes) slows all modes alike instead of whichever ran during the slow minutes. The first
    ``--warmup`` rounds are not counted. {mode: {'infer_ms', 'fps', 'train_ms', split}}."""
    times = {mode.name: {} for mode in modes}
    for mode in modes:
        mode.split = {}
    for round_index in range(args.warmup + args.iters):
        for mode, prefix, call in calls_in_order(modes):
            _, ms = timed_ms(call, args.device)
            if round_index >= args.warmup:
                times[mode.name].setdefault(f'{prefix}_ms', []).append(ms)
    rows = {}
    for mode in modes:
        row = rows[mode.name] = {key: statistics.median(values)
                                 for key, values in times[mode.name].items()}
        if 'infer_ms' in row:
            row['fps'] = args.clip_len / row['infer_ms'] * 1e3
        for name, values in mode.split.items():  # the split of the counted steps
            row[name] = statistics.median(values[args.warmup:])
        print(f'[benchmark] {mode.name}: {json.dumps(row)}', flush=True)
    return rows


@contextlib.contextmanager
def with_cp_enabled(model):
    """Activation checkpointing of every part that has it (see the ``with_cp`` keys), for the
    block."""
    parts = [module for module in model.modules() if hasattr(module, 'with_cp')]
    for module in parts:
        module.with_cp = True
    try:
        yield
    finally:
        for module in parts:
            module.with_cp = False


def equal_fraction(labels_a, labels_b):
    same = sum((a == b).sum() for a, b in zip(labels_a, labels_b))
    return float(same) / sum(a.size for a in labels_a)


def onnxruntime_model(model, args, img, directory):
    """``model`` exported to ONNX in ``directory``, loaded in ONNX Runtime (the tool's threads)."""
    from mmseg.apis.onnx_export import export_clip_model
    from mmseg.apis.onnx_runtime import OnnxRuntimeSegmentor, onnx_session
    path = os.path.join(directory, 'model.onnx')
    print('[benchmark] exporting to ONNX (a few minutes for b1)...', flush=True)
    start = time.perf_counter()
    check = export_clip_model(model.eval(), path, clip_len=args.clip_len, height=img.shape[-2],
                              width=img.shape[-1])
    print(f'[benchmark] exported in {time.perf_counter() - start:.0f} s; ONNX Runtime vs eager: '
          f'max map difference {check["max_abs_diff"]:.3g}', flush=True)
    meta = dict(num_classes=model.num_classes, align_corners=model.align_corners)
    return OnnxRuntimeSegmentor(cfg=model.cfg, meta=meta, clip=onnx_session(path), paths=[path])


def onnxruntime_op_ms(path, img, top=8):
    """{operator type: ms} of one profiled ONNX Runtime run on ``img``, the ``top`` largest."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(os.path.dirname(path), 'profile')
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    session.run(['maps'], {'clip': img[:1].cpu().numpy()})
    with open(session.end_profiling()) as handle:
        events = json.load(handle)
    totals = {}
    for event in events:
        op = event.get('args', {}).get('op_name')
        if event.get('cat') == 'Node' and op and event['name'].endswith('_kernel_time'):
            totals[op] = totals.get(op, 0.0) + event['dur'] / 1e3
    return dict(sorted(totals.items(), key=lambda kv: -kv[1])[:top])


def compile_model(model):
    """A copy of ``model`` with ``torch.compile`` on its inference and training forward (see
    ``mmseg.apis.compile_segmentor``, which compiles in place: the copy keeps the other modes
    eager)."""
    from mmseg.apis.compile import compile_segmentor
    return compile_segmentor(copy.deepcopy(model))


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise UsageError('--device cuda: no CUDA device is available; expected --device cpu')
    if args.with_cp and not args.train:
        raise UsageError('--with-cp measures the training step: add --train')
    if args.backend == 'onnxruntime':
        if args.device != 'cpu':
            raise UsageError('--backend onnxruntime runs on the CPU: add --device cpu')
        from mmseg.apis.onnx_runtime import require_packages
        require_packages('onnx', 'onnxruntime', 'onnxscript')
    if args.out:
        check_writable_output(args.out, '--out')
    cpu_measurable = args.device == 'cpu' and enable_cpu_peak_memory()
    model, optimizer_cfg = build(args)
    img, gt, meta = random_batch(args, model.num_classes)
    env = dict(config=args.config, clip_len=args.clip_len, size=args.size, device=args.device,
               gpu=torch.cuda.get_device_name() if args.device == 'cuda' else None,
               cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
               torch=torch.__version__, msda=available_backends()['extension'],
               # the deformable-attention implementation of the fast mode (THEMASK_MSDA_BACKEND)
               msda_backend=select_backend(torch.zeros(1, 1, 1, 1, device=args.device)),
               amp=args.amp,
               params=sum(p.numel() for p in model.parameters()),
               gflops_per_clip=count_gflops(model, img, meta))
    print(f'[benchmark] {json.dumps(env)}', flush=True)
    # every mode's memory first, then the timings (see toolkit.benchmark)
    def mode(name, context=contextlib.nullcontext, mode_model=model, **kwargs):
        return ModeCalls(name, context, mode_model, args, img, gt, meta, optimizer_cfg, **kwargs)

    modes = [mode('fast')]
    if args.compare_reference:
        modes.append(mode('reference', reference_mode))
    if args.with_cp:
        modes.append(mode('with_cp', lambda: with_cp_enabled(model), inference=False))
    if args.bf16:
        modes.append(mode('bf16', train=False, autocast_dtype=torch.bfloat16))
    if args.compile:
        modes.append(mode('compiled', mode_model=compile_model(model)))
    onnx_dir = tempfile.TemporaryDirectory(prefix='themask_benchmark_')
    if args.backend == 'onnxruntime':
        runtime = onnxruntime_model(model, args, img, onnx_dir.name)
        modes.append(mode('onnxruntime', mode_model=runtime, train=False))
    models = {id(m.model): m.model for m in modes if isinstance(m.model, torch.nn.Module)}
    # training steps update it: restored after each phase
    weights = copy.deepcopy(model.state_dict())
    rows = {m.name: {} for m in modes}
    if args.device == 'cuda' or cpu_measurable:
        for name, row in memory_phase(modes, args, cpu_measurable).items():
            rows[name].update(row)
        for m in models.values():
            m.load_state_dict(weights)
    settle_allocator()
    for name, row in timing_phase(modes, args).items():
        rows[name].update(row)
        for key in (('infer_ms', 'infer_peak_mib', 'fps')
                    + (('train_peak_mib',) if args.train else ())):
            rows[name].setdefault(key, None)
    for m in models.values():
        m.load_state_dict(weights)
    labels = {m.name: m.labels for m in modes}
    if args.bf16:
        env['bf16_labels_equal_fraction'] = equal_fraction(labels['fast'], labels['bf16'])
        env['bf16_infer_speedup_vs_fast'] = rows['fast']['infer_ms'] / rows['bf16']['infer_ms']
    if args.compile:
        env['compiled_labels_equal_fraction'] = equal_fraction(labels['fast'], labels['compiled'])
    if args.backend == 'onnxruntime':
        env['onnxruntime_labels_equal_fraction'] = equal_fraction(labels['fast'],
                                                                  labels['onnxruntime'])
        env['onnxruntime_speedup_vs_fast'] = (rows['fast']['infer_ms']
                                              / rows['onnxruntime']['infer_ms'])
        env['onnxruntime_op_ms'] = onnxruntime_op_ms(os.path.join(onnx_dir.name, 'model.onnx'), img)
    onnx_dir.cleanup()
    if args.compare_reference:
        # the fastest fp32 mode measured against the reference
        best = ('compiled'
                if args.compile and rows['compiled']['infer_ms'] < rows['fast']['infer_ms']
                else 'fast')
        env['infer_fastest_mode'] = best
        env['labels_equal_fraction'] = equal_fraction(labels[best], labels['reference'])
        env['infer_speedup_vs_reference'] = rows['reference']['infer_ms'] / rows[best]['infer_ms']
        if args.train:
            env['train_speedup_vs_reference'] = (rows['reference']['train_ms']
                                                 / rows['fast']['train_ms'])

    def number(value, fmt):
        return '-' if value is None else format(value, fmt)

    header = ['mode', 'infer ms/clip', 'frames/s', 'infer peak MiB', 'train ms/step',
              'train peak MiB', 'forward ms', 'criterion ms', 'backward ms', 'optimizer ms']
    table = text_table(header, [[name, number(r['infer_ms'], '.0f'), number(r['fps'], '.2f'),
                                 number(r['infer_peak_mib'], '.0f'),
                                 number(r.get('train_ms'), '.0f'),
                                 number(r.get('train_peak_mib'), '.0f'),
                                 number(r.get('forward_ms'), '.0f'),
                                 number(r.get('criterion_ms'), '.0f'),
                                 number(r.get('backward_ms'), '.0f'),
                                 number(r.get('optimizer_ms'), '.0f')] for name, r in rows.items()])
    print(table)
    print(f'params {env["params"]:,}, {env["gflops_per_clip"]:.1f} GFLOPs per clip (matmuls, '
          f'convs, attention)')
    if args.train:
        r = rows['fast']
        print(f'fast training step: criterion {100 * r["criterion_ms"] / r["train_ms"]:.1f}% of '
              f'the step')
        if args.with_cp:
            print(f'with_cp: peak '
                  f'{100 * rows["with_cp"]["train_peak_mib"] / r["train_peak_mib"]:.0f}% of fast, '
                  f'step x{rows["with_cp"]["train_ms"] / r["train_ms"]:.2f} the time'
                  if r['train_peak_mib'] and rows['with_cp']['train_peak_mib'] else '')
    if args.bf16:
        print(f'bf16 vs fp32: inference x{env["bf16_infer_speedup_vs_fast"]:.2f}; labels equal on '
              f'{100 * env["bf16_labels_equal_fraction"]:.4f}% of pixels')
    if args.backend == 'onnxruntime':
        ops = ', '.join(f'{op} {ms:.0f}' for op, ms in env['onnxruntime_op_ms'].items())
        print(f'onnxruntime vs fast: inference x{env["onnxruntime_speedup_vs_fast"]:.2f}; labels '
              f'equal on {100 * env["onnxruntime_labels_equal_fraction"]:.4f}% of pixels; ONNX '
              f'Runtime ms per operator type (one run): {ops}')
    if args.compare_reference:
        print(f'{env["infer_fastest_mode"]} vs reference: inference '
              f'x{env["infer_speedup_vs_reference"]:.2f}'
              + (f', training step x{env["train_speedup_vs_reference"]:.2f}' if args.train else '')
              + f'; labels equal on {100 * env["labels_equal_fraction"]:.4f}% of pixels')
    if args.out:
        write_json_atomically(args.out, {'environment': env, 'results': rows})
        print(f'[benchmark] wrote {args.out}')


if __name__ == '__main__':
    run_cli(main)
