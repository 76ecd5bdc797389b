"""Benchmark multi-scale deformable attention on the pixel-decoder shapes.

    python tools/benchmark_msda.py --threads 2 --out work_dirs/benchmark_msda_cpu.json
    python tools/benchmark_msda.py --devices cuda --iters 50 \
        --out work_dirs/benchmark_msda_cuda.json

Implementations: ``reference`` (``ms_deform_attn_core_pytorch``, the original's path),
``kernel`` (our compiled op for the device), ``triton`` (our Triton kernels,
``ms_deform_attn_triton``; CUDA only) and ``transformers`` (Hugging Face's pure-PyTorch
``multi_scale_deformable_attention``, when transformers is installed). Shapes: d_model 256 as 8
heads x 32 channels, 3 levels (the stride 32, 16 and 8 maps of the input, coarse to fine as in the
pixel decoder), 4 points, Lq = S queries. Sampling locations are by default those of the pixel
decoder: each query's own pixel centre plus offsets of the layer's initial radial pattern (1 to 4
pixels of each level) with unit Gaussian noise; ``--locations uniform`` draws them uniformly in
[0, 1] instead (no locality).

Reported per configuration: median forward and forward+backward times, and peak memory above the
level before the call (CPU: the process's peak resident set size, reset through
/proc/self/clear_refs; CUDA: torch.cuda.max_memory_allocated), plus the kernel's speed-up and
memory ratio against the other implementations, and every implementation's speed relative to the
kernel (kernel time / its time: the Triton kernels' goal is at least 0.8), all measured in the
same run.
"""
import argparse
import json
import math
import platform

import torch
from tqdm import tqdm

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
    MSDeformAttnFunction,
    available_backends,
    ms_deform_attn_core_pytorch,
    ms_deform_attn_triton,
)
from mmseg.utils.cli import run_cli, size_text
from mmseg.utils.errors import UsageError
from mmseg.utils.json_io import write_json_atomically
from mmseg.utils.paths import check_writable_output
from mmseg.utils.table import text_table
from toolkit.benchmark import enable_cpu_peak_memory, median_ms, peak_memory_mib

HEADS, CHANNELS, POINTS, STRIDES = 8, 32, 4, (32, 16, 8)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark multi-scale deformable attention')
    parser.add_argument('--devices', nargs='+', choices=['cpu', 'cuda'],
                        help='default: cpu, and cuda when available')
    parser.add_argument('--sizes', nargs='+', type=size_text, default=['480x480', '480x853'],
                        help='input images HxW; the levels are their stride 32/16/8 maps')
    parser.add_argument('--batch', type=int, nargs='+', default=[2, 4], help='frames N')
    parser.add_argument('--impls', nargs='+',
                        default=['reference', 'kernel', 'triton', 'transformers'],
                        choices=['reference', 'kernel', 'triton', 'transformers'])
    parser.add_argument('--iters', type=int, default=5, help='timed repeats (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed repeats before timing')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument('--locations', choices=['decoder', 'uniform'], default='decoder')
    parser.add_argument('--dtype', choices=['float32', 'float16', 'bfloat16'], default='float32',
                        help='half types on CUDA only')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def level_shapes(size):
    height, width = (int(v) for v in size.lower().split('x'))
    return [(math.ceil(height / s), math.ceil(width / s)) for s in STRIDES]


def make_inputs(shapes, batch, device, dtype, locations, seed):
    """value, spatial shapes, level starts, sampling locations, attention weights, grad_output."""
    gen = torch.Generator().manual_seed(seed)
    spatial_shapes = torch.tensor(shapes, dtype=torch.long)
    sizes = spatial_shapes.prod(1)
    starts = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    num_values, levels = int(sizes.sum()), len(shapes)
    value = torch.randn(batch, num_values, HEADS, CHANNELS, generator=gen)
    loc_shape = (batch, num_values, HEADS, levels, POINTS, 2)
    if locations == 'uniform':
        loc = torch.rand(loc_shape, generator=gen)
    else:
        centres = []
        for height, width in shapes:
            ys, xs = torch.meshgrid((torch.arange(height) + 0.5) / height,
                                    (torch.arange(width) + 0.5) / width, indexing='ij')
            centres.append(torch.stack([xs.flatten(), ys.flatten()], -1))
        reference = torch.cat(centres)[None, :, None, None, None, :]
        angles = torch.arange(HEADS) * (2 * math.pi / HEADS)
        directions = torch.stack([angles.cos(), angles.sin()], -1)
        directions = directions / directions.abs().max(-1, keepdim=True)[0]
        radial = directions[:, None, None, :] * torch.arange(1, POINTS + 1)[None, None, :, None]
        offsets = radial + torch.randn(loc_shape, generator=gen)
        size_xy = spatial_shapes.flip(1).float()[None, None, None, :, None, :]
        loc = reference + offsets / size_xy
    weights = torch.randn(batch, num_values, HEADS, levels * POINTS, generator=gen).softmax(-1)
    weights = weights.view(batch, num_values, HEADS, levels, POINTS)
    grad_output = torch.randn(batch, num_values, HEADS * CHANNELS, generator=gen)
    to = dict(device=device, dtype=dtype)
    return (value.to(**to), spatial_shapes.to(device), starts.to(device), loc.to(**to),
            weights.to(**to), grad_output.to(**to))


def implementations(names, device, dtype):
    """{name: op(value, spatial_shapes, shapes_list, starts, loc, weights)} or {name: why not}."""
    ops, missing = {}, {}
    backends = available_backends()
    for name in names:
        if name == 'reference':
            ops[name] = lambda v, s, sl, st, loc, w: ms_deform_attn_core_pytorch(v, s, loc, w)
        elif name == 'kernel':
            if not backends[device]:
                missing[name] = f'{device} kernel not built ({backends["extension"]})'
            elif device == 'cpu' and dtype not in (torch.float32, torch.float64):
                missing[name] = f'the CPU kernel has no {dtype}'
            else:
                ops[name] = lambda v, s, sl, st, loc, w: MSDeformAttnFunction.apply(
                    v, s, st, loc, w, 128)
        elif name == 'triton':
            if device != 'cuda':
                missing[name] = 'the Triton kernels run on CUDA tensors (CPU: interpreter only)'
            elif not backends['triton']:
                missing[name] = f'triton unavailable ({backends["triton_status"]})'
            else:
                ops[name] = lambda v, s, sl, st, loc, w: ms_deform_attn_triton(
                    v, s, loc, w, value_level_start_index=st, im2col_step=128)
        else:
            try:
                from transformers.models.mask2former.modeling_mask2former import (
                    multi_scale_deformable_attention,
                )
            except ImportError as err:
                missing[name] = f'transformers not installed ({err})'
                continue
            ops[name] = lambda v, s, sl, st, loc, w, f=multi_scale_deformable_attention: f(
                v, sl, loc, w)
    return ops, missing


def benchmark_one(op, inputs, device, iters, warmup, cpu_measurable):
    value, spatial_shapes, starts, loc, weights, grad_output = inputs
    shapes_list = [tuple(s) for s in spatial_shapes.tolist()]

    def forward():
        op(value, spatial_shapes, shapes_list, starts, loc, weights)

    leaves = [t.detach().clone().requires_grad_() for t in (value, loc, weights)]

    def forward_backward():
        output = op(leaves[0], spatial_shapes, shapes_list, starts, leaves[1], leaves[2])
        output.backward(grad_output)
        for leaf in leaves:
            leaf.grad = None

    result = {}
    for mode, run in (('fwd', forward), ('fwd_bwd', forward_backward)):
        result[f'{mode}_ms'] = median_ms(run, device, iters, warmup)
        result[f'{mode}_peak_mib'] = peak_memory_mib(run, device, cpu_measurable)
    return result


def add_ratios(rows):
    """Kernel speed-ups (other time / kernel time), every other implementation's speed relative
    to the kernel (kernel time / its time) and memory ratios (kernel / other)."""
    kernels = {(r['device'], r['size'], r['batch']): r for r in rows if r['impl'] == 'kernel'}
    for row in rows:
        kernel = kernels.get((row['device'], row['size'], row['batch']))
        if kernel is None or row is kernel:
            continue
        for mode in ('fwd', 'fwd_bwd'):
            kernel[f'{mode}_speedup_vs_{row["impl"]}'] = row[f'{mode}_ms'] / kernel[f'{mode}_ms']
            row[f'{mode}_speed_vs_kernel'] = kernel[f'{mode}_ms'] / row[f'{mode}_ms']
            if row[f'{mode}_peak_mib'] and kernel[f'{mode}_peak_mib'] is not None:
                kernel[f'{mode}_mem_ratio_vs_{row["impl"]}'] = (
                    kernel[f'{mode}_peak_mib'] / row[f'{mode}_peak_mib'])


def format_table(rows):
    header = ['device', 'input', 'N', 'impl', 'fwd ms', 'fwd+bwd ms', 'fwd peak MiB',
              'fwd+bwd peak MiB', 'fwd x ref', 'f+b x ref', 'fwd x hf', 'f+b x hf',
              'fwd vs kernel', 'f+b vs kernel']

    def number(value, fmt):
        return '-' if value is None else format(value, fmt)

    return text_table(header, [
        [r['device'], r['size'], str(r['batch']), r['impl'],
         number(r['fwd_ms'], '.1f'), number(r['fwd_bwd_ms'], '.1f'),
         number(r['fwd_peak_mib'], '.1f'), number(r['fwd_bwd_peak_mib'], '.1f'),
         number(r.get('fwd_speedup_vs_reference'), '.2f'),
         number(r.get('fwd_bwd_speedup_vs_reference'), '.2f'),
         number(r.get('fwd_speedup_vs_transformers'), '.2f'),
         number(r.get('fwd_bwd_speedup_vs_transformers'), '.2f'),
         number(r.get('fwd_speed_vs_kernel'), '.2f'),
         number(r.get('fwd_bwd_speed_vs_kernel'), '.2f')] for r in rows])


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    if 'cuda' in devices and not torch.cuda.is_available():
        raise UsageError('--devices cuda: no CUDA device is available; expected --devices cpu')
    dtype = getattr(torch, args.dtype)
    cpu_measurable = 'cpu' in devices and enable_cpu_peak_memory()
    if dtype != torch.float32 and 'cpu' in devices:
        raise UsageError(f'--dtype {args.dtype} is for CUDA only; expected --devices cuda or '
                         f'--dtype float32')
    if args.out:
        check_writable_output(args.out, '--out')
    env = {
        'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'cpu': platform.processor() or platform.machine(), 'backends': available_backends(),
        'gpu': torch.cuda.get_device_name() if 'cuda' in devices else None,
        'locations': args.locations, 'dtype': args.dtype, 'iters': args.iters,
        'warmup': args.warmup, 'heads': HEADS, 'channels': CHANNELS, 'points': POINTS,
        'cpu_peak_memory': 'peak RSS above the RSS before the call (glibc mmap threshold fixed '
                           'at 128 KiB)' if cpu_measurable else 'unavailable',
    }
    print(f'[benchmark_msda] {json.dumps(env)}', flush=True)
    jobs, skipped = [], {}
    for device in devices:
        ops, missing = implementations(args.impls, device, dtype)
        skipped.update({f'{device}/{name}': why for name, why in missing.items()})
        for size in args.sizes:
            for batch in args.batch:
                jobs += [(device, size, batch, name, op) for name, op in ops.items()]
    for key, why in skipped.items():
        print(f'[benchmark_msda] skipping {key}: {why}', flush=True)
    rows = []
    inputs_key, inputs = None, None
    for device, size, batch, name, op in tqdm(jobs, desc='benchmark_msda', unit='config'):
        shapes = level_shapes(size)
        if inputs_key != (device, size, batch):
            inputs_key, inputs = (device, size, batch), None
            inputs = make_inputs(shapes, batch, device, dtype, args.locations, args.seed)
        result = benchmark_one(op, inputs, device, args.iters, args.warmup, cpu_measurable)
        rows.append(dict(device=device, size=size, batch=batch, impl=name, levels=shapes,
                         num_queries=sum(h * w for h, w in shapes), **result))
        tqdm.write(f'[benchmark_msda] {device} {size} N={batch} {name}: '
                   f'fwd {result["fwd_ms"]:.1f} ms, fwd+bwd {result["fwd_bwd_ms"]:.1f} ms')
    add_ratios(rows)
    print(format_table(rows))
    print('x ref / x hf: kernel speed-up over the reference / transformers '
          '(their time divided by the kernel time); vs kernel: speed relative to the kernel '
          '(kernel time divided by its time)')
    if args.out:
        write_json_atomically(args.out, {'environment': env, 'skipped': skipped, 'results': rows})
        print(f'[benchmark_msda] wrote {args.out}')


if __name__ == '__main__':
    run_cli(main)
