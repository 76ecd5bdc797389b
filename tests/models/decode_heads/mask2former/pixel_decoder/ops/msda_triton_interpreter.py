"""The Triton kernels on CPU tensors under Triton's interpreter, run in a child process.

``TRITON_INTERPRET=1`` must be set before ``triton`` is imported, and it changes every Triton
kernel defined afterwards in that process (torch.compile's included), so the tests never set it in
the pytest process: ``test_ms_deform_attn_triton.py`` runs this module as a script in a fresh
interpreter, ``main(SUITE)`` with ``TRITON_INTERPRET=1``, and asserts on the
JSON it prints (one entry per check: errors relative to the largest magnitude of the expected
tensor, or the error text). The cases are small: the interpreter executes each program in Python
(about 30 ms per program, level and point in the forward, twice that in the backward).

Suites: ``kernels`` (the shape cases, non-finite locations and the input checks), ``autograd``
(the golden entry, gradcheck, and the operator ``themask::ms_deform_attn_*`` defined without the
extension, as on a machine with no CUDA toolchain, with ``torch.library.opcheck``: the test starts
that suite with the extension's import blocked).
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import traceback

import pytest
import torch

from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (edge_case_inputs,
                                                                                 make_inputs)

EXTENSION_MODULE = ('mmseg.models.decode_heads.mask2former.pixel_decoder.ops.'
                    'MultiScaleDeformableAttention')
GOLDEN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 5, 'data',
                           'golden', 'themask_tiny_golden.pt')

# name: (inputs, dtype, keyword arguments of ms_deform_attn_triton or the kernels)
SHAPE_CASES = {
    'borders-corners-outside': (lambda: edge_case_inputs(), torch.float64, {}),
    'borders-corners-outside-f32': (lambda: edge_case_inputs(), torch.float32, {}),
    'three-levels-odd-sizes': (lambda: make_inputs(2, [(5, 7), (3, 2), (1, 1)], heads=2,
                                                   channels=3, num_queries=6, points=3),
                               torch.float64, {}),
    'four-levels-f32': (lambda: make_inputs(1, [(7, 5), (4, 3), (2, 2), (1, 1)], heads=2,
                                            channels=4, num_queries=5, points=2, seed=6),
                        torch.float32, {}),
    'level-1x1-one-point-three-heads': (lambda: make_inputs(2, [(1, 1), (3, 5)], heads=3,
                                                            channels=3, num_queries=7, points=1,
                                                            seed=1), torch.float64, {}),
    'channels-30-four-points-f32': (lambda: make_inputs(1, [(6, 4), (3, 2)], heads=2, channels=30,
                                                        num_queries=9, points=4, seed=2),
                                    torch.float32, {}),
    'channels-71': (lambda: make_inputs(2, [(5, 5), (3, 3), (1, 2)], heads=1, channels=71,
                                        num_queries=4, points=2, seed=3), torch.float64, {}),
    # D > 128: two channel blocks, so the location and weight gradients are added atomically
    'channels-130-split': (lambda: make_inputs(1, [(3, 4), (2, 2)], heads=1, channels=130,
                                               num_queries=5, points=2, seed=4),
                           torch.float32, {}),
    # three query blocks, the last one partial; two channel blocks
    'query-and-channel-blocks': (lambda: make_inputs(1, [(4, 3), (2, 2)], heads=1, channels=5,
                                                     num_queries=10, points=2, seed=5),
                                 torch.float64, dict(block_q=4, block_d=4)),
    'im2col-step-1-of-4': (lambda: make_inputs(4, [(3, 4), (2, 1)], heads=1, channels=2,
                                               num_queries=3, points=2, seed=7),
                           torch.float64, dict(im2col_step=1)),
    'im2col-step-2-of-4-f32': (lambda: make_inputs(4, [(3, 4), (2, 1)], heads=1, channels=2,
                                                   num_queries=3, points=2, seed=8),
                               torch.float32, dict(im2col_step=2)),
}
GRADCHECK_CASES = {
    # every input element perturbed (the full Jacobian), one level and point
    'full-one-level': (lambda: make_inputs(1, [(2, 3)], heads=1, channels=2, num_queries=2,
                                           points=1, seed=9), False),
    # random directions (fast mode), two levels and points, two heads, a batch of 2
    'fast-two-levels': (lambda: make_inputs(2, [(3, 4), (2, 1)], heads=2, channels=3,
                                            num_queries=3, points=2, seed=10), True),
}


def relative_error(result, expected):
    return ((result.double() - expected.double()).abs().max()
            / expected.double().abs().max().clamp_min(1e-30)).item()


def forward_backward(op, value, locations, weights, grad_output):
    """Output and gradients (value, locations, weights) of op(value, locations, weights)."""
    leaves = [t.detach().clone().requires_grad_() for t in (value, locations, weights)]
    output = op(*leaves)
    return [output] + list(torch.autograd.grad(output, leaves, grad_output))


def compare(inputs, dtype, im2col_step=128, block_q=None, block_d=None, grad_seed=0):
    """Errors of the Triton forward and gradients against the reference in float64 on the same
    (rounded) inputs."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
        ms_deform_attn_core_pytorch, ms_deform_attn_triton)
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import \
        ms_deform_attn_triton_kernels as kernels
    value, shapes, starts, locations, weights = inputs
    value, locations, weights = (t.to(dtype) for t in (value, locations, weights))
    out_shape = (value.shape[0], locations.shape[1], value.shape[2] * value.shape[3])
    grad_output = torch.randn(out_shape, generator=torch.Generator().manual_seed(grad_seed),
                              dtype=torch.float64).to(dtype)
    if block_q or block_d:  # the kernels with given block sizes, through their own entry points
        leaves = [t.detach().clone() for t in (value, locations, weights)]
        results = [kernels.forward(leaves[0], shapes, starts, leaves[1], leaves[2], im2col_step,
                                   block_q=block_q, block_d=block_d)]
        results += kernels.backward(leaves[0], shapes, starts, leaves[1], leaves[2], grad_output,
                                    im2col_step, block_q=block_q, block_d=block_d)
    else:
        results = forward_backward(
            lambda v, loc, w: ms_deform_attn_triton(v, shapes, loc, w, im2col_step=im2col_step),
            value, locations, weights, grad_output)
    expected = forward_backward(
        lambda v, loc, w: ms_deform_attn_core_pytorch(v, shapes, loc, w),
        value.double(), locations.double(), weights.double(), grad_output.double())
    names = ['output', 'grad_value', 'grad_locations', 'grad_weights']
    for name, result, reference in zip(names, results, expected):
        if result.dtype != dtype or result.shape != reference.shape:
            raise AssertionError(f'{name}: {result.dtype} {tuple(result.shape)}, expected {dtype} '
                                 f'{tuple(reference.shape)}')
    return {name: relative_error(r, e) for name, r, e in zip(names, results, expected)}


def non_finite_locations():
    """NaN, infinite and huge locations contribute nothing and get zero gradients (as in the C++
    kernels): the same as the reference with those points moved far outside the maps."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
        ms_deform_attn_core_pytorch, ms_deform_attn_triton)
    value, shapes, _, locations, weights = make_inputs(1, [(4, 5), (2, 2)], heads=2, channels=3,
                                                       num_queries=4, points=2, seed=11)
    bad = torch.tensor([math.nan, math.inf, -math.inf, 1e30, -1e30], dtype=torch.float64)
    flat = locations.view(-1)
    positions = torch.arange(0, flat.numel(), 7)
    flat[positions] = bad[torch.arange(positions.numel()) % bad.numel()]
    far = locations.clone()
    hit = ~torch.isfinite(far) | (far.abs() > 10)
    far[hit.any(-1, keepdim=True).expand_as(far)] = -3.0
    grad_output = torch.randn(1, 4, 6, dtype=torch.float64,
                              generator=torch.Generator().manual_seed(12))
    results = forward_backward(lambda v, loc, w: ms_deform_attn_triton(v, shapes, loc, w),
                               value, locations, weights, grad_output)
    expected = forward_backward(lambda v, loc, w: ms_deform_attn_core_pytorch(v, shapes, loc, w),
                                value, far, weights, grad_output)
    names = ['output', 'grad_value', 'grad_locations', 'grad_weights']
    errors = {name: relative_error(r, e) for name, r, e in zip(names, results, expected)}
    errors['points_hit'] = int(hit.any(-1).sum())
    return errors


def input_checks():
    """The kernels refuse what the C++ kernels refuse, with their messages (the tests match them
    against the same patterns as the C++ kernels' tests)."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import \
        ms_deform_attn_triton_kernels as kernels
    value, shapes, starts, locations, weights = make_inputs(6, [(3, 4), (2, 2)], heads=2,
                                                            channels=4, num_queries=3, points=2,
                                                            dtype=torch.float32)
    calls = {
        'im2col_step=4 with N=6': (value, shapes, starts, locations, weights, 4),
        'im2col_step=0': (value, shapes, starts, locations, weights, 0),
        'non-contiguous value': (value.transpose(2, 3).contiguous().transpose(2, 3), shapes,
                                 starts, locations, weights, 64),
        'float64 locations': (value, shapes, starts, locations.double(), weights, 64),
        'int32 shapes': (value, shapes.int(), starts, locations, weights, 64),
        'weights of the wrong shape': (value, shapes, starts, locations,
                                       weights[..., :1].contiguous(), 64),
        'one level of locations': (value, shapes, starts, locations[:, :, :, :1].contiguous(),
                                   weights, 64),
    }
    messages = {}
    for name, args in calls.items():
        try:
            kernels.forward(*args)
        except RuntimeError as err:
            messages[name] = str(err)
        else:
            messages[name] = None
    return messages


def golden():
    """The original's outputs and float64 gradients (tests/data/golden)."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import ms_deform_attn_triton
    g = torch.load(GOLDEN_FILE, weights_only=True)['msda']
    shapes, starts = g['value_spatial_shapes'], g['level_start_index']
    output = ms_deform_attn_triton(g['value'], shapes, g['sampling_locations'],
                                   g['attention_weights'], value_level_start_index=starts)
    errors = {'output_f32_abs': (output - g['output']).abs().max().item()}
    results = forward_backward(
        lambda v, loc, w: ms_deform_attn_triton(v, shapes, loc, w, value_level_start_index=starts),
        g['value'].double(), g['sampling_locations'].double(), g['attention_weights'].double(),
        g['grad_output_f64'])
    for result, key in zip(results, ['output_f64', 'grad_value_f64',
                                     'grad_sampling_locations_f64', 'grad_attention_weights_f64']):
        errors[f'{key}_abs'] = (result - g[key]).abs().max().item()
    return errors


def gradcheck(inputs, fast_mode):
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import ms_deform_attn_triton
    value, shapes, _, locations, weights = inputs
    leaves = [t.requires_grad_() for t in (value, locations, weights)]
    return torch.autograd.gradcheck(lambda v, loc, w: ms_deform_attn_triton(v, shapes, loc, w),
                                    leaves, fast_mode=fast_mode)


def operator_without_extension():
    """As on a machine without the compiled extension: the operators are defined in Python, with the
    Triton kernels as their CUDA kernels. Registered here as their CPU kernels too (only in this
    process), so that ``torch.library.opcheck`` can run them under the interpreter: schema,
    autograd registration, fake kernel and AOT dispatch with dynamic shapes, forward and
    backward; and the operator's gradients equal the reference's."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
        available_backends, ms_deform_attn_core_pytorch)
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import \
        ms_deform_attn_func as msda
    backends = available_backends()
    result = {'backends': {k: v for k, v in backends.items() if isinstance(v, bool)},
              'triton_operator': msda._TRITON_OPERATOR,
              # the dispatcher's table (a private query: nothing public lists kernels by key)
              'cuda_kernel_registered': torch._C._dispatch_has_kernel_for_dispatch_key(
                  msda.FORWARD_OP, 'CUDA')}
    torch.library.register_kernel(msda.FORWARD_OP, 'cpu', msda.triton_forward)
    torch.library.register_kernel(msda.BACKWARD_OP, 'cpu', msda.triton_backward)
    value, shapes, starts, locations, weights = make_inputs(2, [(3, 2), (2, 1)], heads=2,
                                                            channels=2, num_queries=2, points=1,
                                                            seed=13)
    inputs = (value.requires_grad_(), shapes, starts, locations.requires_grad_(),
              weights.requires_grad_())
    grad_output = torch.randn(2, 2, 4, dtype=torch.float64,
                              generator=torch.Generator().manual_seed(14))
    tests = ('test_schema', 'test_autograd_registration', 'test_faketensor',
             'test_aot_dispatch_dynamic')
    opcheck = dict(torch.library.opcheck(torch.ops.themask.ms_deform_attn_forward.default,
                                         inputs + (1,), test_utils=tests))
    opcheck.update({f'backward {k}': v for k, v in torch.library.opcheck(
        torch.ops.themask.ms_deform_attn_backward.default,
        tuple(t.detach() for t in inputs) + (grad_output, 1), test_utils=tests).items()})
    result['opcheck'] = opcheck
    results = forward_backward(
        lambda v, loc, w: torch.ops.themask.ms_deform_attn_forward(v, shapes, starts, loc, w, 1),
        value, locations, weights, grad_output)
    expected = forward_backward(lambda v, loc, w: ms_deform_attn_core_pytorch(v, shapes, loc, w),
                                value, locations, weights, grad_output)
    result['errors'] = [relative_error(r, e) for r, e in zip(results, expected)]
    return result


def run_suite(suite):
    checks = {}
    if suite == 'kernels':
        for name, (inputs, dtype, kwargs) in SHAPE_CASES.items():
            checks[f'shape {name}'] = lambda i=inputs, d=dtype, k=kwargs: compare(i(), d, **k)
        checks['non-finite locations'] = non_finite_locations
        checks['input checks'] = input_checks
    else:
        checks['golden'] = golden
        for name, (inputs, fast_mode) in GRADCHECK_CASES.items():
            checks[f'gradcheck {name}'] = lambda i=inputs, f=fast_mode: gradcheck(i(), f)
        checks['operator without extension'] = operator_without_extension
    results = {}
    for name, check in checks.items():
        start = time.perf_counter()
        try:
            results[name] = {'result': check()}
        except Exception:  # reported to the test, which fails with it
            results[name] = {'error': traceback.format_exc()}
        results[name]['seconds'] = round(time.perf_counter() - start, 2)
    return results


def main(suite):
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import \
        ms_deform_attn_triton_func as triton_path
    kernels, status = triton_path.load_triton_kernels()
    if kernels is None or not kernels.INTERPRETED:
        print(json.dumps({'setup': f'the Triton interpreter is not running: {status}'}))
        return
    print(json.dumps({'setup': 'ok', 'checks': run_suite(suite)}))




def run_in_interpreter(suite, *, without_extension=False):
    """Run ``main(suite)`` in a fresh interpreter with TRITON_INTERPRET=1 (from the test process)
    and return its checks: {name: {'result': ..., 'seconds': ...} or {'error': text, ...}}.
    Skips when triton is not installed; ``without_extension`` blocks the extension's import
    first, as on a machine where it is not built."""
    if importlib.util.find_spec('triton') is None:
        pytest.skip('triton is not installed')
    from tests.conftest import REPO_ROOT
    block = (f'sys.modules[{EXTENSION_MODULE!r}] = None; ' if without_extension else '')
    script = f'import sys; {block}from {__name__} import main; main({suite!r})'
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TRITON_INTERPRET='1')
    for name in ('THEMASK_MODE', 'THEMASK_MSDA_BACKEND'):
        env.pop(name, None)
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['setup'] == 'ok', report['setup']
    return report['checks']
