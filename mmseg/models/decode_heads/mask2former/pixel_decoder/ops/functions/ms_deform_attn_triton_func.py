"""The Triton path of multi-scale deformable attention, for GPUs without a CUDA toolchain.

``ms_deform_attn_triton`` (the entry point for tests and benchmarks, differentiable) and
``triton_forward``/``triton_backward`` (the CUDA kernels of the operator
``themask::ms_deform_attn_forward``/``_backward`` where the extension has none, registered by
``ms_deform_attn_func``) run the kernels of ``ms_deform_attn_triton_kernels``. That module, and
with it ``triton``, is imported when the Triton path is first needed, never when this package is
imported; a missing or broken ``triton`` makes ``triton_usable()`` False (the dispatcher then
runs the reference) and direct calls raise a one-line error.
"""
import importlib
import importlib.util
import warnings
from types import ModuleType
from typing import Optional, Tuple

import torch

KERNELS_MODULE = __name__.rsplit('.', 1)[0] + '.ms_deform_attn_triton_kernels'


def _installed() -> bool:
    try:
        return importlib.util.find_spec('triton') is not None
    except (ImportError, ValueError):  # a parent or a sys.modules entry that is not a package
        return False


TRITON_INSTALLED = _installed()
# (kernels module or None, one-line status) once the first load was tried
_loaded: Optional[Tuple[Optional[ModuleType], str]] = None


def load_triton_kernels() -> Tuple[Optional[ModuleType], str]:
    """Import the Triton kernels once; (module or None, a one-line status for logs)."""
    global _loaded
    if _loaded is None:
        if not TRITON_INSTALLED:
            _loaded = None, ("not installed (it comes with PyTorch's CUDA wheels; "
                             'pip install triton)')
        else:
            try:
                module = importlib.import_module(KERNELS_MODULE)
            except Exception as err:  # a broken install can fail in any way on import
                status = f'triton is installed but cannot be imported ({type(err).__name__}: {err})'
                warnings.warn(f'{status}. The Triton path of the deformable attention is '
                              'unavailable.', stacklevel=2)
                _loaded = None, status
            else:
                mode = ', interpreter' if module.INTERPRETED else ''
                _loaded = module, f'triton {module.triton.__version__}{mode}'
    return _loaded


def triton_usable() -> bool:
    """Whether the Triton path can run: triton is installed and imports. The first call imports
    it, except while torch.compile traces (which then sees only whether it is installed)."""
    if _loaded is None and TRITON_INSTALLED and not torch.compiler.is_compiling():
        load_triton_kernels()
    return TRITON_INSTALLED and (_loaded is None or _loaded[0] is not None)


def _kernels() -> ModuleType:
    module, status = load_triton_kernels()
    if module is None:
        raise RuntimeError(f'ms_deform_attn: the Triton kernels are unavailable: {status}; set '
                           'THEMASK_MSDA_BACKEND=reference to run the PyTorch reference')
    return module


def triton_forward(value: torch.Tensor, spatial_shapes: torch.Tensor,
                   level_start_index: torch.Tensor, sampling_loc: torch.Tensor,
                   attn_weight: torch.Tensor, im2col_step: int) -> torch.Tensor:
    """The forward operator's Triton kernel (its arguments and result)."""
    return _kernels().forward(value, spatial_shapes, level_start_index, sampling_loc, attn_weight,
                              im2col_step)


def triton_backward(value: torch.Tensor, spatial_shapes: torch.Tensor,
                    level_start_index: torch.Tensor, sampling_loc: torch.Tensor,
                    attn_weight: torch.Tensor, grad_output: torch.Tensor,
                    im2col_step: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The backward operator's Triton kernel: (grad_value, grad_sampling_loc, grad_attn_weight)."""
    return _kernels().backward(value, spatial_shapes, level_start_index, sampling_loc,
                               attn_weight, grad_output, im2col_step)


class _TritonFunction(torch.autograd.Function):
    """The Triton kernels with their backward, outside the operator (on CPU tensors too, which
    the interpreter runs)."""

    @staticmethod
    def forward(ctx, value, spatial_shapes, level_start_index, sampling_loc, attn_weight,
                im2col_step):
        ctx.save_for_backward(value, spatial_shapes, level_start_index, sampling_loc, attn_weight)
        ctx.im2col_step = im2col_step
        return triton_forward(value, spatial_shapes, level_start_index, sampling_loc, attn_weight,
                              im2col_step)

    @staticmethod
    def backward(ctx, grad_output):
        grad_value, grad_loc, grad_weight = triton_backward(*ctx.saved_tensors, grad_output,
                                                            ctx.im2col_step)
        return grad_value, None, None, grad_loc, grad_weight, None


def ms_deform_attn_triton(value: torch.Tensor, value_spatial_shapes: torch.Tensor,
                          sampling_locations: torch.Tensor, attention_weights: torch.Tensor, *,
                          value_level_start_index: Optional[torch.Tensor] = None,
                          im2col_step: int = 128) -> torch.Tensor:
    """Multi-scale deformable attention on the Triton kernels, differentiable; the arguments of
    ``ms_deform_attn_core_pytorch`` (value, locations and weights of one dtype), plus the level
    start index (computed from the shapes when omitted) and ``im2col_step`` (min(N, im2col_step)
    must divide N, as for the compiled kernels).

    CUDA tensors run compiled Triton kernels; CPU tensors run only under Triton's interpreter
    (``TRITON_INTERPRET=1`` set before ``triton`` is first imported), which is slow and meant
    for tests."""
    kernels = _kernels()
    if value.device.type == 'cpu' and not kernels.INTERPRETED:
        raise RuntimeError('ms_deform_attn_triton: CPU tensors run only under Triton\'s '
                           'interpreter (TRITON_INTERPRET=1 set before triton is imported); got '
                           'CPU tensors without it')
    if value_level_start_index is None:
        sizes = value_spatial_shapes[:, 0] * value_spatial_shapes[:, 1]
        value_level_start_index = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    return _TritonFunction.apply(value.contiguous(), value_spatial_shapes.contiguous(),
                                 value_level_start_index.contiguous(),
                                 sampling_locations.contiguous(), attention_weights.contiguous(),
                                 im2col_step)
