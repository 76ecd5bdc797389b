"""Checks of the Triton path against the PyTorch reference, on CPU tensors under Triton's
interpreter (in a child process) or on CUDA tensors (in the test process, with a GPU).

``TRITON_INTERPRET=1`` must be set before ``triton`` is imported, and it changes every Triton
kernel defined afterwards in that process (torch.compile's included), so the tests never set it in
the pytest process: ``run_child(SUITE)`` runs ``main(SUITE)`` in a fresh interpreter with
``TRITON_INTERPRET=1`` and returns the checks it prints as JSON (errors relative to the largest
magnitude of the expected tensor, or the error text); the tests assert on them. The cases are
small: the interpreter executes each program in Python (about 30 ms per program, level and point
in the forward, twice that in the backward). On a GPU the tests call the same checks directly with
``device='cuda'``.

Suites: ``kernels`` (the shape cases, non-finite locations and the input checks), ``autograd``
(the golden entry, gradcheck, and the operator ``themask::ms_deform_attn_*`` defined without the
extension, as on a machine with no CUDA toolchain, with ``torch.library.opcheck``: run with the
extension's import blocked).
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

from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (
    edge_case_inputs,
    make_inputs,
)

EXTENSION_MODULE = ('mmseg.models.decode_heads.mask2former.pixel_decoder.ops.'
                    'MultiScaleDeformableAttention')
GOLDEN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 5, 'data',
                           'golden', 'themask_tiny_golden.pt')
GRADIENTS = ('output', 'grad_value', 'grad_locations', 'grad_weights')

# name: (inputs, dtype, keyword arguments of compare)
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
    'channels-130-split-f32': (lambda: make_inputs(1, [(3, 4), (2, 2)], heads=1, channels=130,
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
# name: (inputs, fast_mode)
GRADCHECK_CASES = {
    # every input element perturbed (the full Jacobian), one level and point
    'full-one-level': (lambda: make_inputs(1, [(2, 3)], heads=1, channels=2, num_queries=2,
                                           points=1, seed=9), False),
    # random directions (fast mode), two levels and points, two heads, a batch of 2
    'fast-two-levels': (lambda: make_inputs(2, [(3, 4), (2, 1)], heads=2, channels=3,
                                            num_queries=3, points=2, seed=10), True),
}


def relative_error(result, expected):
    return ((result.double().cpu() - expected.double().cpu()).abs().max()
            / expected.double().abs().max().clamp_min(1e-30)).item()


def forward_backward(op, value, locations, weights, grad_output):
    """Output and gradients (value, locations, weights) of op(value, locations, weights)."""
    leaves = [t.detach().clone().requires_grad_() for t in (value, locations, weights)]
    output = op(*leaves)
    return [output] + list(torch.autograd.grad(output, leaves, grad_output))


def moved(inputs, dtype, device):
    return [t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device)
            for t in inputs]


def compare(inputs, dtype, device='cpu', im2col_step=128, block_q=None, block_d=None):
    """Errors of the Triton forward and gradients against the reference in float64 on CPU, on the
    same (rounded) inputs."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
        ms_deform_attn_core_pytorch,
        ms_deform_attn_triton,
    )
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
        ms_deform_attn_triton_kernels as kernels,
    )
    inputs = moved(moved(inputs, dtype, 'cpu'), torch.float64, 'cpu')  # rounded to dtype
    value, shapes, starts, locations, weights = moved(inputs, dtype, device)
    out_shape = (value.shape[0], locations.shape[1], value.shape[2] * value.shape[3])
    grad_output = torch.randn(out_shape, generator=torch.Generator().manual_seed(0),
                              dtype=torch.float64).to(dtype)
    if block_q or block_d:  # the kernels with given block sizes, through their own entry points
        args = (value, shapes, starts, locations, weights)
        blocks = dict(block_q=block_q, block_d=block_d)
        results = [kernels.forward(*args, im2col_step, **blocks)]
        results += kernels.backward(*args, grad_output.to(device), im2col_step, **blocks)
    else:
        results = forward_backward(
            lambda v, loc, w: ms_deform_attn_triton(v, shapes, loc, w, im2col_step=im2col_step),
            value, locations, weights, grad_output.to(device))
    expected = forward_backward(
        lambda v, loc, w: ms_deform_attn_core_pytorch(v, inputs[1], loc, w),
        inputs[0], inputs[3], inputs[4], grad_output.double())
    for name, result, reference in zip(GRADIENTS, results, expected):
        if result.dtype != dtype or result.shape != reference.shape:
            raise AssertionError(f'{name}: {result.dtype} {tuple(result.shape)}, expected {dtype} '
                                 f'{tuple(reference.shape)}')
    return {name: relative_error(r, e) for name, r, e in zip(GRADIENTS, results, expected)}


def non_finite_locations(device='cpu'):
    """NaN, infinite and huge locations contribute nothing and get zero gradients (as in the C++
    kernels): the same as the reference with those points moved far outside the maps."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
        ms_deform_attn_core_pytorch,
        ms_deform_attn_triton,
    )
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
    on_device = [t.to(device) for t in (value, shapes, locations, weights, grad_output)]
    results = forward_backward(lambda v, loc, w: ms_deform_attn_triton(v, on_device[1], loc, w),
                               on_device[0], on_device[2], on_device[3], on_device[4])
    expected = forward_backward(lambda v, loc, w: ms_deform_attn_core_pytorch(v, shapes, loc, w),
                                value, far, weights, grad_output)
    errors = {name: relative_error(r, e) for name, r, e in zip(GRADIENTS, results, expected)}
    errors['points_hit'] = int(hit.any(-1).sum())
    return errors


def input_checks(device='cpu'):
    """The messages with which the kernels refuse what the C++ kernels refuse (None: accepted)."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
        ms_deform_attn_triton_kernels as kernels,
    )
    value, shapes, starts, locations, weights = make_inputs(6, [(3, 4), (2, 2)], heads=2,
                                                            channels=4, num_queries=3, points=2,
                                                            dtype=torch.float32, device=device)
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


def golden(device='cpu'):
    """Absolute errors against the original's outputs and float64 gradients (tests/data/golden)."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import ms_deform_attn_triton
    g = torch.load(GOLDEN_FILE, weights_only=True)['msda']
    shapes, starts = g['value_spatial_shapes'].to(device), g['level_start_index'].to(device)

    def op(v, loc, w):
        return ms_deform_attn_triton(v, shapes, loc, w, value_level_start_index=starts)

    inputs = [g[key].to(device) for key in ('value', 'sampling_locations', 'attention_weights')]
    errors = {'output_f32_abs': (op(*inputs).cpu() - g['output']).abs().max().item()}
    results = forward_backward(op, *(t.double() for t in inputs),
                               g['grad_output_f64'].to(device))
    for result, key in zip(results, ['output_f64', 'grad_value_f64',
                                     'grad_sampling_locations_f64', 'grad_attention_weights_f64']):
        errors[f'{key}_abs'] = (result.cpu() - g[key]).abs().max().item()
    return errors


def gradcheck(inputs, fast_mode, device='cpu'):
    """torch.autograd.gradcheck in float64 (on CUDA the atomic adds reorder the sums between
    runs, hence a tolerance for non-determinism there)."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import ms_deform_attn_triton
    value, shapes, _, locations, weights = moved(inputs, torch.float64, device)
    leaves = [t.requires_grad_() for t in (value, locations, weights)]
    return torch.autograd.gradcheck(lambda v, loc, w: ms_deform_attn_triton(v, shapes, loc, w),
                                    leaves, fast_mode=fast_mode,
                                    nondet_tol=1e-12 if device == 'cuda' else 0.0)


def operator_without_extension(device='cpu'):
    """As on a machine without the compiled extension (run with its import blocked): the
    operators are defined in Python, with the Triton kernels as their CUDA kernels. On CPU they
    are registered as the CPU kernels too (only in this process), so that
    ``torch.library.opcheck`` can run them under the interpreter: schema, autograd registration,
    fake kernel and AOT dispatch with dynamic shapes, forward and backward; the operator's
    gradients equal the reference's; torch.compile traces it as one graph."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
        available_backends,
        ms_deform_attn_core_pytorch,
    )
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
        ms_deform_attn_func as msda,
    )
    backends = available_backends()
    result = {'backends': {k: v for k, v in backends.items() if isinstance(v, bool)},
              'triton_operator': msda._TRITON_OPERATOR,
              # the dispatcher's table (a private query: nothing public lists kernels by key)
              'cuda_kernel_registered': torch._C._dispatch_has_kernel_for_dispatch_key(
                  msda.FORWARD_OP, 'CUDA')}
    if device == 'cpu':
        torch.library.register_kernel(msda.FORWARD_OP, 'cpu', msda.triton_forward)
        torch.library.register_kernel(msda.BACKWARD_OP, 'cpu', msda.triton_backward)
    value, shapes, starts, locations, weights = make_inputs(2, [(3, 2), (2, 1)], heads=2,
                                                            channels=2, num_queries=2, points=1,
                                                            seed=13)
    grad_output = torch.randn(2, 2, 4, dtype=torch.float64,
                              generator=torch.Generator().manual_seed(14))
    args = [t.to(device) for t in (value, shapes, starts, locations, weights, grad_output)]
    inputs = (args[0].requires_grad_(), args[1], args[2], args[3].requires_grad_(),
              args[4].requires_grad_())
    tests = ('test_schema', 'test_autograd_registration', 'test_faketensor',
             'test_aot_dispatch_dynamic')
    opcheck = dict(torch.library.opcheck(torch.ops.themask.ms_deform_attn_forward.default,
                                         inputs + (1,), test_utils=tests))
    opcheck.update({f'backward {k}': v for k, v in torch.library.opcheck(
        torch.ops.themask.ms_deform_attn_backward.default,
        tuple(t.detach() for t in inputs) + (args[5], 1), test_utils=tests).items()})
    result['opcheck'] = opcheck
    results = forward_backward(
        lambda v, loc, w: torch.ops.themask.ms_deform_attn_forward(v, args[1], args[2], loc, w, 1),
        args[0], args[3], args[4], args[5])
    expected = forward_backward(lambda v, loc, w: ms_deform_attn_core_pytorch(v, shapes, loc, w),
                                value, locations, weights, grad_output)
    result['errors'] = [relative_error(r, e) for r, e in zip(results, expected)]

    def attend(v, loc, w):
        return torch.ops.themask.ms_deform_attn_forward(v, args[1], args[2], loc.sigmoid(), w,
                                                        1) * 2

    # one graph (fullgraph raises on a break) that gives the eager result
    compiled = torch.compile(attend, fullgraph=True, backend='aot_eager')
    plain = [t.detach() for t in (args[0], args[3], args[4])]
    result['compiled_equals_eager'] = torch.equal(compiled(*plain), attend(*plain))
    return result


def run_suite(suite, device):
    checks = {}
    if suite == 'kernels':
        for name, (inputs, dtype, kwargs) in SHAPE_CASES.items():
            checks[f'shape {name}'] = (
                lambda i=inputs, d=dtype, k=kwargs: compare(i(), d, device, **k))
        checks['non-finite locations'] = lambda: non_finite_locations(device)
        checks['input checks'] = lambda: input_checks(device)
    else:
        checks['golden'] = lambda: golden(device)
        for name, (inputs, fast_mode) in GRADCHECK_CASES.items():
            checks[f'gradcheck {name}'] = lambda i=inputs, f=fast_mode: gradcheck(i(), f, device)
        checks['operator without extension'] = lambda: operator_without_extension(device)
    results = {}
    for name, check in checks.items():
        start = time.perf_counter()
        try:
            results[name] = {'result': check()}
        except Exception:  # reported to the test, which fails with it
            results[name] = {'error': traceback.format_exc()}
        results[name]['seconds'] = round(time.perf_counter() - start, 2)
    return results


def main(suite, device='cpu'):
    """Print the suite's checks as JSON (in the child process)."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
        ms_deform_attn_triton_func as triton_path,
    )
    kernels, status = triton_path.load_triton_kernels()
    if kernels is None or kernels.INTERPRETED != (device == 'cpu'):
        print(json.dumps({'setup': f'the Triton kernels cannot run on {device} here: {status}'}))
        return
    print(json.dumps({'setup': 'ok', 'checks': run_suite(suite, device)}))


def run_child(suite, *, device='cpu', without_extension=False):
    """Run ``main(suite, device)`` in a fresh interpreter (with TRITON_INTERPRET=1 for CPU) from
    the test process and return its checks: {name: {'result': ..., 'seconds': ...} or
    {'error': text, ...}}. Skips when triton is not installed; ``without_extension`` blocks the
    extension's import first, as on a machine where it is not built."""
    if importlib.util.find_spec('triton') is None:
        pytest.skip('triton is not installed')
    from tests.conftest import REPO_ROOT
    block = f'sys.modules[{EXTENSION_MODULE!r}] = None; ' if without_extension else ''
    script = f'import sys; {block}from {__name__} import main; main({suite!r}, {device!r})'
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('TRITON_INTERPRET', None)
    if device == 'cpu':
        env['TRITON_INTERPRET'] = '1'
    for name in ('THEMASK_MODE', 'THEMASK_MSDA_BACKEND'):
        env.pop(name, None)
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['setup'] == 'ok', report['setup']
    return report['checks']


def result_of(checks, name):
    """The result of one check, or a failure with the child's traceback."""
    check = checks[name]
    if 'error' in check:
        pytest.fail(f'{name} raised:\n{check["error"]}')
    return check['result']
