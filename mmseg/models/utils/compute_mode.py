"""One switch between the fast computational path and the original's (the reference).

Fast mode (default): fused attention kernels (``F.scaled_dot_product_attention``, also inside
``nn.MultiheadAttention`` via ``need_weights=False``), the compiled deformable-attention kernel
when built, and, at test time, the decoders compute only what inference needs (the intermediate
predictions are used only for their attention masks, which are computed from mask features
resized to the attention size - equal up to float rounding, since resizing is linear).
Reference mode computes everything as the original code did (explicit softmax attention, the
PyTorch deformable-attention reference, full-resolution intermediate predictions); it exists to
measure the speed-up and to check numerics.

Switch with ``reference_mode()`` (a context manager), ``set_fast_mode(False)`` or the
environment variable ``THEMASK_MODE=reference``.
"""
import contextlib
import os
from typing import Iterator

_FAST = os.environ.get('THEMASK_MODE', 'fast').lower() != 'reference'


def fast_mode() -> bool:
    """True unless the reference computational path was selected."""
    return _FAST


def set_fast_mode(enabled: bool) -> None:
    """Select the fast (True) or the reference (False) computational path everywhere."""
    global _FAST
    _FAST = bool(enabled)


@contextlib.contextmanager
def reference_mode() -> Iterator[None]:
    """Run the enclosed code on the original's computational path."""
    previous = _FAST
    set_fast_mode(False)
    try:
        yield
    finally:
        set_fast_mode(previous)
