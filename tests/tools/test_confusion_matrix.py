"""The evaluator saves the confusion matrix; tools/confusion_matrix.py plots it from --out JSON."""
import json
import os
import runpy

import numpy as np
import pytest
from PIL import Image

from mmseg.core.evaluation import VideoSegEvaluator
from mmseg.utils.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    return runpy.run_path(os.path.join(ROOT, 'tools', 'confusion_matrix.py'))['main']


def test_evaluator_results_hold_the_confusion_matrix():
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], np.uint8)
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 1]], np.int64)
    evaluator = VideoSegEvaluator(class_names=['a', 'b', 'c'], video_frames={'v': ['f']},
                                  load_gt=lambda video, frame, shape: gt, metrics=['mIoU'])
    evaluator.process(pred, dict(video='v', frame='f'))
    results = evaluator.evaluate()
    assert results['confusion_matrix'] == [[1, 1, 0], [0, 3, 0], [1, 0, 1]]  # rows: ground truth
    json.dumps(results)
    only_vc = VideoSegEvaluator(class_names=['a', 'b', 'c'], video_frames={'v': ['f']},
                                load_gt=lambda video, frame, shape: gt, metrics=['mVC'])
    only_vc.process(pred, dict(video='v', frame='f'))
    assert 'confusion_matrix' not in only_vc.evaluate()


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
