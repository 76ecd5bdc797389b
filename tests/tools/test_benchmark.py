"""tools/benchmark.py end to end on the synthetic b0 config: every mode, the JSON keys users
read."""
import json
import os
import runpy

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def test_benchmark_writes_every_mode_with_the_documented_keys(tmp_path, capsys):
    main = runpy.run_path(os.path.join(ROOT, 'tools', 'benchmark.py'))['main']
    out = tmp_path / 'b.json'
    threads = torch.get_num_threads()
    try:
        main([CONFIG, '--size', '32x32', '--iters', '1', '--warmup', '0', '--threads', '1',
              '--train', '--with-cp', '--bf16', '--compare-reference', '--out', str(out)])
    finally:
        torch.set_num_threads(threads)
    data = json.loads(out.read_text())
    env, results = data['environment'], data['results']
    assert list(results) == ['fast', 'reference', 'with_cp', 'bf16']
    for mode in ('fast', 'reference'):
        row = results[mode]
        assert row['infer_ms'] > 0 and row['train_ms'] > 0
        # the split is measured inside the step, so its parts cannot exceed the step
        parts = [row[k] for k in ('forward_ms', 'criterion_ms', 'backward_ms', 'optimizer_ms')]
        assert all(p > 0 for p in parts) and sum(parts) <= row['train_ms'] * 1.01
    assert results['with_cp']['infer_ms'] is None and results['with_cp']['train_ms'] > 0
    assert results['bf16']['infer_ms'] > 0 and 'train_ms' not in results['bf16']
    # peak memory is measured (Linux) in a phase of its own, before the timings
    assert results['fast']['infer_peak_mib'] >= 0 and results['with_cp']['train_peak_mib'] >= 0
    # the same weights in every mode: fast and reference give the same labels
    assert env['labels_equal_fraction'] == 1.0
    assert env['msda_backend'] in ('cpu', 'reference')
    assert env['infer_speedup_vs_reference'] > 0 and env['train_speedup_vs_reference'] > 0
    assert 0 <= env['bf16_labels_equal_fraction'] <= 1
    printed = capsys.readouterr().out
    assert '| mode ' in printed and 'fast vs reference: inference x' in printed


@pytest.mark.slow  # exports the model to ONNX (a minute or two)
def test_benchmark_times_onnxruntime_against_fast_eager(tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    main = runpy.run_path(os.path.join(ROOT, 'tools', 'benchmark.py'))['main']
    out = tmp_path / 'b.json'
    threads = torch.get_num_threads()
    try:
        # a shallow b0 (1 encoder layer, 1 decoder layer): the same operators, a shorter export
        # (~90 instead of ~140 s); the full model's export is tested in tests/tools/test_deploy.py
        main([CONFIG, '--size', '64x64', '--iters', '1', '--warmup', '0', '--threads', '1',
              '--backend', 'onnxruntime', '--out', str(out), '--options',
              'model.decode_head.transformer_decoder_cfg.dec_layers=1',
              'model.decode_head.loss_cfg.dec_layers=2',
              'model.decode_head.pixel_decoder_cfg.transformer_enc_layers=1'])
    finally:
        torch.set_num_threads(threads)
    data = json.loads(out.read_text())
    env, results = data['environment'], data['results']
    assert list(results) == ['fast', 'onnxruntime']
    assert results['onnxruntime']['infer_ms'] > 0 and 'train_ms' not in results['onnxruntime']
    assert env['onnxruntime_speedup_vs_fast'] == pytest.approx(
        results['fast']['infer_ms'] / results['onnxruntime']['infer_ms'])
    assert env['onnxruntime_labels_equal_fraction'] >= 0.999
    assert 0 < len(env['onnxruntime_op_ms']) <= 8
    assert all(ms >= 0 for ms in env['onnxruntime_op_ms'].values())
    assert 'onnxruntime vs fast: inference x' in capsys.readouterr().out
