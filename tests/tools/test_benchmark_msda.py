"""tools/benchmark_msda.py on CPU at a tiny size: the implementations it times or skips, and the
ratios between them."""
import json

import pytest

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import available_backends
from tests.tool_runs import run_tool


def test_benchmark_msda_skips_triton_on_cpu_and_relates_speeds_to_the_kernel(tmp_path, capsys):
    if not available_backends()['cpu']:
        pytest.skip('the CPU kernel is not built')
    out = tmp_path / 'msda.json'
    code, printed, _ = run_tool('benchmark_msda', [
        '--devices', 'cpu', '--sizes', '64x96', '--batch', '1', '--impls', 'reference', 'kernel',
        'triton', '--iters', '1', '--warmup', '0', '--out', str(out)], capsys)
    assert code == 0
    assert 'skipping cpu/triton: the Triton kernels run on CUDA tensors' in printed
    data = json.loads(out.read_text())
    assert data['skipped'] == {'cpu/triton': 'the Triton kernels run on CUDA tensors '
                                             '(CPU: interpreter only)'}
    rows = {row['impl']: row for row in data['results']}
    assert set(rows) == {'reference', 'kernel'}
    # levels of the stride 32, 16 and 8 maps of 64x96, one query per value token
    assert rows['kernel']['levels'] == [[2, 3], [4, 6], [8, 12]]
    assert rows['kernel']['num_queries'] == 6 + 24 + 96
    for mode in ('fwd', 'fwd_bwd'):
        kernel_ms, reference_ms = rows['kernel'][f'{mode}_ms'], rows['reference'][f'{mode}_ms']
        assert rows['reference'][f'{mode}_speed_vs_kernel'] == pytest.approx(kernel_ms
                                                                            / reference_ms)
        assert rows['kernel'][f'{mode}_speedup_vs_reference'] == pytest.approx(reference_ms
                                                                              / kernel_ms)
    assert 'f+b vs kernel' in printed
