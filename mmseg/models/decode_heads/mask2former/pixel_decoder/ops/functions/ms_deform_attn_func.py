"""Multi-scale deformable attention: the PyTorch reference, the compiled kernels and the dispatcher.

Shapes (N batch, S = sum of H_l * W_l value tokens, M heads, D channels per head, Lq queries,
L levels, P points per level and head):

- ``value`` (N, S, M, D); level l is ``value[:, start_l:start_l + H_l * W_l]``, row-major (H_l, W_l)
- ``value_spatial_shapes`` (L, 2) int64, rows (H_l, W_l)
- ``value_level_start_index`` (L,) int64, start_l = sum of H_k * W_k for k < l
- ``sampling_locations`` (N, Lq, M, L, P, 2), (x, y) normalised to [0, 1] (outside reads zeros)
- ``attention_weights`` (N, Lq, M, L, P)
- output (N, Lq, M * D)

``multi_scale_deformable_attn`` picks the implementation by device: CUDA tensors use the CUDA
kernel and CPU tensors the CPU kernel when the extension is built (``sh make.sh`` in ``ops/``);
everything else, and every call while the reference is forced (``use_reference_op(True)`` or the
environment variable ``THEMASK_MSDA=reference``), runs ``ms_deform_attn_core_pytorch``.
"""
import importlib
import os
import warnings
from types import ModuleType
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch.autograd import Function
from torch.autograd.function import once_differentiable

OPS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSION_MODULE = __name__.rsplit('.', 2)[0] + '.MultiScaleDeformableAttention'
ENV_VAR = 'THEMASK_MSDA'
CPU_DTYPES = (torch.float32, torch.float64)
CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def ms_deform_attn_core_pytorch(value: torch.Tensor, value_spatial_shapes: torch.Tensor,
                                sampling_locations: torch.Tensor,
                                attention_weights: torch.Tensor) -> torch.Tensor:
    """The reference: per level ``F.grid_sample`` (bilinear, zero padding, align_corners=False)
    at ``2 * loc - 1``, then the attention-weighted sum over levels and points."""
    n, _, heads, channels = value.shape
    _, num_queries, _, levels, points, _ = sampling_locations.shape
    shapes = [(int(h), int(w)) for h, w in value_spatial_shapes.tolist()]
    value_per_level = value.split([h * w for h, w in shapes], dim=1)
    grids = 2 * sampling_locations - 1
    samples = []
    for level, (h, w) in enumerate(shapes):
        # (N, H*W, M, D) -> (N*M, D, H, W)
        level_value = value_per_level[level].flatten(2).transpose(1, 2).reshape(
            n * heads, channels, h, w)
        # (N, Lq, M, P, 2) -> (N*M, Lq, P, 2)
        level_grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        # (N*M, D, Lq, P)
        samples.append(F.grid_sample(level_value, level_grid, mode='bilinear',
                                     padding_mode='zeros', align_corners=False))
    # (N, Lq, M, L, P) -> (N*M, 1, Lq, L*P)
    weights = attention_weights.transpose(1, 2).reshape(n * heads, 1, num_queries, levels * points)
    output = (torch.stack(samples, dim=-2).flatten(-2) * weights).sum(-1)
    return output.view(n, heads * channels, num_queries).transpose(1, 2).contiguous()


def _load_extension(module_name: str) -> Tuple[Optional[ModuleType], str]:
    """Import the compiled op; return (module or None, a one-line status for logs)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return None, f'not built (run `sh make.sh` in {OPS_DIR})'
    except ImportError as err:
        status = (f'{module_name} is present but cannot be loaded ({err}); rebuild it with '
                  f'`sh make.sh` in {OPS_DIR}')
        warnings.warn(f'{status}. The PyTorch reference is used instead.', stacklevel=2)
        return None, status
    return module, f'built ({module.__file__})'


_extension, _extension_status = _load_extension(EXTENSION_MODULE)
_CPU_BUILT = _extension is not None
_CUDA_BUILT = _extension is not None and _extension.with_cuda()
_force_reference: Optional[bool] = None


class use_reference_op:
    """Force every call onto the PyTorch reference (``True``), onto the kernels where they apply
    (``False``), or back to the ``THEMASK_MSDA`` environment variable (``None``).

    Works as a call (``use_reference_op(True)``) and as a context manager that restores the
    previous setting on exit (``with use_reference_op(True): ...``).
    """

    def __init__(self, enabled: Optional[bool] = True) -> None:
        global _force_reference
        self.previous = _force_reference
        _force_reference = None if enabled is None else bool(enabled)

    def __enter__(self) -> 'use_reference_op':
        return self

    def __exit__(self, *exc_info) -> None:
        global _force_reference
        _force_reference = self.previous


def reference_op_forced() -> bool:
    """Whether the reference is forced: ``use_reference_op`` if it was called, otherwise
    ``THEMASK_MSDA`` (``reference`` or ``auto``, the default)."""
    if _force_reference is not None:
        return _force_reference
    mode = os.environ.get(ENV_VAR, 'auto').strip().lower()
    if mode not in ('auto', 'reference', ''):
        raise ValueError(f'environment variable {ENV_VAR}={mode!r} is not understood: expected '
                         '"auto" (kernels where built) or "reference" (always the PyTorch '
                         'reference)')
    return mode == 'reference'


def select_backend(value: torch.Tensor) -> str:
    """The implementation ``multi_scale_deformable_attn`` runs for this value tensor:
    ``'cuda'``, ``'cpu'`` or ``'reference'``."""
    if reference_op_forced():
        return 'reference'
    if value.device.type == 'cuda' and _CUDA_BUILT and value.dtype in CUDA_DTYPES:
        return 'cuda'
    if value.device.type == 'cpu' and _CPU_BUILT and value.dtype in CPU_DTYPES:
        return 'cpu'
    return 'reference'


def available_backends() -> Dict[str, Union[bool, str]]:
    """Which kernels are built, whether the reference is forced, and the extension's status."""
    return {'cpu': _CPU_BUILT, 'cuda': _CUDA_BUILT, 'reference_forced': reference_op_forced(),
            'extension': _extension_status}


def _compiled_extension() -> ModuleType:
    if _extension is None:
        raise RuntimeError(f'the compiled MultiScaleDeformableAttention op is unavailable: '
                           f'{_extension_status}. multi_scale_deformable_attn() falls back to the '
                           'PyTorch reference.')
    return _extension


class MSDeformAttnFunction(Function):
    """The compiled kernels as an autograd function (the original's entry point). Inputs must be
    contiguous, on one device, with value, locations and weights of the same dtype; the batch is
    processed in chunks of ``min(N, im2col_step)``, which must divide N."""

    @staticmethod
    def forward(ctx, value: torch.Tensor, value_spatial_shapes: torch.Tensor,
                value_level_start_index: torch.Tensor, sampling_locations: torch.Tensor,
                attention_weights: torch.Tensor, im2col_step: int) -> torch.Tensor:
        ctx.im2col_step = im2col_step
        output = _compiled_extension().ms_deform_attn_forward(
            value, value_spatial_shapes, value_level_start_index, sampling_locations,
            attention_weights, im2col_step)
        ctx.save_for_backward(value, value_spatial_shapes, value_level_start_index,
                              sampling_locations, attention_weights)
        return output

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        grad_value, grad_locations, grad_weights = _compiled_extension().ms_deform_attn_backward(
            *ctx.saved_tensors, grad_output.contiguous(), ctx.im2col_step)
        return grad_value, None, None, grad_locations, grad_weights, None


def multi_scale_deformable_attn(value: torch.Tensor, value_spatial_shapes: torch.Tensor,
                                value_level_start_index: torch.Tensor,
                                sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                                im2col_step: int = 128) -> torch.Tensor:
    """Multi-scale deformable attention on the implementation ``select_backend(value)`` names.

    ``sampling_locations`` and ``attention_weights`` are cast to ``value.dtype`` first, so the
    call works under mixed precision.
    """
    sampling_locations = sampling_locations.to(value.dtype)
    attention_weights = attention_weights.to(value.dtype)
    if select_backend(value) == 'reference':
        return ms_deform_attn_core_pytorch(value, value_spatial_shapes, sampling_locations,
                                           attention_weights)
    return MSDeformAttnFunction.apply(
        value.contiguous(), value_spatial_shapes.contiguous(),
        value_level_start_index.contiguous(), sampling_locations.contiguous(),
        attention_weights.contiguous(), im2col_step)
