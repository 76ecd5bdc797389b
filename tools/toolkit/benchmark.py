"""Timing and peak-memory helpers shared by the benchmark tools (``tools/benchmark*.py``).

CPU peak memory is the process's peak resident set size above the level before the call: the
peak is reset through ``/proc/self/clear_refs`` and glibc's mmap threshold is fixed at 128 KiB so
that freed tensors go back to the OS. CUDA peak memory is ``torch.cuda.max_memory_allocated``.

A benchmark measures memory first and time after: a 128 KiB threshold turns every large temporary
into an mmap/munmap pair with fresh page faults, which slows the PyTorch reference paths more than
the fused ones and so inflates speed-ups (x1.96 instead of x1.39 for b1 at 480x480). Timed calls
run after :func:`settle_allocator`, with the allocator as users have it.
"""
import ctypes
import re
import statistics
import time
from typing import Callable, Optional

import torch

__all__ = ['synchronize', 'enable_cpu_peak_memory', 'settle_allocator', 'peak_memory_mib',
           'median_ms', 'count_gflops']


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


def _set_mmap_threshold(size: int) -> bool:
    """glibc: allocations of ``size`` bytes or more are mmapped, and unmapped when freed."""
    try:
        libc = ctypes.CDLL(None)
        # M_MMAP_/M_TRIM_THRESHOLD
        return libc.mallopt(-3, size) == 1 and libc.mallopt(-1, 2 * size) == 1
    except (OSError, AttributeError):
        return False


def enable_cpu_peak_memory() -> bool:
    """Prepare CPU peak-memory measurement; False where the platform does not allow it."""
    return _set_mmap_threshold(128 * 1024) and _reset_peak_rss()


def settle_allocator() -> None:
    """End the memory phase: glibc's thresholds as they settle in a long-running process (its
    dynamic mmap threshold rises to 32 MiB as large blocks are freed), for the timed calls."""
    _set_mmap_threshold(32 * 1024 * 1024)


def peak_memory_mib(run: Callable[[], object], device: str,
                    cpu_measurable: bool) -> Optional[float]:
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
