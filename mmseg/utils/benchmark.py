"""Timing and peak-memory helpers shared by the benchmark tools (``tools/benchmark*.py``).

CPU peak memory is the process's peak resident set size above the level before the call: the
peak is reset through ``/proc/self/clear_refs`` and glibc's mmap threshold is fixed at 128 KiB so
that freed tensors go back to the OS. CUDA peak memory is ``torch.cuda.max_memory_allocated``.
"""
import ctypes
import re
import statistics
import time
from typing import Callable, Optional

import torch

from .table import text_table  # noqa: F401 (the tools import it from here)

__all__ = ['synchronize', 'enable_cpu_peak_memory', 'peak_memory_mib', 'median_ms', 'text_table',
           'count_gflops']


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def _resident_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'{field}:\s+(\d+)', f.read()).group(1))


def _reset_peak_rss() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def enable_cpu_peak_memory() -> bool:
    """Prepare CPU peak-memory measurement; False where the platform does not allow it."""
    try:
        fixed = ctypes.CDLL(None).mallopt(-3, 128 * 1024) == 1  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False
    return fixed and _reset_peak_rss()


def peak_memory_mib(run: Callable[[], object], device: str, cpu_measurable: bool) -> Optional[float]:
    """Peak memory of one ``run()`` above the level before it, in MiB (None if unmeasurable)."""
    if device == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        synchronize(device)
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    if not cpu_measurable or not _reset_peak_rss():
        return None
    before = _resident_kib('VmRSS')
    run()
    return (_resident_kib('VmHWM') - before) / 1024


def median_ms(run: Callable[[], object], device: str, iters: int, warmup: int) -> float:
    """Median wall time of ``iters`` calls of ``run()`` after ``warmup`` untimed calls, in ms."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(iters):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def count_gflops(model: torch.nn.Module, img: torch.Tensor, meta: dict) -> float:
    """GFLOPs of one ``model.simple_test(img, meta)`` (eval mode, no grad): matrix products,
    convolutions and attention as torch's FlopCounterMode counts them (the deformable-attention
    sampling is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.simple_test(img, meta)
    return counter.get_total_flops() / 1e9
