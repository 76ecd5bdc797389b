"""tools/benchmark_online.py runs end to end on a tiny model and writes its JSON."""
import importlib.util
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def test_benchmark_online_writes_every_mode(tmp_path):
    spec = importlib.util.spec_from_file_location(
        'benchmark_online', os.path.join(ROOT, 'tools', 'benchmark_online.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / 'b.json'
    threads = torch.get_num_threads()
    try:
        assert module.main([CONFIG, '--size', '48x64', '--frames', '1', '--warmup', '1',
                            '--dilations=-3', '--threads', '1', '--out', str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())['results']
    assert [r['dilation'] for r in result] == [[-3]] and result[0]['clip_len'] == 2
    assert set(result[0]['modes']) == {'online', 'recompute', 'clips'}
    assert all(m['fps'] > 0 for m in result[0]['modes'].values())
