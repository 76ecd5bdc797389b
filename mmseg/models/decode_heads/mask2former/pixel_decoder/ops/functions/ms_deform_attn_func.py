"""Multi-scale deformable attention: the PyTorch reference, the compiled kernels and the dispatcher.

Shapes (N batch, S = sum of H_l * W_l value tokens, M heads, D channels per head, Lq queries,
L levels, P points per level and head):

- ``value`` (N, S, M, D); level l is ``value[:, start_l:start_l + H_l * W_l]``, row-major (H_l, W_l)
- ``value_spatial_shapes`` (L, 2) int64, rows (H_l, W_l)
- ``value_level_start_index`` (L,) int64, start_l = sum of H_k * W_k for k < l
- ``sampling_locations`` (N, Lq, M, L, P, 2), (x, y) normalised to [0, 1] (outside reads zeros)
- ``attention_weights`` (N, Lq, M, L, P)
- output (N, Lq, M * D)

The compiled kernels are the PyTorch operators ``torch.ops.themask.ms_deform_attn_forward`` and
``torch.ops.themask.ms_deform_attn_backward`` (schemas and CPU/CUDA kernels in ``src/vision.cpp``,
registered when the extension is imported); this module registers their fake (shape) kernels,
the backward formula (``torch.library.register_autograd``) and the autocast rule, so that
``torch.compile`` and ``torch.export`` trace through the op.

Without the extension's CUDA kernel, the Triton kernels (``ms_deform_attn_triton``; triton comes
with PyTorch's CUDA wheels and compiles them at run time) are registered as the operators' CUDA
kernels; without the extension at all, this module defines the operators itself (the schemas of
``src/vision.cpp``) so that ``torch.compile`` and ``torch.export`` see the same one op.

``multi_scale_deformable_attn`` runs the implementation ``select_backend`` names: on CUDA tensors
the compiled CUDA kernel when built, else the Triton kernels when triton is installed and imports,
else the reference; on CPU tensors (float32/float64) the compiled CPU kernel when built, else the
reference.
``THEMASK_MSDA_BACKEND=cuda|triton|reference`` forces one (``cuda`` and ``triton`` on CUDA tensors;
an error when it is unavailable); reference mode (``mmseg.models.utils``: ``reference_mode()``,
``set_fast_mode(False)`` or ``THEMASK_MODE=reference``, the original's whole computational path)
runs ``ms_deform_attn_core_pytorch`` everywhere.

Autocast: the op runs in float32 under autocast (its float16/bfloat16 inputs are cast to float32
and the output is float32), in the dispatcher and in the operator itself
(``torch.library.register_autocast``), on CPU and CUDA. Why: sampling locations in [0, 1] lose too
much in half precision (bfloat16 keeps 8 bits: on a 128-pixel map a location moves by up to a
quarter pixel); the CUDA kernel computes in float32 for half inputs anyway, so float32 inputs cost
only the bandwidth of reading them; the CPU kernel exists in float32/float64 only, so CPU autocast
keeps the kernel rather than falling back to the reference; and the original runs the pixel
decoder in float32 under AMP. Outside autocast the op runs in the dtype of ``value`` (locations
and weights are cast to it): float32/float64 on CPU, also float16/bfloat16 on CUDA.
"""
import contextlib
import importlib
import os
import warnings
from types import ModuleType
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from mmseg.models.utils.compute_mode import fast_mode
from mmseg.utils.errors import UsageError

from .ms_deform_attn_triton_func import (
    TRITON_INSTALLED,
    load_triton_kernels,
    ms_deform_attn_triton,
    triton_backward,
    triton_forward,
    triton_usable,
)

OPS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSION_MODULE = __name__.rsplit('.', 2)[0] + '.MultiScaleDeformableAttention'
CPU_DTYPES = (torch.float32, torch.float64)
CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
LevelShapes = Union[torch.Tensor, Sequence[Tuple[int, int]]]


def ms_deform_attn_core_pytorch(value: torch.Tensor, value_spatial_shapes: LevelShapes,
                                sampling_locations: torch.Tensor,
                                attention_weights: torch.Tensor) -> torch.Tensor:
    """The reference: per level ``F.grid_sample`` (bilinear, zero padding, align_corners=False)
    at ``2 * loc - 1``, then the attention-weighted sum over levels and points.

    ``value_spatial_shapes`` may also be its rows as ints (symbolic sizes under ``torch.export``):
    then no level size is read from a tensor, so the function exports with dynamic sizes."""
    n, _, heads, channels = value.shape
    _, num_queries, _, levels, points, _ = sampling_locations.shape
    shapes = ([(int(h), int(w)) for h, w in value_spatial_shapes.tolist()]
              if isinstance(value_spatial_shapes, torch.Tensor) else list(value_spatial_shapes))
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


OP_NAMESPACE = 'themask'
FORWARD_OP = f'{OP_NAMESPACE}::ms_deform_attn_forward'
BACKWARD_OP = f'{OP_NAMESPACE}::ms_deform_attn_backward'
# the schemas of src/vision.cpp, for defining the operators without the extension
FORWARD_SCHEMA = ('(Tensor value, Tensor spatial_shapes, Tensor level_start_index, '
                  'Tensor sampling_loc, Tensor attn_weight, int im2col_step) -> Tensor')
BACKWARD_SCHEMA = ('(Tensor value, Tensor spatial_shapes, Tensor level_start_index, '
                   'Tensor sampling_loc, Tensor attn_weight, Tensor grad_output, int im2col_step) '
                   '-> (Tensor, Tensor, Tensor)')


def _fake_forward(value: torch.Tensor, spatial_shapes: torch.Tensor,
                  level_start_index: torch.Tensor, sampling_loc: torch.Tensor,
                  attn_weight: torch.Tensor, im2col_step: int) -> torch.Tensor:
    """Shape and dtype of the forward: (N, Lq, M * D) in value's dtype."""
    for name, t in (('value_spatial_shapes', spatial_shapes),
                    ('value_level_start_index', level_start_index),
                    ('sampling_locations', sampling_loc), ('attention_weights', attn_weight)):
        torch._check(t.device == value.device,
                     lambda: f'ms_deform_attn: {name} is on {t.device} but value is on '
                             f'{value.device}; all inputs must be on one device')
    torch._check(value.dim() == 4 and sampling_loc.dim() == 6 and attn_weight.dim() == 5,
                 lambda: 'ms_deform_attn: expected value (N, S, M, D), sampling_locations '
                         '(N, Lq, M, L, P, 2) and attention_weights (N, Lq, M, L, P)')
    torch._check(sampling_loc.dtype == value.dtype and attn_weight.dtype == value.dtype,
                 lambda: 'ms_deform_attn: value, sampling_locations and attention_weights must '
                         'have one dtype')
    return value.new_empty((value.shape[0], sampling_loc.shape[1], value.shape[2] * value.shape[3]))


def _fake_backward(value: torch.Tensor, spatial_shapes: torch.Tensor,
                   level_start_index: torch.Tensor, sampling_loc: torch.Tensor,
                   attn_weight: torch.Tensor, grad_output: torch.Tensor,
                   im2col_step: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients shaped like value, sampling_loc and attn_weight."""
    return (torch.empty_like(value, memory_format=torch.contiguous_format),
            torch.empty_like(sampling_loc, memory_format=torch.contiguous_format),
            torch.empty_like(attn_weight, memory_format=torch.contiguous_format))


def _setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
    value, spatial_shapes, level_start_index, sampling_loc, attn_weight, im2col_step = inputs
    ctx.save_for_backward(value, spatial_shapes, level_start_index, sampling_loc, attn_weight)
    ctx.im2col_step = im2col_step


def _backward(ctx, grad_output: torch.Tensor) -> tuple:
    """The backward kernel (not itself differentiable: no double backward)."""
    grad_value, grad_loc, grad_weight = torch.ops.themask.ms_deform_attn_backward(
        *ctx.saved_tensors, grad_output.contiguous(), ctx.im2col_step)
    return grad_value, None, None, grad_loc, grad_weight, None


def _register_python_parts(*, triton_cuda_kernels: bool) -> None:
    """Fake kernels, autograd and autocast of the operators, and the Triton kernels as their CUDA
    kernels when ``triton_cuda_kernels``."""
    torch.library.register_fake(FORWARD_OP, _fake_forward)
    torch.library.register_fake(BACKWARD_OP, _fake_backward)
    torch.library.register_autograd(FORWARD_OP, _backward, setup_context=_setup_context)
    for device_type in ('cpu', 'cuda'):
        torch.library.register_autocast(FORWARD_OP, device_type, torch.float32)
    if triton_cuda_kernels:
        torch.library.register_kernel(FORWARD_OP, 'cuda', triton_forward)
        torch.library.register_kernel(BACKWARD_OP, 'cuda', triton_backward)


def _load_operator() -> Tuple[Optional[ModuleType], str]:
    """Import the extension and check that it registered the operators (once per loaded library:
    the Python parts, with the Triton CUDA kernels when the extension has no CUDA kernel)."""
    extension, status = _load_extension(EXTENSION_MODULE)
    if extension is None:
        return None, status
    if not hasattr(torch.ops.themask, 'ms_deform_attn_forward'):
        status = (f'{extension.__file__} registers no themask::ms_deform_attn_forward (an old '
                  f'build); rebuild it with `sh make.sh` in {OPS_DIR}')
        warnings.warn(f'{status}. The PyTorch reference is used instead.', stacklevel=2)
        return None, status
    if not getattr(extension, '_themask_python_registered', False):
        _register_python_parts(triton_cuda_kernels=TRITON_INSTALLED and not extension.with_cuda())
        extension._themask_python_registered = True
    return extension, status


def _define_operator() -> None:
    """Without the extension: define the operators here, with the Triton kernels for CUDA."""
    if not hasattr(torch.ops.themask, 'ms_deform_attn_forward'):
        torch.library.define(FORWARD_OP, FORWARD_SCHEMA)
        torch.library.define(BACKWARD_OP, BACKWARD_SCHEMA)
        _register_python_parts(triton_cuda_kernels=True)


_extension, _extension_status = _load_operator()
_CPU_BUILT = _extension is not None
_CUDA_BUILT = _extension is not None and _extension.with_cuda()
if _extension is None and TRITON_INSTALLED:
    _define_operator()
# the operators' CUDA kernel is the Triton one
_TRITON_OPERATOR = TRITON_INSTALLED and not _CUDA_BUILT

BACKEND_ENV = 'THEMASK_MSDA_BACKEND'
BACKEND_CHOICES = ('auto', 'cuda', 'triton', 'reference')
_BACKEND = os.environ.get(BACKEND_ENV, '').strip().lower() or 'auto'


def forced_backend() -> str:
    """The value of THEMASK_MSDA_BACKEND (read at import): auto (the default), cuda, triton or
    reference."""
    if _BACKEND not in BACKEND_CHOICES:
        raise UsageError(f'{BACKEND_ENV}={_BACKEND!r}: expected one of '
                         f'{", ".join(BACKEND_CHOICES)}')
    return _BACKEND


@contextlib.contextmanager
def backend_forced(name: str) -> Iterator[None]:
    """Run the enclosed code as under ``THEMASK_MSDA_BACKEND=name``; ``'reference'`` gives a graph
    of standard PyTorch operators (``F.grid_sample``), e.g. for an ONNX export."""
    global _BACKEND
    if name not in BACKEND_CHOICES:
        raise ValueError(f'backend {name!r}: expected one of {", ".join(BACKEND_CHOICES)}')
    previous, _BACKEND = _BACKEND, name
    try:
        yield
    finally:
        _BACKEND = previous


def select_backend(value: torch.Tensor) -> str:
    """The implementation ``multi_scale_deformable_attn`` runs for this value tensor (after the
    autocast cast): ``'cuda'``, ``'triton'``, ``'cpu'`` or ``'reference'``.

    Reference mode or THEMASK_MSDA_BACKEND=reference: the reference. CPU tensors: the CPU kernel
    when built. CUDA tensors: the CUDA kernel when built, else Triton when installed and
    importable, else the reference; THEMASK_MSDA_BACKEND=cuda or triton forces that one (UsageError
    if unavailable).
    """
    if not fast_mode():
        return 'reference'
    forced = forced_backend()
    if forced == 'reference':
        return 'reference'
    if value.device.type == 'cpu':
        return 'cpu' if _CPU_BUILT and value.dtype in CPU_DTYPES else 'reference'
    if value.device.type != 'cuda' or value.dtype not in CUDA_DTYPES:
        return 'reference'
    if forced == 'cuda' and not _CUDA_BUILT:
        why = (f'{_extension.__file__} was built without it' if _CPU_BUILT
               else _extension_status)
        raise UsageError(f'{BACKEND_ENV}=cuda but the CUDA kernel is unavailable: {why}; build '
                         f'it with `THEMASK_MSDA_CUDA=1 sh make.sh` in {OPS_DIR}, or unset '
                         f'{BACKEND_ENV}')
    if forced == 'triton' and not triton_usable():
        raise UsageError(f'{BACKEND_ENV}=triton but Triton is unavailable: '
                         f'{load_triton_kernels()[1]}; or unset {BACKEND_ENV}')
    if forced != 'triton' and _CUDA_BUILT:
        return 'cuda'
    return 'triton' if triton_usable() else 'reference'


def available_backends() -> Dict[str, Union[bool, str]]:
    """What can run: the compiled kernels (``cpu``, ``cuda``), ``triton`` (importable: this
    imports it), the switches (``backend``: THEMASK_MSDA_BACKEND; ``reference_forced``: reference
    mode) and one-line statuses of the extension and of triton."""
    triton_kernels, triton_status = load_triton_kernels()
    return {'cpu': _CPU_BUILT, 'cuda': _CUDA_BUILT, 'triton': triton_kernels is not None,
            'backend': _BACKEND, 'reference_forced': not fast_mode(),
            'extension': _extension_status, 'triton_status': triton_status}


class MSDeformAttnFunction:
    """The original's entry point: ``MSDeformAttnFunction.apply(value, value_spatial_shapes,
    value_level_start_index, sampling_locations, attention_weights, im2col_step)`` calls the
    operator ``torch.ops.themask.ms_deform_attn_forward`` (differentiable through its registered
    backward). Inputs must be contiguous, on one device, with value, locations and weights of the
    same dtype; the batch is processed in chunks of ``min(N, im2col_step)``, which must divide N."""

    @staticmethod
    def apply(value: torch.Tensor, value_spatial_shapes: torch.Tensor,
              value_level_start_index: torch.Tensor, sampling_locations: torch.Tensor,
              attention_weights: torch.Tensor, im2col_step: int) -> torch.Tensor:
        if _extension is None and not (_TRITON_OPERATOR and value.device.type == 'cuda'):
            raise RuntimeError(f'the compiled MultiScaleDeformableAttention op is unavailable: '
                               f'{_extension_status}. multi_scale_deformable_attn() falls back to '
                               'the PyTorch reference.')
        return torch.ops.themask.ms_deform_attn_forward(
            value, value_spatial_shapes, value_level_start_index, sampling_locations,
            attention_weights, im2col_step)


def _autocast_on(device_type: str) -> bool:
    return device_type in ('cpu', 'cuda') and torch.is_autocast_enabled(device_type)


def multi_scale_deformable_attn(value: torch.Tensor, value_spatial_shapes: torch.Tensor,
                                value_level_start_index: torch.Tensor,
                                sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                                im2col_step: int = 128, *,
                                level_shapes: Optional[Sequence[Tuple[int, int]]] = None
                                ) -> torch.Tensor:
    """Multi-scale deformable attention on the implementation ``select_backend(value)`` names.

    Under autocast every floating input is cast to float32 (the output is float32); otherwise
    ``sampling_locations`` and ``attention_weights`` are cast to ``value.dtype``.
    ``level_shapes``: the rows of ``value_spatial_shapes`` as ints, which the reference then uses
    instead of reading the tensor (see ``ms_deform_attn_core_pytorch``).
    """
    dtype = torch.float32 if _autocast_on(value.device.type) else value.dtype
    value = value.to(dtype)
    sampling_locations = sampling_locations.to(dtype)
    attention_weights = attention_weights.to(dtype)
    backend = select_backend(value)
    if backend == 'reference':
        shapes = value_spatial_shapes if level_shapes is None else level_shapes
        return ms_deform_attn_core_pytorch(value, shapes, sampling_locations, attention_weights)
    if backend == 'triton' and not _TRITON_OPERATOR:
        # forced where the operator's CUDA kernel is the compiled one: Triton beside the operator
        return ms_deform_attn_triton(
            value, value_spatial_shapes, sampling_locations, attention_weights,
            value_level_start_index=value_level_start_index, im2col_step=im2col_step)
    return MSDeformAttnFunction.apply(
        value.contiguous(), value_spatial_shapes.contiguous(),
        value_level_start_index.contiguous(), sampling_locations.contiguous(),
        attention_weights.contiguous(), im2col_step)
