"""tools/confusion_matrix.py plots the confusion matrix the evaluator saves in --out JSON."""
import json
import os
import runpy

import numpy as np
import pytest
from PIL import Image

from mmseg.utils.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    return runpy.run_path(os.path.join(ROOT, 'tools', 'confusion_matrix.py'))['main']


def test_plot_from_results_json(tmp_path, capsys):
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(dict(confusion_matrix=[[50, 5, 0], [10, 30, 2], [0, 0, 0]],
                                    classes=['background', 'ball', 'box'], mIoU=0.5)))
    assert main()([str(path), '--out', str(tmp_path / 'cm.png')]) == 0
    printed = capsys.readouterr().out
    assert 'ball' in printed and 'background' in printed and '23.8' in printed  # 10 / 42 of ball
    image = Image.open(tmp_path / 'cm.png')
    assert image.width > 150 and image.height > 150
    assert main()([str(path)]) == 0
    assert (tmp_path / 'results_confusion.png').is_file()
    many = tmp_path / 'many.json'
    matrix = np.diag(np.arange(1, 51)).tolist()
    many.write_text(json.dumps(dict(confusion_matrix=matrix, classes=[f'c{i}' for i in range(50)])))
    assert main()([str(many), '--max-classes', '10', '--out', str(tmp_path / 'm.png')]) == 0
    assert '10 of 50 classes' in capsys.readouterr().out


def test_results_without_a_matrix_are_refused(tmp_path):
    path = tmp_path / 'r.json'
    path.write_text(json.dumps(dict(mVC8=0.5)))
    with pytest.raises(UsageError, match='--eval mIoU'):
        main()([str(path)])
    with pytest.raises(FileNotFoundError):
        main()([str(tmp_path / 'missing.json')])
