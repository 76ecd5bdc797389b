"""tools/get_flops.py reports parameters and GFLOPs per clip, as benchmark.py counts them."""
import json
import os
import runpy

import pytest

from mmseg.utils.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = 'local_configs/themask/video_themask_mit_b0_synthetic.py'


def main():
    return runpy.run_path(os.path.join(ROOT, 'tools', 'get_flops.py'))['main']


def test_params_and_gflops_grow_with_the_clip(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    numbers = {}
    for clip_len in (1, 2):
        out = tmp_path / f'flops_{clip_len}.json'
        assert main()([CONFIG, '--clip-len', str(clip_len), '--size', '64x64', '--out',
                       str(out)]) == 0
        numbers[clip_len] = json.load(open(out))
    printed = capsys.readouterr().out
    assert 'GFLOPs/clip' in printed and 'params (M)' in printed
    one, two = numbers[1], numbers[2]
    # MiT-b0 and the narrow head
    assert one['params'] == two['params'] and 3e6 < one['params'] < 5e6
    assert 0 < one['gflops_per_clip'] < two['gflops_per_clip'] < 3 * one['gflops_per_clip']
    assert two['size'] == '64x64' and two['clip_len'] == 2


def test_bad_size_is_refused():
    with pytest.raises(UsageError, match='--size'):
        main()([CONFIG, '--size', '64'])
