"""Metrics that cannot be computed: n/a with the reason in the table, JSON null plus a note."""
import json

import numpy as np

from mmseg.core.evaluation import VideoSegEvaluator
from mmseg.datasets.file_io import reduce_zero_label_table


def short_videos(lengths=(5, 16), size=(4, 5)):
    rng = np.random.default_rng(0)
    return {f'v{i}': [rng.integers(0, 4, size).astype(np.uint8)] * n for i, n in enumerate(lengths)}


def evaluate(videos, mmseg_caplog=None):
    ev = VideoSegEvaluator(class_names=['a', 'b', 'c'],
                           video_frames={v: [str(t) for t in range(len(g))]
                                         for v, g in videos.items()},
                           load_gt=lambda v, f, shape: videos[v][int(f)],
                           gt_label_map=reduce_zero_label_table(), metrics=['mIoU', 'mVC'])
    for video, gts in videos.items():
        for t, gt in enumerate(gts):
            ev.process(np.clip(gt.astype(np.int64) - 1, 0, 2), dict(video=video, frame=str(t)))
    return ev.evaluate()


def test_vc_of_short_videos_is_null_with_a_note(mmseg_caplog):
    results = evaluate(short_videos())
    assert results['mVC8'] is None and results['mVC16'] is None
    assert 'longest video here has 16' in results['notes']['mVC8']
    assert 'nan' not in json.dumps(results).lower()
    table = mmseg_caplog.text
    assert 'n/a' in table and 'mVC16 n/a: no window to score' in table
    assert results['mIoU'] is not None and 'mIoU' not in results['notes']


def test_no_notes_when_everything_is_computed():
    results = evaluate(short_videos(lengths=(17, 20)))
    assert results['mVC8'] is not None and 'notes' not in results
