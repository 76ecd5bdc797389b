"""Triton kernels of multi-scale deformable attention, for GPUs without a CUDA toolchain.

Imported only when the Triton path is used (this module imports ``triton``): by
``ms_deform_attn_triton`` and, on CUDA tensors, by the Triton kernels of the operator
``themask::ms_deform_attn_forward``/``_backward`` (see ``ms_deform_attn_func``). ``forward`` and
``backward`` take the operator's arguments and return what its C++ kernels return; with
``TRITON_INTERPRET=1`` set before ``triton`` is first imported they run on CPU tensors (Triton's
interpreter), which is how the tests check them without a GPU.

Layout as in the C++ kernels (``src/``): value (N, S, M, D), sampling locations (N, Lq, M, L, P, 2),
attention weights (N, Lq, M, L, P), output (N, Lq, M * D), all contiguous. One program handles
BLOCK_Q queries of one (batch item, head) and BLOCK_D channels: it computes each query's bilinear
stencil once (grid_sample's rule: u = x W - 1/2, v = y H - 1/2, zero padding, align_corners=False)
and reads the four corner pixels as (BLOCK_Q, BLOCK_D) tiles, each row D contiguous channels.
Arithmetic is in float32 (float64 for float64 inputs). The backward accumulates grad_value with
atomic adds (its last bits vary between runs on a GPU, as with the CUDA kernel); the location and
weight gradients are reductions over the channels, stored directly when one program holds all the
channels (D <= 128) and added atomically otherwise.
"""
import contextlib
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl

MAX_BLOCK_D = 128
# BLOCK_Q * BLOCK_D: 8 values per thread with 4 warps. Compiled for sm_90 (triton 3.8, float32,
# D=32): 72 registers in the forward, 101 in the backward, no spills; 2048 took 128 and 200 and the
# forward spilled. The loops over levels and points are not unrolled (range, not static_range):
# unrolled, the compiler hoists all L * P * 4 corner loads and spills (255 registers).
TILE_ELEMENTS = 1024
NUM_WARPS = 4


@triton.jit
def _tile(num_values, num_queries, HEADS: tl.constexpr, CHANNELS: tl.constexpr,
          BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr):
    """This program's channels ``d``, its query and channel masks, its rows (the index of
    (n, q, m) for each query) and the offset of value[n, 0, m, 0]."""
    q = tl.program_id(0) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    d = tl.program_id(2) * BLOCK_D + tl.arange(0, BLOCK_D)
    n = (tl.program_id(1) // HEADS).to(tl.int64)
    m = tl.program_id(1) % HEADS
    row = (n * num_queries + q) * HEADS + m
    return d, q < num_queries, d < CHANNELS, row, (n * num_values * HEADS + m) * CHANNELS


@triton.jit
def _level(shapes_ptr, starts_ptr, level, head, PIXEL_STRIDE: tl.constexpr):
    """Height and width of a level and the offset of its first pixel for this head."""
    height = tl.load(shapes_ptr + 2 * level)
    width = tl.load(shapes_ptr + 2 * level + 1)
    return height, width, head + tl.load(starts_ptr + level) * PIXEL_STRIDE


@triton.jit
def _stencil(loc_ptr, attn_ptr, sample, q_mask, width, height, ACC: tl.constexpr):
    """The bilinear stencil of BLOCK_Q sampling points: whether any corner can be inside, the
    top-left corner (x0, y0), the fractions (fu, fv) and the attention weights. A point with no
    corner inside (NaN too) gets ``inside`` False and harmless coordinates."""
    x = tl.load(loc_ptr + 2 * sample, mask=q_mask, other=0.0).to(ACC)
    y = tl.load(loc_ptr + 2 * sample + 1, mask=q_mask, other=0.0).to(ACC)
    w = width.to(ACC)
    h = height.to(ACC)
    u = x * w - 0.5
    v = y * h - 0.5
    inside = q_mask & (u > -2.0) & (v > -2.0) & (u < w + 1.0) & (v < h + 1.0)
    u = tl.where(inside, u, 0.0)
    v = tl.where(inside, v, 0.0)
    u_floor = tl.floor(u)
    v_floor = tl.floor(v)
    attn = tl.load(attn_ptr + sample, mask=q_mask, other=0.0).to(ACC)
    return inside, u_floor.to(tl.int32), v_floor.to(tl.int32), u - u_floor, v - v_floor, attn


@triton.jit
def _corner(xi, yi, width, height, inside, d, d_mask, PIXEL_STRIDE: tl.constexpr):
    """Offsets (BLOCK_Q, BLOCK_D) of one corner pixel's channels within the level, and their mask:
    the corner must lie in the map (outside reads zero)."""
    valid = inside & (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
    pixel = (yi * width + xi) * PIXEL_STRIDE
    return pixel[:, None] + d[None, :], valid[:, None] & d_mask[None, :]


@triton.jit
def _read_corner(level_ptr, xi, yi, width, height, inside, d, d_mask, PIXEL_STRIDE: tl.constexpr,
                 ACC: tl.constexpr):
    offsets, mask = _corner(xi, yi, width, height, inside, d, d_mask, PIXEL_STRIDE)
    return tl.load(level_ptr + offsets, mask=mask, other=0.0).to(ACC)


@triton.jit
def _forward_kernel(value_ptr, shapes_ptr, starts_ptr, loc_ptr, attn_ptr, out_ptr, num_values,
                    num_queries, HEADS: tl.constexpr, CHANNELS: tl.constexpr,
                    LEVELS: tl.constexpr, POINTS: tl.constexpr, BLOCK_Q: tl.constexpr,
                    BLOCK_D: tl.constexpr, ACC: tl.constexpr):
    d, q_mask, d_mask, row, head = _tile(num_values, num_queries, HEADS, CHANNELS, BLOCK_Q,
                                         BLOCK_D)
    stride = HEADS * CHANNELS  # between pixels
    acc = tl.zeros((BLOCK_Q, BLOCK_D), dtype=ACC)
    for level in range(LEVELS):
        height, width, level_offset = _level(shapes_ptr, starts_ptr, level, head, stride)
        level_ptr = value_ptr + level_offset
        for point in range(POINTS):
            sample = row * (LEVELS * POINTS) + level * POINTS + point
            inside, x0, y0, fu, fv, attn = _stencil(loc_ptr, attn_ptr, sample, q_mask, width,
                                                    height, ACC)
            gu = 1.0 - fu
            gv = 1.0 - fv
            top = (gu[:, None] * _read_corner(level_ptr, x0, y0, width, height, inside, d, d_mask,
                                              stride, ACC)
                   + fu[:, None] * _read_corner(level_ptr, x0 + 1, y0, width, height, inside, d,
                                                d_mask, stride, ACC))
            bottom = (gu[:, None] * _read_corner(level_ptr, x0, y0 + 1, width, height, inside, d,
                                                 d_mask, stride, ACC)
                      + fu[:, None] * _read_corner(level_ptr, x0 + 1, y0 + 1, width, height,
                                                   inside, d, d_mask, stride, ACC))
            acc += (attn * gv)[:, None] * top + (attn * fv)[:, None] * bottom
    out_ptrs = out_ptr + row[:, None] * CHANNELS + d[None, :]
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=q_mask[:, None] & d_mask[None, :])


@triton.jit
def _backward_corner(level_ptr, grad_level_ptr, xi, yi, width, height, inside, d, d_mask,
                     PIXEL_STRIDE: tl.constexpr, grad, weighted_grad, bilinear):
    """Adds ``bilinear * weighted_grad`` to the corner's grad_value and returns the per-query dot
    product of the corner's values with grad_output."""
    offsets, mask = _corner(xi, yi, width, height, inside, d, d_mask, PIXEL_STRIDE)
    tl.atomic_add(grad_level_ptr + offsets, bilinear[:, None] * weighted_grad, mask=mask,
                  sem='relaxed')
    corner = tl.load(level_ptr + offsets, mask=mask, other=0.0).to(grad.dtype)
    return tl.sum(corner * grad, axis=1)


@triton.jit
def _backward_kernel(value_ptr, shapes_ptr, starts_ptr, loc_ptr, attn_ptr, grad_out_ptr,
                     grad_value_ptr, grad_loc_ptr, grad_attn_ptr, num_values, num_queries,
                     HEADS: tl.constexpr, CHANNELS: tl.constexpr, LEVELS: tl.constexpr,
                     POINTS: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr,
                     ACC: tl.constexpr, SPLIT_D: tl.constexpr):
    d, q_mask, d_mask, row, head = _tile(num_values, num_queries, HEADS, CHANNELS, BLOCK_Q,
                                         BLOCK_D)
    stride = HEADS * CHANNELS
    grad = tl.load(grad_out_ptr + row[:, None] * CHANNELS + d[None, :],
                   mask=q_mask[:, None] & d_mask[None, :], other=0.0).to(ACC)
    for level in range(LEVELS):
        height, width, level_offset = _level(shapes_ptr, starts_ptr, level, head, stride)
        level_ptr = value_ptr + level_offset
        grad_level_ptr = grad_value_ptr + level_offset
        for point in range(POINTS):
            sample = row * (LEVELS * POINTS) + level * POINTS + point
            inside, x0, y0, fu, fv, attn = _stencil(loc_ptr, attn_ptr, sample, q_mask, width,
                                                    height, ACC)
            gu = 1.0 - fu
            gv = 1.0 - fv
            weighted_grad = attn[:, None] * grad
            dot00 = _backward_corner(level_ptr, grad_level_ptr, x0, y0, width, height, inside, d,
                                     d_mask, stride, grad, weighted_grad, gu * gv)
            dot01 = _backward_corner(level_ptr, grad_level_ptr, x0 + 1, y0, width, height, inside,
                                     d, d_mask, stride, grad, weighted_grad, fu * gv)
            dot10 = _backward_corner(level_ptr, grad_level_ptr, x0, y0 + 1, width, height, inside,
                                     d, d_mask, stride, grad, weighted_grad, gu * fv)
            dot11 = _backward_corner(level_ptr, grad_level_ptr, x0 + 1, y0 + 1, width, height,
                                     inside, d, d_mask, stride, grad, weighted_grad, fu * fv)
            grad_attn = gv * (gu * dot00 + fu * dot01) + fv * (gu * dot10 + fu * dot11)
            # the bilinear weights' derivatives by u and v times the dot products; du/dx = W,
            # dv/dy = H
            grad_x = attn * width.to(ACC) * (gv * (dot01 - dot00) + fv * (dot11 - dot10))
            grad_y = attn * height.to(ACC) * (gu * (dot10 - dot00) + fu * (dot11 - dot01))
            if SPLIT_D:  # other programs hold the other channels
                tl.atomic_add(grad_attn_ptr + sample, grad_attn, mask=q_mask, sem='relaxed')
                tl.atomic_add(grad_loc_ptr + 2 * sample, grad_x, mask=q_mask, sem='relaxed')
                tl.atomic_add(grad_loc_ptr + 2 * sample + 1, grad_y, mask=q_mask, sem='relaxed')
            else:
                tl.store(grad_attn_ptr + sample, grad_attn, mask=q_mask)
                tl.store(grad_loc_ptr + 2 * sample, grad_x, mask=q_mask)
                tl.store(grad_loc_ptr + 2 * sample + 1, grad_y, mask=q_mask)


# whether triton was imported with TRITON_INTERPRET=1 (the kernels then run on CPU tensors)
INTERPRETED = not isinstance(_forward_kernel, triton.JITFunction)


def check_inputs(value: torch.Tensor, spatial_shapes: torch.Tensor,
                 level_start_index: torch.Tensor, sampling_loc: torch.Tensor,
                 attn_weight: torch.Tensor, im2col_step: int) -> None:
    """The checks of the C++ kernels (``src/ms_deform_attn.h``), with their messages."""
    if value.dim() != 4:
        raise RuntimeError(f'ms_deform_attn: value must have shape (N, S, M, D), got '
                           f'{list(value.shape)}')
    if not value.is_floating_point():
        raise RuntimeError(f'ms_deform_attn: value must be a floating-point tensor, got '
                           f'{value.dtype}')
    for name, t, floating in (('value', value, True),
                              ('value_spatial_shapes', spatial_shapes, False),
                              ('value_level_start_index', level_start_index, False),
                              ('sampling_locations', sampling_loc, True),
                              ('attention_weights', attn_weight, True)):
        if t.device != value.device:
            raise RuntimeError(f'ms_deform_attn: {name} is on {t.device} but value is on '
                               f'{value.device}; all inputs must be on one device')
        if not t.is_contiguous():
            raise RuntimeError(f'ms_deform_attn: {name} must be contiguous')
        if floating and t.dtype != value.dtype:
            raise RuntimeError(f'ms_deform_attn: {name} has dtype {t.dtype} but value has dtype '
                               f'{value.dtype}; cast them to one dtype')
        if not floating and t.dtype != torch.int64:
            raise RuntimeError(f'ms_deform_attn: {name} must be int64, got {t.dtype}')
    batch, _, heads, _ = value.shape
    if spatial_shapes.dim() != 2 or spatial_shapes.shape[1] != 2:
        raise RuntimeError(f'ms_deform_attn: value_spatial_shapes must have shape (L, 2), got '
                           f'{list(spatial_shapes.shape)}')
    levels = spatial_shapes.shape[0]
    if tuple(level_start_index.shape) != (levels,):
        raise RuntimeError(f'ms_deform_attn: value_level_start_index must have shape ({levels},), '
                           f'got {list(level_start_index.shape)}')
    if (sampling_loc.dim() != 6 or sampling_loc.shape[0] != batch
            or sampling_loc.shape[2] != heads or sampling_loc.shape[3] != levels
            or sampling_loc.shape[5] != 2):
        raise RuntimeError(f'ms_deform_attn: sampling_locations must have shape (N={batch}, Lq, '
                           f'M={heads}, L={levels}, P, 2), got {list(sampling_loc.shape)}')
    if attn_weight.shape != sampling_loc.shape[:-1]:
        raise RuntimeError(f'ms_deform_attn: attention_weights must have shape '
                           f'{list(sampling_loc.shape[:-1])} (sampling_locations without the last '
                           f'axis), got {list(attn_weight.shape)}')
    if im2col_step <= 0:
        raise RuntimeError(f'ms_deform_attn: im2col_step must be positive, got {im2col_step}')
    step = max(min(batch, im2col_step), 1)
    if batch % step:
        raise RuntimeError(f'ms_deform_attn: the batch size N={batch} must be divisible by '
                           f'min(N, im2col_step)={step} (im2col_step={im2col_step})')


def block_sizes(channels: int, num_queries: int, block_q: Optional[int] = None,
                block_d: Optional[int] = None) -> Tuple[int, int]:
    """(BLOCK_Q, BLOCK_D): all channels in one program up to MAX_BLOCK_D, queries filling a tile
    of TILE_ELEMENTS (fewer when there are fewer queries); powers of two, as tl.arange needs."""
    if block_d is None:
        block_d = min(triton.next_power_of_2(channels), MAX_BLOCK_D)
    if block_q is None:
        block_q = min(max(TILE_ELEMENTS // block_d, 1), triton.next_power_of_2(num_queries))
    return block_q, block_d


def _accumulator(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _device(value: torch.Tensor):
    """Triton launches on the current CUDA device: make it the value's (nothing for CPU tensors,
    which only the interpreter runs)."""
    return torch.cuda.device(value.device) if value.is_cuda else contextlib.nullcontext()


def forward(value: torch.Tensor, spatial_shapes: torch.Tensor, level_start_index: torch.Tensor,
            sampling_loc: torch.Tensor, attn_weight: torch.Tensor, im2col_step: int, *,
            block_q: Optional[int] = None, block_d: Optional[int] = None) -> torch.Tensor:
    """The output (N, Lq, M * D) in value's dtype. ``im2col_step`` is checked as by the C++
    kernels (min(N, im2col_step) must divide N); the Triton kernel takes the whole batch at once,
    which gives the same result (the chunks of the C++ kernels exist to bound their memory)."""
    check_inputs(value, spatial_shapes, level_start_index, sampling_loc, attn_weight, im2col_step)
    batch, num_values, heads, channels = value.shape
    _, num_queries, _, levels, points, _ = sampling_loc.shape
    output = value.new_empty((batch, num_queries, heads * channels))
    if output.numel() == 0:
        return output
    bq, bd = block_sizes(channels, num_queries, block_q, block_d)
    grid = (triton.cdiv(num_queries, bq), batch * heads, triton.cdiv(channels, bd))
    with _device(value):
        _forward_kernel[grid](value, spatial_shapes, level_start_index, sampling_loc, attn_weight,
                              output, num_values, num_queries, HEADS=heads, CHANNELS=channels,
                              LEVELS=levels, POINTS=points, BLOCK_Q=bq, BLOCK_D=bd,
                              ACC=_accumulator(value.dtype), num_warps=NUM_WARPS)
    return output


def backward(value: torch.Tensor, spatial_shapes: torch.Tensor, level_start_index: torch.Tensor,
             sampling_loc: torch.Tensor, attn_weight: torch.Tensor, grad_output: torch.Tensor,
             im2col_step: int, *, block_q: Optional[int] = None, block_d: Optional[int] = None
             ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_value, grad_sampling_loc, grad_attn_weight) in value's dtype; accumulated in float32
    for float16/bfloat16."""
    check_inputs(value, spatial_shapes, level_start_index, sampling_loc, attn_weight, im2col_step)
    batch, num_values, heads, channels = value.shape
    _, num_queries, _, levels, points, _ = sampling_loc.shape
    expected = (batch, num_queries, heads * channels)
    if grad_output.device != value.device or grad_output.dtype != value.dtype:
        raise RuntimeError(f'ms_deform_attn: grad_output must be a {value.dtype} tensor on '
                           f'{value.device}, got {grad_output.dtype} on {grad_output.device}')
    if tuple(grad_output.shape) != expected:
        raise RuntimeError(f'ms_deform_attn: grad_output must have shape {list(expected)}, got '
                           f'{list(grad_output.shape)}')
    grad_output = grad_output.contiguous()
    acc_dtype = torch.float64 if value.dtype == torch.float64 else torch.float32
    grads = [torch.zeros(t.shape, dtype=acc_dtype, device=value.device)
             for t in (value, sampling_loc, attn_weight)]
    if grad_output.numel() and sampling_loc.numel():
        bq, bd = block_sizes(channels, num_queries, block_q, block_d)
        grid = (triton.cdiv(num_queries, bq), batch * heads, triton.cdiv(channels, bd))
        with _device(value):
            _backward_kernel[grid](value, spatial_shapes, level_start_index, sampling_loc,
                                   attn_weight, grad_output, *grads, num_values, num_queries,
                                   HEADS=heads, CHANNELS=channels, LEVELS=levels, POINTS=points,
                                   BLOCK_Q=bq, BLOCK_D=bd, ACC=_accumulator(value.dtype),
                                   SPLIT_D=grid[2] > 1, num_warps=NUM_WARPS)
    return tuple(g.to(value.dtype) for g in grads)
