"""tools/analyze_logs.py on a JSON log in the format the runner writes."""
import importlib.util
import json
import os

import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location('analyze_logs',
                                              os.path.join(ROOT, 'tools', 'analyze_logs.py'))
analyze_logs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(analyze_logs)


@pytest.fixture
def log_file(tmp_path):
    lines = [{'env_info': 'x', 'config': 'y', 'seed': 0}]
    for it in (50, 100, 150):
        lines.append({'mode': 'train', 'iter': it, 'lr': 1e-4, 'time': 0.5 + it / 1000,
                      'data_time': 0.01, 'memory': 100, 'decode.loss_ce': 2.0 - it / 100,
                      'loss': 3.0 - it / 100})
    lines.append({'mode': 'val', 'iter': 100, 'mIoU': 0.3})
    path = tmp_path / '20240101_000000.log.json'
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    return str(path)


def test_plot_curve_writes_one_panel_per_key(log_file, tmp_path, capsys):
    out = str(tmp_path / 'curves.png')
    analyze_logs.main(['plot_curve', log_file, log_file, '--keys', 'loss', 'decode.loss_ce', 'mIoU',
                       '--legend', 'run1', 'run2', '--width', '640', '--height', '240', '--out',
                       out])
    assert Image.open(out).size == (640, 720)
    with pytest.raises(ValueError, match="--keys mVC8: no log has this key. Keys found: .*mIoU"):
        analyze_logs.main(['plot_curve', log_file, '--keys', 'mVC8', '--out', out])


def test_cal_train_time_skips_the_start_up_interval(log_file, capsys):
    analyze_logs.main(['cal_train_time', log_file])
    text = capsys.readouterr().out
    assert 'average iter time: 0.6250 s/iter' in text  # (0.6 + 0.65) / 2
    assert 'slowest interval: up to iter 150, 0.6500 s/iter' in text
