"""The benchmark helpers: call counts and medians, tables."""
import pytest

from mmseg.utils.table import text_table
from toolkit import benchmark


def test_median_ms_runs_warmup_then_iters_and_returns_the_median(monkeypatch):
    calls = []
    clock = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020])  # three timed calls: 10, 30 and 20 ms
    monkeypatch.setattr(benchmark.time, 'perf_counter', lambda: next(clock))
    result = benchmark.median_ms(lambda: calls.append(1), 'cpu', iters=3, warmup=2)
    assert len(calls) == 5
    assert result == pytest.approx(20.0)


def test_text_table_pads_columns_under_a_header_rule():
    assert text_table(['mode', 'ms'], [['fast', 12], ['reference', 3]]).splitlines() == [
        '| mode      | ms |',
        '|-----------|----|',
        '| fast      | 12 |',
        '| reference | 3  |']
