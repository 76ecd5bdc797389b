"""The evaluator of datasets that label one frame per clip (Cityscapes: the 20th frame of each
30-frame snippet).

Each test clip holds its labelled frame and unlabelled reference frames. The test loop feeds every
predicted frame; this evaluator scores the labelled ones (``video_frames``) and drops the others.
mVC8/mVC16 need the ground truth of consecutive frames, so they are ``n/a`` with the reason.
"""
import sys
from typing import Any, Dict, Mapping

import numpy as np

from .evaluator import VideoSegEvaluator

__all__ = ['SparseLabelEvaluator', 'SPARSE_VC_NOTE']

SPARSE_VC_NOTE = ('the labels are sparse (one labelled frame per snippet), so video consistency '
                  'cannot be measured')


class SparseLabelEvaluator(VideoSegEvaluator):
    """:class:`VideoSegEvaluator` over the labelled frames only.

    Args:
        video_frames: video (a snippet) -> its labelled frames; each is predicted exactly once.
        kwargs: see :class:`VideoSegEvaluator`.
    """

    def __init__(self, **kwargs: Any) -> None:
        # no VC window is ever formed: a labelled frame's neighbours have no ground truth
        super().__init__(**kwargs, vc_skip_max_frames=sys.maxsize)

    def process(self, pred_labels: np.ndarray, frame_meta: Mapping[str, Any]) -> None:
        """Score the frame if it is labelled; drop a reference frame of a known video."""
        labelled = self._frame_index.get(frame_meta['video'])
        if labelled is not None and frame_meta['frame'] not in labelled:
            return
        super().process(pred_labels, frame_meta)

    def _notes(self, results: Mapping[str, Any]) -> Dict[str, str]:
        notes = super()._notes(results)
        notes.update({key: SPARSE_VC_NOTE for key in notes if key.startswith('mVC')})
        return notes
