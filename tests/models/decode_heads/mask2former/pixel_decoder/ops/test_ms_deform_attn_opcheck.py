"""The compiled kernels as PyTorch operators: ``torch.library.opcheck`` of
``themask::ms_deform_attn_forward`` (schema, autograd registration, fake kernel, AOT dispatch with
dynamic shapes; backward through the registered autograd formula) and of
``themask::ms_deform_attn_backward``, on CPU and CUDA, plus the autocast rule and the fake kernel
under ``torch.compile``. The setting of Deformable DETR's test: M=2 heads, L=2 levels (6, 4) and
(3, 2), P=2."""
import pytest
import torch

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import MSDeformAttnFunction
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
    ms_deform_attn_func as msda,
)
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (
    make_inputs,
    require_kernel,
)

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]
DTYPES = [torch.float32, torch.float64]
# (N, D, Lq): batch, channels per head, queries
SIZES = [(1, 2, 2), (2, 4, 5), (2, 3, 3)]
SHAPES = [(6, 4), (3, 2)]
OPCHECK_TESTS = ('test_schema', 'test_autograd_registration', 'test_faketensor',
                 'test_aot_dispatch_dynamic')


def op_inputs(n_batch, channels, num_queries, dtype, device, requires_grad):
    value, shapes, starts, locations, weights = make_inputs(
        n_batch, SHAPES, heads=2, channels=channels, num_queries=num_queries, points=2,
        dtype=dtype, seed=n_batch * 100 + channels * 10 + num_queries, device=device)
    for t in (value, locations, weights):
        t.requires_grad_(requires_grad)
    return value, shapes, starts, locations, weights


def assert_opcheck_passes(op, args):
    results = torch.library.opcheck(op, args, test_utils=OPCHECK_TESTS)
    assert set(results) == set(OPCHECK_TESTS)
    assert all(result == 'SUCCESS' for result in results.values()), results


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
@pytest.mark.parametrize('size', SIZES, ids=[f'N{n}-D{d}-Lq{q}' for n, d, q in SIZES])
@pytest.mark.parametrize('requires_grad', [False, True], ids=['forward', 'forward-backward'])
def test_opcheck_forward(device, dtype, size, requires_grad):
    require_kernel(device)
    n_batch, channels, num_queries = size
    inputs = op_inputs(n_batch, channels, num_queries, dtype, device, requires_grad)
    # im2col_step 1 chunks the batch, 64 takes it whole
    for im2col_step in (1, 64):
        assert_opcheck_passes(torch.ops.themask.ms_deform_attn_forward.default,
                              inputs + (im2col_step,))


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
@pytest.mark.parametrize('size', SIZES[:2], ids=[f'N{n}-D{d}-Lq{q}' for n, d, q in SIZES[:2]])
def test_opcheck_backward(device, dtype, size):
    require_kernel(device)
    n_batch, channels, num_queries = size
    inputs = op_inputs(n_batch, channels, num_queries, dtype, device, requires_grad=False)
    grad_output = torch.randn(n_batch, num_queries, 2 * channels, dtype=dtype, device=device)
    assert_opcheck_passes(torch.ops.themask.ms_deform_attn_backward.default,
                          inputs + (grad_output, 64))


@pytest.mark.parametrize('device', DEVICES)
def test_gradient_of_the_operator_equals_the_backward_op(device):
    """The registered autograd formula returns the backward kernel's gradients."""
    require_kernel(device)
    value, shapes, starts, locations, weights = op_inputs(2, 3, 4, torch.float64, device, True)
    output = MSDeformAttnFunction.apply(value, shapes, starts, locations, weights, 1)
    grad_output = torch.randn_like(output)
    grads = torch.autograd.grad(output, (value, locations, weights), grad_output)
    expected = torch.ops.themask.ms_deform_attn_backward(
        value.detach(), shapes, starts, locations.detach(), weights.detach(), grad_output, 1)
    for grad, reference in zip(grads, expected):
        assert torch.equal(grad, reference)


@pytest.mark.parametrize('device,dtype', [('cpu', torch.bfloat16),
                                          pytest.param('cuda', torch.float16,
                                                       marks=pytest.mark.cuda)])
def test_operator_runs_in_float32_under_autocast(device, dtype):
    require_kernel(device)
    value, shapes, starts, locations, weights = op_inputs(2, 4, 5, torch.float32, device, False)
    expected = MSDeformAttnFunction.apply(value.to(dtype).float(), shapes, starts,
                                          locations.to(dtype).float(), weights, 64)
    with torch.autocast(device, dtype=dtype):
        output = MSDeformAttnFunction.apply(value.to(dtype), shapes, starts, locations.to(dtype),
                                            weights, 64)
    assert output.dtype == torch.float32
    assert torch.equal(output, expected)


def test_python_schemas_equal_the_extension_s():
    """The package defines the operators itself, with these schemas, when the extension is not
    built (then the Triton kernels are their CUDA kernels)."""
    require_kernel('cpu')
    for op, schema in ((torch.ops.themask.ms_deform_attn_forward, msda.FORWARD_SCHEMA),
                       (torch.ops.themask.ms_deform_attn_backward, msda.BACKWARD_SCHEMA)):
        assert str(op.default._schema) == f'{op._qualified_op_name}{schema}'


def test_fake_kernel_gives_shape_and_checks_devices():
    require_kernel('cpu')
    value, shapes, starts, locations, weights = op_inputs(2, 4, 5, torch.float32, 'cpu', False)
    meta = [t.to('meta') for t in (value, shapes, starts, locations, weights)]
    output = torch.ops.themask.ms_deform_attn_forward(*meta, 64)
    assert output.device.type == 'meta' and output.shape == (2, 5, 8)
    with pytest.raises(RuntimeError, match='value_level_start_index is on cpu but value is on '
                                           'meta'):
        torch.ops.themask.ms_deform_attn_forward(meta[0], meta[1], starts, *meta[3:], 64)


def test_operator_compiles_without_graph_break():
    require_kernel('cpu')
    value, shapes, starts, locations, weights = op_inputs(2, 4, 5, torch.float32, 'cpu', False)

    def attend(v, loc, w):
        return MSDeformAttnFunction.apply(v, shapes, starts, loc.sigmoid(), w, 64) * 2

    explanation = torch._dynamo.explain(attend)(value, locations, weights)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    compiled = torch.compile(attend, fullgraph=True, backend='aot_eager')
    assert torch.equal(compiled(value, locations, weights), attend(value, locations, weights))
