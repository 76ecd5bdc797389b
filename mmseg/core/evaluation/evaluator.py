"""The streaming evaluator the test loop feeds, one predicted frame at a time.

Usage (the dataset wires the ground truth in)::

    evaluator = dataset.build_evaluator(metrics=['mIoU', 'mVC'], **eval_options)
    for batch in loader:                        # any clip order, any process
        for labels, metas in zip(model(batch), batch_metas):    # labels: (T, H, W) per clip
            for pred, meta in zip(labels, metas):
                evaluator.process(pred, meta)  # pred: (H, W) ints in 0..K-1, meta: the frame's dict
    results = evaluator.evaluate()  # one all_reduce when torch.distributed is initialised

Each process holds a confusion matrix and VC window statistics; ``evaluate`` sums them across
processes in a single ``all_reduce`` and every process returns the same results. A video's frames
must all go to the same process (``DistributedVideoSampler`` does that) for its VC windows.
"""
import logging
import math
import os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
import torch
import torch.distributed as dist

from ...utils.logger import print_log
from ...utils.table import text_table
from .metrics import confusion_matrix, summarize_confusion
from .result_writers import write_label_png
from .video_consistency import VideoConsistency

__all__ = ['VideoSegEvaluator', 'METRICS', 'format_results_table']

METRICS = ('mIoU', 'mDice', 'mVC', 'mVC8', 'mVC16')
_CONFUSION_METRICS = {'mIoU', 'mDice'}
_VC_METRICS = {'mVC', 'mVC8', 'mVC16'}
_SUMMARY_KEYS = ('aAcc', 'mIoU', 'mIoU_present', 'mAcc', 'mDice', 'mVC8', 'mVC16')


def _sum_across_processes(values: np.ndarray) -> np.ndarray:
    """Sum a float64 vector over all processes with one ``all_reduce`` (no-op when alone)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    device = torch.device('cuda', torch.cuda.current_device()) if dist.get_backend() == 'nccl' \
        else torch.device('cpu')
    tensor = torch.from_numpy(values).to(device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().numpy()


def _plain(value: Any) -> Any:
    """NaN -> None and numpy -> Python, so the results dict can be written as JSON."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class VideoSegEvaluator:
    """Accumulates mIoU-family and VC metrics over predicted frames (see the module docstring).

    Args:
        class_names: the K class names (prediction values 0..K-1).
        video_frames: video -> its frame names in temporal order; every frame must be processed
            exactly once.
        load_gt: ``load_gt(video, frame, shape)`` returns the **raw** label map (uint8 (H, W)) of a
            frame whose prediction has size ``shape``; it may raise when its size differs.
        gt_label_map: a 256-entry table mapping raw to scored labels (VSPW: raw 0 and 255 -> 255,
            raw k -> k-1, see ``mmseg.datasets.file_io.reduce_zero_label_table``); None scores the
            raw labels.
        metrics: any of ``'mIoU'``, ``'mDice'`` (both give aAcc, mIoU, mIoU_present, mAcc, mDice and
            per-class IoU/Acc/Dice) and ``'mVC'`` (mVC8 and mVC16); empty to only write PNGs.
        ignore_index: the void value of the scored ground truth.
        vc_gt: ``'shifted'`` (CFFM-compatible, default) or ``'raw'`` (official VSPW script): the
            ground truth whose stability defines VC's pixel set G.
        vc_ks: VC window lengths.
        vc_skip_max_frames: videos with at most this many frames get no VC windows.
        imgfile_prefix: if set, each processed frame is also written as
            ``imgfile_prefix/<video>/<frame>.png`` (labels 0..K-1, palette attached).
        palette: RGB colour per class, for the PNGs.
        label_offset: added to the labels written to ``imgfile_prefix`` (1: VSPW's raw ids 1..124).
    """

    def __init__(self, *, class_names: Sequence[str], video_frames: Mapping[str, Sequence[str]],
                 load_gt: Callable[[str, str, tuple], np.ndarray],
                 gt_label_map: Optional[np.ndarray] = None,
                 metrics: Union[str, Sequence[str]] = ('mIoU',), ignore_index: int = 255,
                 vc_gt: str = 'shifted', vc_ks: Sequence[int] = (8, 16),
                 vc_skip_max_frames: int = 16, imgfile_prefix: Optional[str] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None, label_offset: int = 0) -> None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f'unknown metrics {unknown}; choose from {list(METRICS)}')
        if vc_gt not in ('shifted', 'raw'):
            raise ValueError(f'vc_gt must be "shifted" or "raw", got {vc_gt!r}')
        if imgfile_prefix is not None and palette is None:
            raise ValueError('imgfile_prefix needs a palette')
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        self.video_frames = {video: list(frames) for video, frames in video_frames.items()}
        self._frame_index = {video: {f: i for i, f in enumerate(frames)}
                             for video, frames in self.video_frames.items()}
        self.load_gt = load_gt
        self.use_confusion = bool(_CONFUSION_METRICS & set(metrics))
        self.use_vc = bool(_VC_METRICS & set(metrics))
        if gt_label_map is not None and np.asarray(gt_label_map).shape != (256,):
            raise ValueError(f'gt_label_map must have 256 entries, got shape '
                             f'{np.shape(gt_label_map)}')
        self.gt_label_map = (None if gt_label_map is None
                             else np.asarray(gt_label_map, dtype=np.uint8))
        self.ignore_index = ignore_index
        self.vc_gt = vc_gt
        self.imgfile_prefix = imgfile_prefix
        if isinstance(label_offset, bool) or not isinstance(label_offset, int) or label_offset < 0:
            raise ValueError(f'label_offset must be an integer >= 0, got {label_offset!r}')
        self.label_offset = label_offset
        self.palette = palette
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.vc = VideoConsistency(ks=vc_ks, skip_max_frames=vc_skip_max_frames)
        self._seen = set()

    def process(self, pred_labels: np.ndarray, frame_meta: Mapping[str, Any]) -> None:
        """Score one predicted frame.

        Args:
            pred_labels: (H, W) integer labels in 0..K-1 (the shifted space), at the frame's
                original size.
            frame_meta: the frame's meta dict; ``video`` and ``frame`` identify it.
        """
        video, frame = frame_meta['video'], frame_meta['frame']
        if video not in self._frame_index:
            raise ValueError(f'prediction for video {video!r}, which is not in the evaluated split')
        index = self._frame_index[video].get(frame)
        if index is None:
            raise ValueError(f'prediction for frame {frame!r}, which video {video!r} does not have')
        if (video, index) in self._seen:
            raise ValueError(f'frame {frame!r} of video {video!r} was predicted twice; every frame '
                             f'must be predicted exactly once')
        pred = np.asarray(pred_labels)
        if pred.ndim != 2 or not np.issubdtype(pred.dtype, np.integer):
            raise ValueError(f'prediction for {video}/{frame} must be an integer (H, W) array, got '
                             f'{pred.dtype} {pred.shape}')
        if pred.size and (pred.min() < 0 or pred.max() >= self.num_classes):
            raise ValueError(f'prediction for {video}/{frame} holds values outside 0..'
                             f'{self.num_classes - 1} (min {pred.min()}, max {pred.max()})')
        gt = raw = None
        if self.use_confusion or self.use_vc:
            raw = self.load_gt(video, frame, pred.shape)
            if raw.shape != pred.shape:
                raise ValueError(f'prediction for {video}/{frame} has size {pred.shape}; expected '
                                 f'the ground-truth size {raw.shape} (predict at the original '
                                 f'frame size)')
            gt = raw if self.gt_label_map is None else cv2.LUT(raw, self.gt_label_map)
        self._seen.add((video, index))
        if self.imgfile_prefix is not None:
            write_label_png(os.path.join(self.imgfile_prefix, video, f'{frame}.png'),
                            pred + self.label_offset,
                            [(0, 0, 0)] * self.label_offset + list(self.palette))
        if self.use_confusion:
            self.confusion += confusion_matrix(gt, pred, self.num_classes, self.ignore_index)
        if self.use_vc:
            self.vc.add(video, index, len(self.video_frames[video]),
                        raw if self.vc_gt == 'raw' else gt,
                        pred.astype(np.min_scalar_type(self.num_classes - 1)))

    def evaluate(self, logger: Optional[logging.Logger] = None) -> Dict[str, Any]:
        """Sum the statistics over processes, check that every frame was predicted once, print the
        tables and return the metrics: fractions in [0, 1], NaN given as None, per-class lists."""
        local = np.concatenate([self.confusion.ravel().astype(np.float64), self.vc.statistics(),
                                [len(self._seen), len(self.vc.pending_videos())]])
        total = _sum_across_processes(local)
        num_frames, num_pending = int(total[-2]), int(total[-1])
        if num_pending:
            raise ValueError(
                f'{num_pending} video(s) got only part of their frames in one process (here: '
                f'{self.vc.pending_videos()[:5]}); VC needs all frames of a video in the same '
                f'process: use DistributedVideoSampler for distributed testing')
        expected = sum(len(frames) for frames in self.video_frames.values())
        if num_frames != expected:
            raise ValueError(f'{num_frames} frames were predicted, but the split has {expected}: '
                             f'every frame must be predicted exactly once')
        k2 = self.num_classes * self.num_classes
        results: Dict[str, Any] = dict(num_frames=num_frames)
        if self.use_confusion:
            confusion = total[:k2].reshape(self.num_classes, self.num_classes)
            results.update(summarize_confusion(confusion))
            results['classes'] = self.class_names
            results['confusion_matrix'] = confusion.astype(np.int64)  # rows: ground truth
        if self.use_vc:
            results.update(self.vc.mean_from_statistics(total[k2:-2]))
        notes = self._notes(results)
        if notes:
            results['notes'] = notes
        if self.use_confusion or self.use_vc:
            print_log('\n' + format_results_table(results), logger)
        return {key: _plain(value) for key, value in results.items()}

    def _notes(self, results: Mapping[str, Any]) -> Dict[str, str]:
        """Why each summary metric that cannot be computed is missing (``n/a`` / JSON null)."""
        notes = {}
        longest = max((len(frames) for frames in self.video_frames.values()), default=0)
        for key in _SUMMARY_KEYS:
            value = results.get(key)
            if not (isinstance(value, float) and math.isnan(value)):
                continue
            if key.startswith('mVC'):
                notes[key] = (f'no window to score: VC skips videos of at most '
                              f'{self.vc.skip_max_frames} frames and the longest video here has '
                              f'{longest}')
            else:
                notes[key] = 'no ground-truth pixel outside the ignore index was scored'
        return notes


def _percent(value: Optional[float]) -> str:
    return 'n/a' if value is None or math.isnan(value) else f'{100 * value:.2f}'


def format_results_table(results: Mapping[str, Any]) -> str:
    """Per-class table (classes present in the ground truth or the predictions) and summary table,
    in percent."""
    parts = []
    if 'IoU' in results:
        rows = [[name, _percent(iou), _percent(acc), _percent(dice)]
                for name, iou, acc, dice in zip(results['classes'], results['IoU'], results['Acc'],
                                                results['Dice'])
                if not (dice is None or (isinstance(dice, float) and math.isnan(dice)))]
        hidden = len(results['classes']) - len(rows)
        parts.append('per class results:\n' + text_table(['Class', 'IoU', 'Acc', 'Dice'], rows))
        if hidden:
            parts.append(f'({hidden} classes absent from both ground truth and predictions not '
                         f'shown)')
    keys = [k for k in _SUMMARY_KEYS if k in results]
    parts.append('Summary:\n' + text_table(keys, [[_percent(results[k]) for k in keys]]))
    parts += [f'{key} n/a: {why}' for key, why in (results.get('notes') or {}).items()]
    return '\n'.join(parts)
