"""The compiled CPU and CUDA kernels against the PyTorch reference and the golden entry: forward and
gradients, edge cases, gradcheck, batch chunking (im2col_step) and input checks."""
import pytest
import torch
from torch.autograd import gradcheck

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
    MSDeformAttn,
    MSDeformAttnFunction,
    ms_deform_attn_core_pytorch,
    multi_scale_deformable_attn,
    select_backend,
)
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (
    edge_case_inputs,
    make_inputs,
    require_kernel,
)

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]
CASES = {
    'borders-corners-outside': lambda: edge_case_inputs(),
    'level-1x1-one-point': lambda: make_inputs(2, [(1, 1), (3, 5)], heads=3, channels=3,
                                               num_queries=7, points=1, seed=1),
    'channels-30': lambda: make_inputs(1, [(6, 4), (3, 2)], heads=2, channels=30, num_queries=9,
                                       points=4, seed=2),
    'channels-71': lambda: make_inputs(2, [(5, 5), (3, 3), (1, 2)], heads=1, channels=71,
                                       num_queries=4, points=2, seed=3),
    'pixel-decoder-like': lambda: make_inputs(2, [(8, 8), (4, 4), (2, 2)], heads=8, channels=32,
                                              num_queries=84, points=4, seed=4),
}


def to(inputs, dtype, device):
    return [t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device)
            for t in inputs]


def forward_backward(op, inputs, grad_output):
    """Output and gradients (value, locations, weights) of op(value, locations, weights)."""
    value, locations, weights = (t.detach().clone().requires_grad_() for t in
                                 (inputs[0], inputs[3], inputs[4]))
    output = op(value, locations, weights)
    return [output] + list(torch.autograd.grad(output, (value, locations, weights), grad_output))


def kernel_op(inputs, im2col_step=64):
    _, shapes, starts, _, _ = inputs
    return lambda v, loc, w: MSDeformAttnFunction.apply(v, shapes, starts, loc, w, im2col_step)


def reference_op(inputs):
    shapes = inputs[1]
    return lambda v, loc, w: ms_deform_attn_core_pytorch(v, shapes, loc, w)


def relative_error(result, expected):
    return ((result.double() - expected.double()).abs().max() /
            expected.double().abs().max().clamp_min(1e-30)).item()


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('case', list(CASES))
def test_kernel_matches_reference_float64(device, case):
    require_kernel(device)
    inputs = to(CASES[case](), torch.float64, device)
    grad_output = torch.randn(inputs[0].shape[0], inputs[3].shape[1],
                              inputs[0].shape[2] * inputs[0].shape[3], dtype=torch.float64,
                              generator=torch.Generator().manual_seed(7)).to(device)
    results = forward_backward(kernel_op(inputs), inputs, grad_output)
    expected = forward_backward(reference_op(inputs), inputs, grad_output)
    for name, result, reference in zip(['output', 'value', 'locations', 'weights'], results,
                                       expected):
        assert result.shape == reference.shape and result.dtype == torch.float64
        assert (result - reference).abs().max() < 1e-12, name


@pytest.mark.parametrize('device,dtype,tolerance', [
    ('cpu', torch.float32, 1e-5),
    pytest.param('cuda', torch.float32, 1e-5, marks=pytest.mark.cuda),
    pytest.param('cuda', torch.float16, 5e-3, marks=pytest.mark.cuda),
    pytest.param('cuda', torch.bfloat16, 3e-2, marks=pytest.mark.cuda),
])
@pytest.mark.parametrize('case', ['borders-corners-outside', 'channels-71', 'pixel-decoder-like'])
def test_kernel_matches_reference_low_precision(device, case, dtype, tolerance):
    """Relative to the largest magnitude of each tensor; the reference runs in float64 on the
    same (rounded) inputs."""
    require_kernel(device)
    inputs = to(to(CASES[case](), dtype, device), torch.float64, device)
    grad_output = torch.randn(inputs[0].shape[0], inputs[3].shape[1],
                              inputs[0].shape[2] * inputs[0].shape[3],
                              generator=torch.Generator().manual_seed(8)).to(device, dtype)
    results = forward_backward(kernel_op(to(inputs, dtype, device)), to(inputs, dtype, device),
                               grad_output)
    expected = forward_backward(reference_op(inputs), inputs, grad_output.double())
    for name, result, reference in zip(['output', 'value', 'locations', 'weights'], results,
                                       expected):
        assert result.dtype == dtype
        assert relative_error(result, reference) < tolerance, name


@pytest.mark.parametrize('device', DEVICES)
def test_kernel_reproduces_golden(device, golden_msda):
    require_kernel(device)
    g = golden_msda
    inputs = [g['value'], g['value_spatial_shapes'], g['level_start_index'],
              g['sampling_locations'], g['attention_weights']]
    inputs32 = to(inputs, torch.float32, device)
    output = kernel_op(inputs32)(inputs32[0], inputs32[3], inputs32[4])
    assert (output.cpu() - g['output']).abs().max() < 1e-5
    inputs = to(inputs, torch.float64, device)
    results = forward_backward(kernel_op(inputs), inputs, g['grad_output_f64'].to(device))
    for result, key in zip(results, ['output_f64', 'grad_value_f64',
                                     'grad_sampling_locations_f64', 'grad_attention_weights_f64']):
        assert (result.cpu() - g[key]).abs().max() < 1e-10, key


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('channels', [3, 33])
def test_kernel_gradcheck(device, channels):
    require_kernel(device)
    inputs = to(make_inputs(2, [(3, 4), (2, 1)], heads=2, channels=channels, num_queries=3,
                            points=2, seed=9), torch.float64, device)
    leaves = [inputs[0].requires_grad_(), inputs[3].requires_grad_(), inputs[4].requires_grad_()]
    assert gradcheck(kernel_op(inputs, im2col_step=1), leaves)


@pytest.mark.parametrize('device', DEVICES)
def test_im2col_step_chunks_the_batch_or_refuses(device):
    require_kernel(device)
    inputs = to(make_inputs(6, [(4, 4), (2, 2)], heads=2, channels=5, num_queries=6, points=2),
                torch.float64, device)
    grad_output = torch.ones(6, 6, 10, dtype=torch.float64, device=device)
    whole = forward_backward(kernel_op(inputs, im2col_step=128), inputs, grad_output)
    for step in (1, 2, 3):  # 6, 3 and 2 chunks
        chunked = forward_backward(kernel_op(inputs, im2col_step=step), inputs, grad_output)
        for a, b in zip(chunked, whole):
            assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match=r'batch size N=6 must be divisible by '
                                           r'min\(N, im2col_step\)=4'):
        kernel_op(inputs, im2col_step=4)(inputs[0], inputs[3], inputs[4])
    with pytest.raises(RuntimeError, match='im2col_step must be positive'):
        kernel_op(inputs, im2col_step=0)(inputs[0], inputs[3], inputs[4])


@pytest.mark.parametrize('device', DEVICES)
def test_kernel_rejects_bad_inputs_clearly(device):
    require_kernel(device)
    value, shapes, starts, locations, weights = to(
        make_inputs(1, [(3, 4), (2, 2)], heads=2, channels=4, num_queries=3, points=2),
        torch.float32, device)
    call = MSDeformAttnFunction.apply
    with pytest.raises(RuntimeError, match='value must be contiguous'):
        call(value.transpose(2, 3).contiguous().transpose(2, 3), shapes, starts, locations,
             weights, 64)
    with pytest.raises(RuntimeError, match='sampling_locations has dtype Double but value has '
                                           'dtype Float'):
        call(value, shapes, starts, locations.double(), weights, 64)
    with pytest.raises(RuntimeError, match='value_spatial_shapes must be int64'):
        call(value, shapes.int(), starts, locations, weights, 64)
    with pytest.raises(RuntimeError, match=r'attention_weights must have shape \[1, 3, 2, 2, 2\]'):
        call(value, shapes, starts, locations, weights[..., :1].contiguous(), 64)
    with pytest.raises(RuntimeError, match=r'sampling_locations must have shape \(N=1, Lq, M=2, '
                                           r'L=2, P, 2\)'):
        call(value, shapes, starts, locations[:, :, :, :1].contiguous(), weights, 64)
    if device == 'cpu':  # the CUDA kernel reads the level table on the device, unchecked
        with pytest.raises(RuntimeError, match='describe 13 values .* value has S=16'):
            call(value, torch.tensor([[3, 4], [1, 1]]), starts, locations, weights, 64)
        with pytest.raises(RuntimeError, match=r'value_level_start_index\[1\] = 11 but the levels '
                                               r'before it hold 12 values'):
            call(value, shapes, torch.tensor([0, 11]), locations, weights, 64)
        with pytest.raises(RuntimeError, match='on cpu but value is on meta'):
            call(value.to('meta'), shapes.to('meta'), starts, locations.to('meta'),
                 weights.to('meta'), 64)


def test_cpu_backward_is_deterministic_and_independent_of_threads():
    require_kernel('cpu')
    inputs = make_inputs(2, [(6, 6), (3, 3)], heads=3, channels=7, num_queries=40, points=4,
                         dtype=torch.float32, seed=11)
    grad_output = torch.randn(2, 40, 21, generator=torch.Generator().manual_seed(12))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = forward_backward(kernel_op(inputs), inputs, grad_output)
        torch.set_num_threads(max(2, threads))
        for _ in range(2):
            multi = forward_backward(kernel_op(inputs), inputs, grad_output)
            for a, b in zip(single, multi):
                assert torch.equal(a, b)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.cuda
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cuda_module_under_autocast(dtype):
    require_kernel('cuda')
    torch.manual_seed(0)
    attn = MSDeformAttn(d_model=64, n_levels=2, n_heads=4, n_points=2).cuda()
    shapes = torch.tensor([[8, 8], [4, 4]], device='cuda')
    starts = torch.tensor([0, 64], device='cuda')
    x = torch.randn(2, 80, 64, device='cuda')
    ref_points = torch.rand(2, 80, 2, 2, device='cuda')
    expected = attn(x, ref_points, x, shapes, starts)
    with torch.autocast('cuda', dtype=dtype):
        value = attn.value_proj(x).view(2, 80, 4, 16)
        assert select_backend(value) == 'cuda'
        output = attn(x, ref_points, x, shapes, starts)
        # under autocast the op runs in float32: the dispatcher and the operator cast to it
        locations = torch.rand(2, 80, 4, 2, 2, 2, device='cuda')
        weights = torch.rand(2, 80, 4, 2, 2, device='cuda')
        sampled = multi_scale_deformable_attn(value, shapes, starts, locations, weights)
        direct = MSDeformAttnFunction.apply(value.contiguous(), shapes, starts, locations,
                                            weights.to(dtype), 64)
    assert output.dtype == sampled.dtype == direct.dtype == torch.float32
    assert torch.equal(sampled, direct)
    output.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in attn.parameters())
    assert relative_error(output, expected) < 3e-2
