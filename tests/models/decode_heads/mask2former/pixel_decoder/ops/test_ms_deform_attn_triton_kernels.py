"""The Triton kernels against the PyTorch reference, on CPU tensors under Triton's interpreter (in a
child process: see ``msda_triton_interpreter``): forward and the three gradients on shape cases
covering every level, points on borders, corners and outside the maps, odd sizes, several heads
and points, several query and channel blocks, im2col_step smaller than the batch, float32 and
float64; non-finite locations; the input checks. The child runs all cases at once (about 15 s,
4 s of it starting Python), about 1 s per case."""
import re

import pytest

from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_triton_interpreter import (
    SHAPE_CASES, run_in_interpreter)

# relative to the largest magnitude of the expected tensor
TOLERANCES = {'float64': dict.fromkeys(('output', 'grad_value', 'grad_locations', 'grad_weights'),
                                       1e-12),
              'float32': dict(output=1e-5, grad_value=1e-4, grad_locations=1e-4,
                              grad_weights=1e-4)}


@pytest.fixture(scope='module')
def checks():
    return run_in_interpreter('kernels')


def result_of(checks, name):
    check = checks[name]
    assert 'error' not in check, check['error']
    return check['result']


@pytest.mark.parametrize('case', list(SHAPE_CASES))
def test_triton_matches_reference(checks, case):
    errors = result_of(checks, f'shape {case}')
    dtype = str(SHAPE_CASES[case][1]).replace('torch.', '')
    for name, tolerance in TOLERANCES[dtype].items():
        assert errors[name] < tolerance, (name, errors)


def test_cases_cover_the_hard_parts():
    """The acceptance list: at least 10 cases, both dtypes, batch chunks, several blocks."""
    assert len(SHAPE_CASES) >= 10
    dtypes = {str(dtype) for _, dtype, _ in SHAPE_CASES.values()}
    assert dtypes == {'torch.float32', 'torch.float64'}
    options = [kwargs for _, _, kwargs in SHAPE_CASES.values()]
    assert any(kwargs.get('im2col_step', 128) < 4 for kwargs in options)
    assert any('block_q' in kwargs for kwargs in options)


def test_non_finite_locations_contribute_nothing(checks):
    errors = result_of(checks, 'non-finite locations')
    assert errors.pop('points_hit') >= 5  # NaN, +-inf, +-1e30 each at least once
    for name, error in errors.items():
        assert error < 1e-12, (name, errors)


@pytest.mark.parametrize('call,pattern', [
    ('im2col_step=4 with N=6', r'batch size N=6 must be divisible by min\(N, im2col_step\)=4'),
    ('im2col_step=0', 'im2col_step must be positive'),
    ('non-contiguous value', 'value must be contiguous'),
    ('float64 locations', 'sampling_locations has dtype torch.float64 but value has dtype '
                          'torch.float32'),
    ('int32 shapes', 'value_spatial_shapes must be int64'),
    ('weights of the wrong shape', r'attention_weights must have shape \[6, 3, 2, 2, 2\]'),
    ('one level of locations', r'sampling_locations must have shape \(N=6, Lq, M=2, L=2, P, 2\)'),
])
def test_kernels_refuse_bad_inputs_clearly(checks, call, pattern):
    message = result_of(checks, 'input checks')[call]
    assert message is not None, f'{call} was accepted'
    assert message.startswith('ms_deform_attn: ')
    assert re.search(pattern, message), message
