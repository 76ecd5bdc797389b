"""Shared pieces of the multi-scale deformable attention tests: an independent brute-force sampler,
input generators with points on borders, corners and outside the maps, and the skips for kernels
that are not built (THEMASK_MSDA_REQUIRE_KERNELS=1 turns those into failures)."""
import math
import os

import numpy as np
import pytest
import torch

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import available_backends


def brute_force_msda(value, spatial_shapes, locations, weights):
    """Multi-scale deformable attention with Python loops in float64, from the definition: the
    sample at (x, y) of an H x W map is sum over the integer pixels (i, j) with |u - j| < 1 and
    |v - i| < 1 of (1 - |u - j|)(1 - |v - i|) map[i, j], u = x W - 1/2, v = y H - 1/2, where pixels
    outside the map read 0."""
    value, locations, weights = (np.asarray(t, dtype=np.float64)
                                 for t in (value, locations, weights))
    n_batch, _, heads, channels = value.shape
    _, num_queries, _, levels, points, _ = locations.shape
    output = np.zeros((n_batch, num_queries, heads, channels))
    start = 0
    for level, (height, width) in enumerate(np.asarray(spatial_shapes).tolist()):
        maps = value[:, start:start + height * width].reshape(n_batch, height, width, heads,
                                                              channels)
        start += height * width
        for n in range(n_batch):
            for q in range(num_queries):
                for m in range(heads):
                    for p in range(points):
                        x, y = locations[n, q, m, level, p]
                        u, v = x * width - 0.5, y * height - 0.5
                        for i in range(math.floor(v), math.floor(v) + 2):
                            for j in range(math.floor(u), math.floor(u) + 2):
                                if 0 <= i < height and 0 <= j < width:
                                    tent = (1 - abs(u - j)) * (1 - abs(v - i))
                                    weight = weights[n, q, m, level, p] * tent
                                    output[n, q, m] += weight * maps[n, i, j, m]
    return output.reshape(n_batch, num_queries, heads * channels)


def level_tensors(shapes, device='cpu'):
    """(spatial_shapes, level_start_index) int64 tensors for a list of (H, W)."""
    spatial_shapes = torch.tensor(shapes, dtype=torch.long, device=device)
    sizes = spatial_shapes[:, 0] * spatial_shapes[:, 1]
    level_start_index = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    return spatial_shapes, level_start_index


def make_inputs(n_batch, shapes, heads, channels, num_queries, points, dtype=torch.float64,
                seed=0, device='cpu'):
    """Random value and weights (softmax over levels and points); locations uniform in
    [-0.25, 1.25], so about a third of the points lie partly or wholly outside their map."""
    gen = torch.Generator().manual_seed(seed)
    spatial_shapes, level_start_index = level_tensors(shapes)
    num_values = int((spatial_shapes[:, 0] * spatial_shapes[:, 1]).sum())
    levels = len(shapes)
    value = torch.randn(n_batch, num_values, heads, channels, generator=gen, dtype=torch.float64)
    locations = torch.rand(n_batch, num_queries, heads, levels, points, 2, generator=gen,
                           dtype=torch.float64) * 1.5 - 0.25
    logits = torch.randn(n_batch, num_queries, heads, levels * points, generator=gen,
                         dtype=torch.float64)
    weights = logits.softmax(-1).view(n_batch, num_queries, heads, levels, points)
    to = dict(dtype=dtype, device=device)
    return (value.to(**to), spatial_shapes.to(device), level_start_index.to(device),
            locations.to(**to), weights.to(**to))


def edge_locations(shapes):
    """(x, y) points that are exact in binary for the maps of ``shapes``: the map corners and
    borders (x or y = 0 or 1), pixel centres, the last positions where a pixel still contributes
    (u or v = -1 or W), points just inside and outside those, and points far outside."""
    coords = set()
    for height, width in shapes:
        for size in (height, width):
            # u = x * size - 0.5 in {-1.5, -1, -0.75, -0.5, 0, size - 1, size - 0.5, size,
            # size + 0.25}
            for u in (-1.5, -1.0, -0.75, -0.5, 0.0, size - 1.0, size - 0.5, size, size + 0.25):
                coords.add((u + 0.5) / size)
    coords |= {0.0, 0.5, 1.0, -3.0, 4.0}
    coords = sorted(coords)
    return [(x, y) for x in coords for y in coords]


def edge_case_inputs(shapes=((4, 8), (2, 2), (1, 1)), heads=2, channels=3, dtype=torch.float64,
                     device='cpu'):
    """One query per edge location of ``edge_locations``, one point per level, every level and head
    sampling the same location (so each map meets its own borders)."""
    points = edge_locations(shapes)
    gen = torch.Generator().manual_seed(1)
    spatial_shapes, level_start_index = level_tensors(shapes)
    num_values = int((spatial_shapes[:, 0] * spatial_shapes[:, 1]).sum())
    value = torch.randn(1, num_values, heads, channels, generator=gen, dtype=torch.float64)
    loc = torch.tensor(points, dtype=torch.float64).view(1, len(points), 1, 1, 1, 2)
    loc = loc.expand(1, len(points), heads, len(shapes), 1, 2).contiguous()
    weights = torch.rand(1, len(points), heads, len(shapes), 1, generator=gen, dtype=torch.float64)
    to = dict(dtype=dtype, device=device)
    return (value.to(**to), spatial_shapes.to(device), level_start_index.to(device), loc.to(**to),
            weights.to(**to))


def kernel_available(device):
    """(available, reason) for the compiled kernel of ``device`` ('cpu' or 'cuda') or for the
    Triton kernels on CUDA tensors ('triton')."""
    if device in ('cuda', 'triton') and not torch.cuda.is_available():
        return False, 'no CUDA device'
    backends = available_backends()
    if backends[device]:
        return True, ''
    if device == 'triton':
        return False, f'the Triton kernels are unavailable: {backends["triton_status"]}'
    return False, (f'the {device} kernel of MultiScaleDeformableAttention is unavailable: '
                   f'{backends["extension"]}')


def require_kernel(device):
    """Skip (or, with THEMASK_MSDA_REQUIRE_KERNELS=1 and a device present, fail) when the kernel of
    ``device`` (see ``kernel_available``) is not available."""
    available, reason = kernel_available(device)
    if available:
        return
    if os.environ.get('THEMASK_MSDA_REQUIRE_KERNELS') == '1' and reason != 'no CUDA device':
        pytest.fail(reason + ' (THEMASK_MSDA_REQUIRE_KERNELS=1)')
    pytest.skip(reason)
