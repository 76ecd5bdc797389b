"""One switch between fused attention kernels and the original's explicit computation.

Fast mode (default) uses ``F.scaled_dot_product_attention`` (also inside ``nn.MultiheadAttention``
via ``need_weights=False``). Reference mode computes softmax(q k^T / sqrt(d)) v step by step, as
the original code did; it exists to measure the speed-up and to check numerics. Switch with
``reference_attention()`` (a context manager), ``set_fused_attention(False)`` or the environment
variable ``THEMASK_ATTENTION=reference``.
"""
import contextlib
import os
from typing import Iterator

_FUSED = os.environ.get('THEMASK_ATTENTION', 'fused').lower() != 'reference'


def use_fused_attention() -> bool:
    """True when attention layers should call the fused kernel."""
    return _FUSED


def set_fused_attention(enabled: bool) -> None:
    """Select fused (True) or reference (False) attention for every layer."""
    global _FUSED
    _FUSED = bool(enabled)


@contextlib.contextmanager
def reference_attention() -> Iterator[None]:
    """Run the enclosed code with the explicit (unfused) attention path."""
    previous = _FUSED
    set_fused_attention(False)
    try:
        yield
    finally:
        set_fused_attention(previous)
