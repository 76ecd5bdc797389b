"""The evaluator of sparsely labelled clips: reference frames dropped, mVC n/a with the reason."""
import numpy as np
import pytest

from mmseg.core.evaluation import SPARSE_VC_NOTE, SparseLabelEvaluator, format_results_table

GT = {'s1': np.array([[0, 1], [1, 255]], np.uint8), 's2': np.array([[2, 2], [0, 0]], np.uint8)}


def make(metrics=('mIoU', 'mVC')):
    return SparseLabelEvaluator(class_names=['a', 'b', 'c'],
                                video_frames={'s1': ['f19'], 's2': ['g19']},
                                load_gt=lambda video, frame, shape: GT[video], metrics=metrics)


def meta(video, frame):
    return dict(video=video, frame=frame)


def test_reference_frames_are_dropped_and_labelled_ones_scored():
    ev = make()
    ev.process(np.zeros((2, 2), np.int64), meta('s1', 'f16'))  # a reference frame: not scored
    ev.process(np.array([[0, 1], [0, 2]]), meta('s1', 'f19'))
    ev.process(np.full((2, 2), 2), meta('s2', 'g22'))
    ev.process(np.array([[2, 2], [0, 1]]), meta('s2', 'g19'))
    results = ev.evaluate()
    # scored (gt, pred): s1 (0,0) (1,1) (1,0); s2 (2,2) (2,2) (0,0) (0,1)
    # class a: TP 2, row 3, col 3 -> 2/4; b: TP 1, row 2, col 2 -> 1/3; c: TP 2, row 2, col 2 -> 1
    assert results['num_frames'] == 2
    assert results['IoU'] == pytest.approx([2 / 4, 1 / 3, 1.0])
    assert results['mVC8'] is None and results['mVC16'] is None
    assert results['notes'] == {'mVC8': SPARSE_VC_NOTE, 'mVC16': SPARSE_VC_NOTE}
    table = format_results_table(results)
    assert f'mVC8 n/a: {SPARSE_VC_NOTE}' in table and 'one labelled frame per snippet' in table


def test_labelled_frames_are_still_checked():
    ev = make(['mIoU'])
    with pytest.raises(ValueError, match="video 'other', which is not in the evaluated split"):
        ev.process(np.zeros((2, 2), np.int64), meta('other', 'f19'))
    ev.process(np.zeros((2, 2), np.int64), meta('s1', 'f19'))
    with pytest.raises(ValueError, match='predicted twice'):
        ev.process(np.zeros((2, 2), np.int64), meta('s1', 'f19'))
    with pytest.raises(ValueError, match='1 frames were predicted, but the split has 2'):
        ev.evaluate()
