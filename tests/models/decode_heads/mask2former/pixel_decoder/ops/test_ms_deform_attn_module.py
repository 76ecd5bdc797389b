"""The MSDeformAttn layer: parameter names and initialisation of the original, and the forward of
docs/method.md ("3. Pixel decoder") checked against the brute-force sampler."""
import contextlib
import math

import numpy as np
import pytest
import torch

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import MSDeformAttn
from mmseg.models.utils import reference_mode
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (
    brute_force_msda,
    level_tensors,
    require_kernel,
)


def test_state_dict_keys_and_shapes():
    attn = MSDeformAttn(d_model=256, n_levels=3, n_heads=8, n_points=4)
    shapes = {k: tuple(v.shape) for k, v in attn.state_dict().items()}
    assert shapes == {
        'sampling_offsets.weight': (192, 256), 'sampling_offsets.bias': (192,),
        'attention_weights.weight': (96, 256), 'attention_weights.bias': (96,),
        'value_proj.weight': (256, 256), 'value_proj.bias': (256,),
        'output_proj.weight': (256, 256), 'output_proj.bias': (256,),
    }
    assert attn.im2col_step == 128


def test_initialisation_radial_offsets_uniform_attention():
    attn = MSDeformAttn(d_model=16, n_levels=2, n_heads=4, n_points=3)
    bias = attn.sampling_offsets.bias.detach().view(4, 2, 3, 2)
    # head m points along angle 2*pi*m/4: +x, +y, -x, -y, scaled so max |coordinate| = 1, times p+1
    directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    expected = directions[:, None, None, :] * torch.tensor([1.0, 2.0, 3.0])[None, None, :, None]
    assert torch.allclose(bias, expected.expand(4, 2, 3, 2), atol=1e-6)
    eight = MSDeformAttn(d_model=16, n_levels=1, n_heads=8, n_points=2)
    # 45 degrees: cos = sin, normalised to (1, 1)
    assert torch.allclose(eight.sampling_offsets.bias.view(8, 2, 2)[1],
                          torch.tensor([[1.0, 1.0], [2.0, 2.0]]))
    for name in ('sampling_offsets.weight', 'attention_weights.weight', 'attention_weights.bias',
                 'value_proj.bias', 'output_proj.bias'):
        assert attn.state_dict()[name].abs().max() == 0, name
    bound = math.sqrt(6 / (16 + 16))  # xavier_uniform
    for name in ('value_proj.weight', 'output_proj.weight'):
        weight = attn.state_dict()[name]
        assert 0.3 * bound < weight.abs().max() <= bound, name


def test_d_model_not_divisible_by_heads_is_refused():
    with pytest.raises(ValueError, match='d_model must be divisible by n_heads, got d_model=256 '
                                         'and n_heads=7'):
        MSDeformAttn(d_model=256, n_heads=7)


def random_layer(seed=0, d_model=12, n_levels=2, n_heads=3, n_points=2):
    torch.manual_seed(seed)
    attn = MSDeformAttn(d_model=d_model, n_levels=n_levels, n_heads=n_heads, n_points=n_points)
    with torch.no_grad():
        for param in attn.parameters():
            param.normal_(0, 0.5)
    return attn.double()


def test_forward_matches_the_spec_with_brute_force_sampling():
    attn = random_layer()
    shapes = [(3, 4), (2, 2)]
    spatial_shapes, starts = level_tensors(shapes)
    torch.manual_seed(1)
    query = torch.randn(2, 5, 12, dtype=torch.float64)
    x = torch.randn(2, 16, 12, dtype=torch.float64)
    reference_points = torch.rand(2, 5, 2, 2, dtype=torch.float64)
    with reference_mode():
        output = attn(query, reference_points, x, spatial_shapes, starts)

    # docs/method.md ("3. Pixel decoder"), step by step, with numpy and the brute-force sampler
    def linear(layer, inp):
        return inp.numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    value = linear(attn.value_proj, x).reshape(2, 16, 3, 4)
    offsets = linear(attn.sampling_offsets, query).reshape(2, 5, 3, 2, 2, 2)
    logits = linear(attn.attention_weights, query).reshape(2, 5, 3, 4)
    weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    size_xy = np.array([[w, h] for h, w in shapes], dtype=np.float64)  # (L, 2) as (W, H)
    locations = reference_points.numpy()[:, :, None, :, None, :] + offsets / size_xy[:, None, :]
    sampled = brute_force_msda(value, shapes, locations, weights.reshape(2, 5, 3, 2, 2))
    expected = linear(attn.output_proj, torch.from_numpy(sampled))
    assert np.abs(output.detach().numpy() - expected).max() < 1e-12


def test_padding_mask_removes_the_masked_values():
    attn = random_layer(seed=2)
    spatial_shapes, starts = level_tensors([(3, 4), (2, 2)])
    torch.manual_seed(3)
    query = torch.randn(1, 6, 12, dtype=torch.float64)
    reference_points = torch.rand(1, 6, 2, 2, dtype=torch.float64)
    mask = torch.zeros(1, 16, dtype=torch.bool)
    mask[0, [1, 5, 12]] = True
    x1, x2 = torch.randn(2, 1, 16, 12, dtype=torch.float64)
    x2 = torch.where(mask[..., None], x2, x1)  # differs from x1 only where masked
    out1 = attn(query, reference_points, x1, spatial_shapes, starts, mask)
    out2 = attn(query, reference_points, x2, spatial_shapes, starts, mask)
    assert (out1 - out2).abs().max() < 1e-12
    assert (attn(query, reference_points, x2, spatial_shapes, starts) - out1).abs().max() > 1e-3


def test_reference_points_shape_is_checked():
    attn = MSDeformAttn(d_model=8, n_levels=2, n_heads=2, n_points=1)
    spatial_shapes, starts = level_tensors([(2, 2), (1, 1)])
    with pytest.raises(ValueError, match=r'reference_points must have shape .* \(1, 3, 2, 2\), '
                                         r'got \(1, 3, 2, 4\)'):
        attn(torch.randn(1, 3, 8), torch.rand(1, 3, 2, 4), torch.randn(1, 5, 8), spatial_shapes,
             starts)


def test_kernel_and_reference_paths_agree_with_gradients():
    require_kernel('cpu')
    attn = random_layer(seed=4, d_model=16, n_levels=2, n_heads=2, n_points=3).float()
    spatial_shapes, starts = level_tensors([(5, 6), (3, 3)])
    torch.manual_seed(5)
    x = torch.randn(2, 39, 16)
    reference_points = torch.rand(2, 39, 2, 2)
    results = []
    for mode in (reference_mode, contextlib.nullcontext):
        attn.zero_grad()
        with mode():
            output = attn(x, reference_points, x, spatial_shapes, starts)
        output.square().sum().backward()
        results.append([output.detach()] + [p.grad.clone() for p in attn.parameters()])
    for reference, kernel in zip(*results):
        assert ((reference - kernel).abs().max() / reference.abs().max()) < 1e-5
