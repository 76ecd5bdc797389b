"""The Triton kernels against the PyTorch reference: forward and the three gradients on shape cases
covering every level, points on borders, corners and outside the maps, odd sizes, several heads
and points, several query and channel blocks, im2col_step smaller than the batch, float32 and
float64; non-finite locations; the input checks. On CPU tensors under Triton's interpreter in a
child process (``msda_triton_checks``: all cases at once, about 15 s of which 4 s start Python,
about 1 s per case), and the same checks on CUDA tensors with a GPU."""
import re

import pytest
import torch

from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import require_kernel
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_triton_checks import (
    SHAPE_CASES,
    compare,
    input_checks,
    non_finite_locations,
    result_of,
    run_child,
)

# relative to the largest magnitude of the expected tensor
TOLERANCES = {torch.float64: 1e-12, torch.float16: 5e-3, torch.bfloat16: 3e-2}
FLOAT32_TOLERANCES = dict(output=1e-5, grad_value=1e-4, grad_locations=1e-4, grad_weights=1e-4)
INPUT_CHECKS = [
    ('im2col_step=4 with N=6', r'batch size N=6 must be divisible by min\(N, im2col_step\)=4'),
    ('im2col_step=0', 'im2col_step must be positive'),
    ('non-contiguous value', 'value must be contiguous'),
    ('float64 locations', 'sampling_locations has dtype torch.float64 but value has dtype '
                          'torch.float32'),
    ('int32 shapes', 'value_spatial_shapes must be int64'),
    ('weights of the wrong shape', r'attention_weights must have shape \[6, 3, 2, 2, 2\]'),
    ('one level of locations', r'sampling_locations must have shape \(N=6, Lq, M=2, L=2, P, 2\)'),
]


@pytest.fixture(scope='module')
def checks():
    """The ``kernels`` suite under the interpreter."""
    return run_child('kernels')


def assert_close(errors, dtype):
    for name, error in errors.items():
        tolerance = (FLOAT32_TOLERANCES[name] if dtype == torch.float32
                     else TOLERANCES[dtype])
        assert error < tolerance, (name, errors)


@pytest.mark.parametrize('case', list(SHAPE_CASES))
def test_triton_matches_reference(checks, case):
    assert_close(result_of(checks, f'shape {case}'), SHAPE_CASES[case][1])


def test_cases_cover_the_hard_parts():
    """The acceptance list: at least 10 cases, both dtypes, batch chunks, several blocks."""
    assert len(SHAPE_CASES) >= 10
    assert {dtype for _, dtype, _ in SHAPE_CASES.values()} == {torch.float32, torch.float64}
    options = [kwargs for _, _, kwargs in SHAPE_CASES.values()]
    assert any(kwargs.get('im2col_step', 128) < 4 for kwargs in options)
    assert any('block_q' in kwargs for kwargs in options)


def assert_non_finite_contribute_nothing(errors):
    assert errors.pop('points_hit') >= 5  # NaN, +-inf, +-1e30 each at least once
    for name, error in errors.items():
        assert error < 1e-12, (name, errors)


def test_non_finite_locations_contribute_nothing(checks):
    assert_non_finite_contribute_nothing(result_of(checks, 'non-finite locations'))


def assert_refused(messages, call, pattern):
    message = messages[call]
    assert message is not None, f'{call} was accepted'
    assert message.startswith('ms_deform_attn: ') and re.search(pattern, message), message


@pytest.mark.parametrize('call,pattern', INPUT_CHECKS)
def test_kernels_refuse_bad_inputs_clearly(checks, call, pattern):
    assert_refused(result_of(checks, 'input checks'), call, pattern)


@pytest.mark.cuda
@pytest.mark.parametrize('case', list(SHAPE_CASES))
def test_triton_matches_reference_on_cuda(case):
    require_kernel('triton')
    inputs, dtype, kwargs = SHAPE_CASES[case]
    assert_close(compare(inputs(), dtype, 'cuda', **kwargs), dtype)


@pytest.mark.cuda
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('case', ['borders-corners-outside', 'channels-71',
                                  'channels-130-split-f32'])
def test_triton_half_precision_on_cuda(case, dtype):
    """Computed in float32, gradients accumulated in float32, results in the input dtype."""
    require_kernel('triton')
    inputs, _, kwargs = SHAPE_CASES[case]
    assert_close(compare(inputs(), dtype, 'cuda', **kwargs), dtype)


@pytest.mark.cuda
def test_triton_non_finite_locations_and_input_checks_on_cuda():
    require_kernel('triton')
    assert_non_finite_contribute_nothing(non_finite_locations('cuda'))
    messages = input_checks('cuda')
    for call, pattern in INPUT_CHECKS:
        assert_refused(messages, call, pattern)


@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'backward'])
def test_kernels_compile_for_hopper_without_a_gpu(backward):
    """The Triton compiler (stricter than the interpreter) accepts the kernels and generates sm_90
    code, ahead of time (no GPU needed), at the b1 pixel decoder's sizes (8 heads x 32 channels,
    3 levels, 4 points, float32): 16-byte vector loads of the corner pixels, and vector atomic
    adds into grad_value (about 1 s each with an empty Triton cache)."""
    triton = pytest.importorskip('triton')
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
        ms_deform_attn_triton_kernels as kernels,
    )
    if kernels.INTERPRETED:
        pytest.skip('TRITON_INTERPRET is set in this process')
    kernel = kernels._backward_kernel if backward else kernels._forward_kernel
    block_q, block_d = kernels.block_sizes(32, 8445)  # b1 at 480x853: 8445 queries
    constexprs = dict(HEADS=8, CHANNELS=32, LEVELS=3, POINTS=4, BLOCK_Q=block_q, BLOCK_D=block_d,
                      ACC=kernels._accumulator(torch.float32), SPLIT_D=False)
    signature = {}
    for name in kernel.arg_names:
        if name in constexprs:
            signature[name] = 'constexpr'
        elif name.endswith('_ptr'):
            signature[name] = '*i64' if name in ('shapes_ptr', 'starts_ptr') else '*fp32'
        else:
            signature[name] = 'i32'
    constexprs = {k: v for k, v in constexprs.items() if k in signature}
    # pointers 16-byte aligned, as the launcher finds them
    aligned = {(i,): [['tt.divisibility', 16]] for i, kind in enumerate(signature.values())
               if kind.startswith('*')}
    compiled = triton.compile(ASTSource(kernel, signature, constexprs, aligned),
                              target=GPUTarget('cuda', 90, 32),
                              options=dict(num_warps=kernels.NUM_WARPS))
    ptx = compiled.asm['ptx']
    assert '.target sm_90' in ptx and 'ld.global.v4.b32' in ptx
    if backward:
        assert re.search(r'(atom|red)\.global\.[a-z.]*add\.v4\.f32', ptx)
