"""Video consistency VC_k, streamed (docs/evaluation.md, "mVC8 and mVC16"; exactly as
CFFM's VC_perclip.py).

For a video of N frames (skipped when N <= ``skip_max_frames``, 16 for both k = 8 and k = 16), the
windows start at i = 0 .. N-k-1 (so the last frame is in no window) and cover frames i .. i+k-1.
G is the set of pixels whose ground truth is equal in all k frames of the window, P the same for
the prediction; the window scores |G & P| / |G|, and is left out when |G| = 0. Void pixels are not
excluded: with the shifted ground truth raw 0 and 255 are both 255 and count as equal; with the raw
ground truth they differ. mVC_k is the mean over all windows of all videos (long videos weigh more).

Frames may arrive in any order. Each window is scored as soon as its frames are there, and a frame
is dropped once no unscored window needs it, so with frames arriving roughly in order only about
max(k) frames per video are held.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ['VideoConsistency']


class _VideoState:
    """The buffered frames of one video and the first window not scored yet."""

    def __init__(self) -> None:
        self.frames: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        self.next_window = 0
        self.received = 0


class VideoConsistency:
    """Streaming accumulator of VC_k window scores for several k.

    Args:
        ks: the window lengths (each >= 2), e.g. (8, 16).
        skip_max_frames: videos with at most this many frames are skipped for every k.
    """

    def __init__(self, ks: Sequence[int] = (8, 16), skip_max_frames: int = 16) -> None:
        ks = tuple(ks)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in ks):
            raise ValueError(f'VC window lengths must be integers >= 2, got {ks!r}')
        self.ks = tuple(sorted(set(ks)))
        self.skip_max_frames = skip_max_frames
        self.score_sum = {k: 0.0 for k in self.ks}
        self.window_count = {k: 0 for k in self.ks}
        self._videos: Dict[str, _VideoState] = {}

    def add(self, video: str, index: int, num_frames: int, gt: np.ndarray,
            pred: np.ndarray) -> None:
        """Add frame ``index`` (0-based, of ``num_frames``) of ``video``: its ground truth (the
        variant VC is defined on) and its predicted labels. Each frame must be added once."""
        if num_frames <= self.skip_max_frames:
            return
        state = self._videos.setdefault(video, _VideoState())
        state.received += 1
        if index < num_frames - 1:  # the last frame is in no window
            state.frames[index] = (gt, pred)
        self._score_ready_windows(state, num_frames)
        if state.received == num_frames:
            del self._videos[video]

    def _score_ready_windows(self, state: _VideoState, num_frames: int) -> None:
        while True:
            start = state.next_window
            ks = [k for k in self.ks if start < num_frames - k]
            if not ks:
                return
            span = range(start, start + ks[-1])
            if any(i not in state.frames for i in span):
                return
            self._score_window([state.frames[i] for i in span], ks)
            del state.frames[start]
            state.next_window += 1

    def _score_window(self, frames: List[Tuple[np.ndarray, np.ndarray]], ks: List[int]) -> None:
        gt0, pred0 = frames[0]
        gt_same = np.ones(gt0.shape, dtype=bool)
        pred_same = np.ones(pred0.shape, dtype=bool)
        for length in range(2, ks[-1] + 1):
            gt, pred = frames[length - 1]
            gt_same &= gt == gt0
            pred_same &= pred == pred0
            if length in ks:
                stable = int(gt_same.sum())
                if stable:
                    self.score_sum[length] += int((gt_same & pred_same).sum()) / stable
                    self.window_count[length] += 1

    def pending_videos(self) -> List[str]:
        """Videos of which some but not all frames were added."""
        return sorted(self._videos)

    def statistics(self) -> np.ndarray:
        """(sum of window scores, number of scored windows) per k, flat, float64: the numbers that
        are summed across processes."""
        return np.array([v for k in self.ks for v in (self.score_sum[k], self.window_count[k])],
                        dtype=np.float64)

    def mean_from_statistics(self, stats: np.ndarray) -> Dict[str, float]:
        """``{'mVC8': ..., 'mVC16': ...}`` from (possibly summed) :meth:`statistics`."""
        out = {}
        for i, k in enumerate(self.ks):
            total, count = stats[2 * i], stats[2 * i + 1]
            out[f'mVC{k}'] = float(total / count) if count > 0 else float('nan')
        return out
