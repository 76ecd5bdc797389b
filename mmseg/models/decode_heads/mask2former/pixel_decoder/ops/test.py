"""Check the built kernels against the PyTorch reference, run gradcheck and
``torch.library.opcheck`` of the operators ``themask::ms_deform_attn_forward``/``_backward``,
printing the results.

    python mmseg/models/decode_heads/mask2former/pixel_decoder/ops/test.py   # from the repo root

The setting of the original test.py (Deformable DETR): N=1, M=2 heads, Lq=2, L=2 levels (6, 4)
and (3, 2), P=2, values scaled by 0.01, weights normalised over levels and points, im2col_step=2.
The exit status is 1 if any check fails.
"""
import os
import sys

import torch
from torch.autograd import gradcheck

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 6)))
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (  # noqa: E402
    MSDeformAttnFunction,
    available_backends,
    ms_deform_attn_core_pytorch,
)

N, M, D, LQ, P = 1, 2, 2, 2, 2
SHAPES = [(6, 4), (3, 2)]
IM2COL_STEP = 2


def make_inputs(channels, dtype, device):
    torch.manual_seed(3)
    shapes = torch.tensor(SHAPES, dtype=torch.long, device=device)
    sizes = shapes.prod(1)
    starts = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    num_values = int(sizes.sum())
    value = torch.rand(N, num_values, M, channels, device=device) * 0.01
    locations = torch.rand(N, LQ, M, len(SHAPES), P, 2, device=device)
    weights = torch.rand(N, LQ, M, len(SHAPES), P, device=device) + 1e-5
    weights /= weights.sum((-1, -2), keepdim=True)
    return (value.to(dtype), shapes, starts, locations.to(dtype), weights.to(dtype))


def report(ok, name, detail):
    print(f'* {"ok  " if ok else "FAIL"} {name}: {detail}')
    return ok


def check_forward(device, dtype, rtol, atol):
    value, shapes, starts, locations, weights = make_inputs(D, dtype, device)
    expected = ms_deform_attn_core_pytorch(value, shapes, locations, weights)
    output = MSDeformAttnFunction.apply(value, shapes, starts, locations, weights, IM2COL_STEP)
    error = (output - expected).abs()
    max_rel = (error / expected.abs().clamp_min(1e-30)).max().item()
    ok = torch.allclose(output, expected, rtol=rtol, atol=atol)
    return report(ok, f'forward {device} {dtype} equals the reference (rtol {rtol}, atol {atol})',
                  f'max abs err {error.max().item():.3e}, max rel err {max_rel:.3e}')


def check_gradient(device, channels):
    value, shapes, starts, locations, weights = make_inputs(channels, torch.float64, device)
    inputs = [t.requires_grad_() for t in (value, locations, weights)]

    def op(v, loc, w):
        return MSDeformAttnFunction.apply(v, shapes, starts, loc, w, IM2COL_STEP)

    ok = gradcheck(op, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True,
                   raise_exception=False)
    return report(ok, f'gradcheck {device} float64 D={channels}', 'fast mode')


def check_operator(device, dtype):
    """opcheck: schema, autograd registration, fake kernel and AOT dispatch (forward and
    backward)."""
    value, shapes, starts, locations, weights = make_inputs(D, dtype, device)
    inputs = (value.requires_grad_(), shapes, starts, locations.requires_grad_(),
              weights.requires_grad_())
    grad_output = torch.rand(N, LQ, M * D, dtype=dtype, device=device)
    failures = {}
    for op, args in ((torch.ops.themask.ms_deform_attn_forward.default, inputs + (IM2COL_STEP,)),
                     (torch.ops.themask.ms_deform_attn_backward.default,
                      tuple(t.detach() for t in inputs) + (grad_output, IM2COL_STEP))):
        results = torch.library.opcheck(op, args, raise_exception=False)
        failures.update({f'{op._name} {k}': v for k, v in results.items() if v != 'SUCCESS'})
    return report(not failures, f'opcheck {device} {dtype}', failures or 'forward and backward ops')


def main():
    backends = available_backends()
    print(f'backends: {backends}')
    devices = [d for d in ('cpu', 'cuda')
               if backends[d] and (d == 'cpu' or torch.cuda.is_available())]
    if not devices:
        print('no kernel to test (build it with `sh make.sh` in this folder)')
        return 1
    results = []
    for device in devices:
        results.append(check_forward(device, torch.float64, rtol=1e-7, atol=1e-12))
        results.append(check_forward(device, torch.float32, rtol=1e-2, atol=1e-3))
        for dtype in (torch.float32, torch.float64):
            results.append(check_operator(device, dtype))
        for channels in (30, 32, 64, 71, 1025, 2048, 3096):
            results.append(check_gradient(device, channels))
    print(f'{sum(results)}/{len(results)} checks passed')
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
