"""VSPW video datasets: one random training clip per video, and every test clip of every video.

Layout (``data_root``, e.g. ``data/vspw/VSPW_480p``)::

    {train,val,test}.txt                 one video name per line
    data/<video>/origin/<frame>.jpg      frames, ordered by the numbers in their names
    data/<video>/mask/<frame>.png        raw labels: 0 "others", 1..124 classes, 255 void

Construction lists folders only (fast on the 251k frames of VSPW) and checks the split file, every
video folder, that ``origin/`` has frames and that each frame has a mask. Reading a frame or mask
checks its content (empty, undecodable, colour mask, wrong size, values outside 0..124 and 255) and
raises :class:`~mmseg.datasets.file_io.DataError` naming the file; ``tools/check_dataset.py`` runs
every check over a whole dataset.
"""
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
from torch.utils.data import Dataset

from ..core.evaluation import VideoSegEvaluator, write_overlay
from ..utils.errors import ConfigError
from ..utils.logger import log_once
from .builder import DATASETS, PIPELINES
from .clips import check_positive_int, make_test_clips
from .file_io import DataError, label_tables, natural_sort_key, read_image, read_label
from .pipelines import Compose

__all__ = ['VSPW_CLASSES', 'VSPW_PALETTE', 'IMG_DIR', 'ANN_DIR', 'split_path', 'read_split',
           'list_video', 'video_folder', 'has_mask_folder', 'check_masks', 'check_classes',
           'VSPWVideoDataset', 'VSPWDataset2', 'VSPWDataset_multiFrameTest']

# VSPW's class names for raw label ids 1..124 (id 0, "others", is void at evaluation); training
# index k is raw id k+1.
VSPW_CLASSES = (
    'wall', 'ceiling', 'door', 'stair', 'ladder', 'escalator', 'Playground_slide',
    'handrail_or_fence', 'window', 'rail', 'goal', 'pillar', 'pole', 'floor', 'ground', 'grass',
    'sand', 'athletic_field', 'road', 'path', 'crosswalk', 'building', 'house', 'bridge', 'tower',
    'windmill', 'well_or_well_lid', 'other_construction', 'sky', 'mountain', 'stone', 'wood', 'ice',
    'snowfield', 'grandstand', 'sea', 'river', 'lake', 'waterfall', 'water',
    'billboard_or_Bulletin_Board', 'sculpture', 'pipeline', 'flag', 'parasol_or_umbrella',
    'cushion_or_carpet', 'tent', 'roadblock', 'car', 'bus', 'truck', 'bicycle', 'motorcycle',
    'wheeled_machine', 'ship_or_boat', 'raft', 'airplane', 'tyre', 'traffic_light', 'lamp',
    'person', 'cat', 'dog', 'horse', 'cattle', 'other_animal', 'tree', 'flower', 'other_plant',
    'toy', 'ball_net', 'backboard', 'skateboard', 'bat', 'ball',
    'cupboard_or_showcase_or_storage_rack', 'box', 'traveling_case_or_trolley_case', 'basket',
    'bag_or_package', 'trash_can', 'cage', 'plate',
    'tub_or_bowl_or_pot', 'bottle_or_cup', 'barrel', 'fishbowl', 'bed', 'pillow', 'table_or_desk',
    'chair_or_seat', 'bench', 'sofa', 'shelf', 'bathtub', 'gun', 'commode', 'roaster',
    'other_machine', 'refrigerator', 'washing_machine', 'Microwave_oven', 'fan', 'curtain',
    'textiles', 'clothes', 'painting_or_poster', 'mirror', 'flower_pot_or_vase', 'clock', 'book',
    'tool', 'blackboard', 'tissue', 'screen_or_television', 'computer', 'printer', 'Mobile_phone',
    'keyboard', 'other_electronic_product', 'fruit', 'food', 'instrument', 'train')


def _grid_palette(num_colours: int, stride: int = 37) -> Tuple[Tuple[int, int, int], ...]:
    """Distinct colours from the 5x5x5 RGB grid (levels 0, 64, 128, 191, 255; black left out),
    visited with a stride so that neighbouring class ids get dissimilar colours."""
    levels = (0, 64, 128, 191, 255)
    colours = []
    for i in range(1, num_colours + 1):
        code = (i * stride) % 125
        colours.append((levels[code // 25], levels[code // 5 % 5], levels[code % 5]))
    return tuple(colours)


VSPW_PALETTE = _grid_palette(len(VSPW_CLASSES))


IMG_DIR = 'data/{video}/origin'
ANN_DIR = 'data/{video}/mask'


def split_path(data_root: str, split: str) -> str:
    """The split file: ``split`` itself when it names a file (ends with ``.txt`` or holds a path
    separator; relative paths are under ``data_root``), else ``data_root/<split>.txt``."""
    if split.endswith('.txt') or os.sep in split or '/' in split:
        return split if os.path.isabs(split) else os.path.join(data_root, split)
    return os.path.join(data_root, f'{split}.txt')


def read_split(data_root: str, split: str) -> List[str]:
    """Video names listed in the split file (see :func:`split_path`): one per line, surrounding
    whitespace and blank lines ignored; a repeated name is an error."""
    path = split_path(data_root, split)
    if not os.path.isfile(path):
        raise DataError(f'split file {path} does not exist; expected a text file with one video '
                        f'name per line (is data_root {data_root!r} right?)')
    with open(path, encoding='utf-8') as f:
        videos = [line.strip() for line in f]
    videos = [v for v in videos if v]
    seen = set()
    for video in videos:
        if video in seen:
            raise DataError(f'split file {path} lists video {video!r} twice; expected each video '
                            f'once')
        seen.add(video)
    return videos


def dir_template(name: str, value: str, default: str) -> str:
    """The folder template (relative to ``data_root``) that ``img_dir`` or ``ann_dir`` stands for.

    A value with ``{video}`` is the template. A value without it is read as the original's
    (``img_dir='images/training'``), which its VSPW datasets ignored: ``default``, the VSPW layout,
    is read, and a notice says so once per process.
    """
    if not isinstance(value, str):
        raise ConfigError(f'{name} must be a folder path containing {{video}}, e.g. '
                          f'"videos/{{video}}/frames", got {value!r}')
    if '{video}' in value:
        return value
    log_once(f'original {name}', f'{name}={value!r} has no {{video}}: ignored, as the original '
                                 f'did; reading the VSPW layout {default}')
    return default


def _ignored_dirs_hint(given: Mapping[str, str]) -> str:
    """What a layout error adds when ``img_dir``/``ann_dir`` without ``{video}`` were ignored."""
    ignored = [f'{name}={value!r}' for name, value in given.items()
               if isinstance(value, str) and '{video}' not in value]
    if not ignored:
        return ''
    return (f' ({" and ".join(ignored)} without {{video}} means the VSPW layout {IMG_DIR}, '
            f'{ANN_DIR}, as in the original; put {{video}} into them for another layout)')


def video_folder(data_root: str, video: str, img_dir: str = IMG_DIR) -> str:
    """The folder of ``video``: ``img_dir`` cut after its ``{video}`` part."""
    head = img_dir.split('{video}')[0]
    return os.path.join(data_root, head + video)


def list_video(data_root: str, video: str, img_suffix: str = '.jpg',
               img_dir: str = IMG_DIR) -> List[str]:
    """Frame names (without suffix) of ``video``, in temporal order (by the numbers in the
    names)."""
    video_dir = video_folder(data_root, video, img_dir)
    origin = os.path.join(data_root, img_dir.format(video=video))
    if not os.path.isdir(video_dir):
        raise DataError(f'video {video!r} has no folder {video_dir}; expected its frames in '
                        f'{origin}')
    if not os.path.isdir(origin):
        raise DataError(f'video folder {video_dir} has no {os.path.basename(origin)}/ folder; '
                        f'expected its frames in {origin}')
    frames = sorted((name[:-len(img_suffix)] for name in os.listdir(origin)
                     if name.endswith(img_suffix)), key=natural_sort_key)
    if not frames:
        raise DataError(f'video folder {origin} has no *{img_suffix} frames')
    return frames


def has_mask_folder(data_root: str, video: str, seg_map_suffix: str = '.png', required: bool = True,
                    ann_dir: str = ANN_DIR) -> bool:
    """Whether ``video`` has a mask folder; without one it is an error when ``required``."""
    mask_dir = os.path.join(data_root, ann_dir.format(video=video))
    if os.path.isdir(mask_dir):
        return True
    if required:
        raise DataError(f'video {video!r} has no mask folder {mask_dir}; expected one '
                        f'<frame>{seg_map_suffix} label map per frame')
    return False


def check_masks(data_root: str, video: str, frames: Sequence[str], seg_map_suffix: str = '.png',
                required: bool = True, img_dir: str = IMG_DIR, ann_dir: str = ANN_DIR) -> bool:
    """Whether ``video`` has masks; if it has a mask folder every frame needs its mask and every
    mask its frame, and without one it is an error when ``required``."""
    if not has_mask_folder(data_root, video, seg_map_suffix, required, ann_dir):
        return False
    mask_dir = os.path.join(data_root, ann_dir.format(video=video))
    masks = {name[:-len(seg_map_suffix)] for name in os.listdir(mask_dir)
             if name.endswith(seg_map_suffix)}
    missing = [f for f in frames if f not in masks]
    if missing:
        raise DataError(f'mask {os.path.join(mask_dir, missing[0] + seg_map_suffix)} does not '
                        f'exist (video {video!r} lacks the masks of {len(missing)} of its '
                        f'{len(frames)} frames); expected one mask per frame')
    orphans = sorted(masks - set(frames), key=natural_sort_key)
    if orphans:
        origin = os.path.join(data_root, img_dir.format(video=video))
        raise DataError(f'frame {os.path.join(origin, orphans[0])} is missing: its mask '
                        f'{os.path.join(mask_dir, orphans[0] + seg_map_suffix)} exists '
                        f'({len(orphans)} mask(s) of video {video!r} have no frame); expected one '
                        f'frame per mask')
    return True


def check_classes(classes: Optional[Sequence[str]], palette: Optional[Sequence[Sequence[int]]]
                  ) -> Tuple[Tuple[str, ...], Tuple[Tuple[int, int, int], ...]]:
    """Class names (default VSPW's) and one RGB colour per class (default: VSPW's palette for VSPW's
    classes, else a generated one)."""
    if classes is None:
        names = VSPW_CLASSES
    elif isinstance(classes, str) or not classes or not all(isinstance(c, str) for c in classes):
        raise ConfigError(f'classes must be a non-empty list of class names, got {classes!r}')
    else:
        names = tuple(classes)
    if len(set(names)) != len(names):
        raise ConfigError(f'classes lists a name twice: '
                          f'{sorted(n for n in set(names) if names.count(n) > 1)}')
    if palette is None:
        colours = VSPW_PALETTE if names == VSPW_CLASSES else _grid_palette(len(names))
    else:
        colours = tuple(tuple(int(v) for v in c) for c in palette)
        if len(colours) != len(names) or any(len(c) != 3 or not all(0 <= v <= 255 for v in c)
                                             for c in colours):
            raise ConfigError(f'palette must give one RGB triple (0..255) per class: {len(names)} '
                              f'classes, got {palette!r}')
    return names, colours


class VSPWVideoDataset(Dataset):
    """What both VSPW datasets share: the video listing, class names, ground truth, evaluation and
    writing predictions. With ``classes``, ``palette``, ``img_dir``/``ann_dir`` and ``label_map`` it
    reads any video dataset with one folder of frames and one of masks per video.

    Args:
        data_root: the folder the split file and the folder templates are relative to.
        split: the split name (``data_root/<split>.txt``) or a split file (``.txt``; relative to
            ``data_root`` unless absolute), one video name per line.
        pipeline: transform configs applied to each clip.
        classes: class names, training ids 0..K-1 (default VSPW's 124).
        palette: one RGB colour per class (default VSPW's palette, or generated for other classes).
        img_dir, ann_dir: frame and mask folders of a video relative to ``data_root``, with a
            ``{video}`` placeholder (default VSPW's ``data/{video}/origin`` and
            ``data/{video}/mask``). A value without ``{video}`` keeps the original's meaning: the
            original's configs pass ``img_dir='images/training'`` and the like, which its VSPW
            datasets ignored, so the VSPW layout is read (with a notice).
        img_suffix, seg_map_suffix: frame and mask file extensions.
        reduce_zero_label: shift labels (raw 0 and 255 -> 255, raw k -> k-1), as VSPW is scored.
        label_map: raw mask value -> training id (unlisted values are kept), applied before
            ``reduce_zero_label``; the pipeline's ``LoadAnnotations_clips`` applies it too.
        ignore_index: the void label.
        require_masks: every video must have masks (training); otherwise a video without a mask
            folder is allowed and only its ground truth cannot be read.
    """

    CLASSES = VSPW_CLASSES
    PALETTE = VSPW_PALETTE
    evaluator_type = VideoSegEvaluator  # what build_evaluator makes (a hook for other datasets)

    def __init__(self, data_root: str, split: str, pipeline: Sequence[Dict[str, Any]], *,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 img_dir: str = IMG_DIR, ann_dir: str = ANN_DIR,
                 img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, label_map: Optional[Mapping[int, int]] = None,
                 ignore_index: int = 255, require_masks: bool = True) -> None:
        self.data_root = data_root
        self.split = split
        self.CLASSES, self.PALETTE = check_classes(classes, palette)
        self.given_dirs = dict(img_dir=img_dir, ann_dir=ann_dir)
        self.img_dir, self.ann_dir = self.check_layout(img_dir, ann_dir)
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.reduce_zero_label = reduce_zero_label
        self.label_map = {int(k): int(v) for k, v in label_map.items()} if label_map else None
        self.ignore_index = ignore_index
        self.label_table, self.label_valid = label_tables(
            len(self.CLASSES), reduce_zero_label=reduce_zero_label, label_map=self.label_map,
            ignore_index=ignore_index)
        for step in pipeline:
            ours = PIPELINES.resolve(step) if isinstance(step, Mapping) else {}
            if (ours.get('type') == 'LoadAnnotations_clips'
                    and bool(ours.get('reduce_zero_label', True)) != bool(reduce_zero_label)):
                raise ConfigError(
                    f'the pipeline\'s {step["type"]} has reduce_zero_label='
                    f'{ours.get("reduce_zero_label", True)} but the dataset (split {split!r}) has '
                    f'reduce_zero_label={reduce_zero_label}; set both the same')
        self.pipeline = Compose(pipeline)
        self.video_frames: Dict[str, List[str]] = self.list_videos(require_masks)
        self.videos = list(self.video_frames)

    def check_layout(self, img_dir: str, ann_dir: str) -> Tuple[str, str]:
        """The frame and mask folder templates (see :func:`dir_template`; a hook for other
        layouts)."""
        return dir_template('img_dir', img_dir, IMG_DIR), dir_template('ann_dir', ann_dir, ANN_DIR)

    def list_videos(self, require_masks: bool) -> Dict[str, List[str]]:
        """Video -> its scored frames in temporal order, videos in split order (a hook for other
        layouts); checks every video folder and its masks."""
        video_frames = {}
        for video in read_split(self.data_root, self.split):
            try:
                video_frames[video] = list_video(self.data_root, video, self.img_suffix,
                                                 self.img_dir)
                check_masks(self.data_root, video, video_frames[video], self.seg_map_suffix,
                            require_masks, self.img_dir, self.ann_dir)
            except DataError as err:
                listed = split_path(self.data_root, self.split)
                hint = _ignored_dirs_hint(self.given_dirs)
                raise DataError(f'{err} (video listed in {listed}){hint}') from err
        return video_frames

    @property
    def num_classes(self) -> int:
        return len(self.CLASSES)

    @property
    def num_frames(self) -> int:
        """Frames in the split."""
        return sum(len(frames) for frames in self.video_frames.values())

    def frame_path(self, video: str, frame: str) -> str:
        return os.path.join(self.data_root, self.img_dir.format(video=video),
                            frame + self.img_suffix)

    def mask_path(self, video: str, frame: str) -> str:
        return os.path.join(self.data_root, self.ann_dir.format(video=video),
                            frame + self.seg_map_suffix)

    def get_gt_seg_map(self, video: str, frame: str, shifted: Optional[bool] = None,
                       expected_shape: Optional[Sequence[int]] = None) -> np.ndarray:
        """The label map of one frame, uint8 (H, W): mapped to training ids (``label_map``, then
        VSPW's shift) when ``shifted`` (default: the dataset's ``reduce_zero_label`` or
        ``label_map``), raw otherwise. With ``expected_shape`` (the frame's (H, W)), a mask of
        another size is a :class:`DataError` naming both files."""
        label = read_label(self.mask_path(video, frame), num_classes=self.num_classes,
                           ignore_index=self.ignore_index, expected_shape=expected_shape,
                           frame_path=self.frame_path(video, frame), valid=self.label_valid)
        shift = ((self.reduce_zero_label or self.label_map is not None) if shifted is None
                 else shifted)
        return cv2.LUT(label, self.label_table) if shift else label

    def clip_results(self, video: str, frame_indices: Sequence[int]) -> Dict[str, Any]:
        """The ``results`` dict a pipeline starts from, for the given frames of ``video``
        (``label_map`` and ``num_classes`` tell ``LoadAnnotations_clips`` the dataset's labels)."""
        frames = [self.video_frames[video][i] for i in frame_indices]
        return dict(video=video, frames=frames,
                    img_paths=[self.frame_path(video, f) for f in frames],
                    seg_paths=[self.mask_path(video, f) for f in frames], seg_fields=[],
                    label_map=self.label_map, num_classes=self.num_classes)

    def build_evaluator(self, metrics: Sequence[str] = ('mIoU',), **eval_options: Any
                        ) -> VideoSegEvaluator:
        """A :class:`~mmseg.core.evaluation.VideoSegEvaluator` over this split.

        Args:
            metrics: ``'mIoU'``, ``'mDice'``, ``'mVC'``; empty to only write PNGs.
            eval_options: ``imgfile_prefix`` (write ``<prefix>/<video>/<frame>.png``), ``vc_gt``
                (``'shifted'`` or ``'raw'``).
            ``label_offset`` (added to the written labels: 1 writes VSPW's raw ids 1..124).
        """
        allowed = {'imgfile_prefix', 'vc_gt', 'label_offset'}
        unknown = sorted(set(eval_options) - allowed)
        if unknown:
            raise ValueError(f'unknown evaluation options {unknown}; known: {sorted(allowed)}')
        return self.evaluator_type(
            class_names=self.CLASSES, video_frames=self.video_frames,
            load_gt=lambda video, frame, shape: self.get_gt_seg_map(video, frame, shifted=False,
                                                                     expected_shape=shape),
            gt_label_map=self.label_table if self.reduce_zero_label or self.label_map else None,
            metrics=metrics, ignore_index=self.ignore_index, palette=self.PALETTE, **eval_options)

    def show_prediction(self, pred_labels: np.ndarray, frame_meta: Dict[str, Any], out_dir: str,
                        opacity: float = 0.5) -> str:
        """Write the frame with the prediction painted over it to ``out_dir/<video>/<frame>.jpg``;
        return its path."""
        path = os.path.join(out_dir, frame_meta['video'], f'{frame_meta["frame"]}.jpg')
        write_overlay(path, read_image(frame_meta['filename']), pred_labels, self.PALETTE, opacity)
        return path


@DATASETS.register_module()
class VSPWDataset2(VSPWVideoDataset):
    """Training set: item ``i`` is one random clip of video ``i``.

    The clip: with probability 0.5 the video's frame list is reversed; a target index ``t`` is drawn
    uniformly from [m, N-1] with m = -min(dilation); the clip is the frames ``t + d`` for each ``d``
    in ``dilation``, then the target ``t`` last (unless 0 is in ``dilation``): ``[-3]`` gives
    (t-3, t), ``[-9, -6, -3]`` four frames, ``[0]`` one. A video with N <= m frames uses t = N-1 and
    clamps the indices at 0, so its first frame repeats. When no labelled pixel (all 255) is left
    after the pipeline, the clip is redrawn from a random video, at most ``max_redraws`` times.

    Args:
        dilation: frame offsets (each <= 0) relative to the target.
        max_redraws: redraws before a :class:`DataError`.
        data_root, split, pipeline, **kwargs: see :class:`VSPWVideoDataset`.
    """

    def __init__(self, data_root: str, split: str, pipeline: Sequence[Dict[str, Any]],
                 dilation: Sequence[int] = (-9, -6, -3), max_redraws: int = 10,
                 **kwargs: Any) -> None:
        dilation = list(dilation)
        if not dilation or any(isinstance(d, bool) or not isinstance(d, int) or d > 0
                               for d in dilation):
            raise ValueError(f'dilation must be a non-empty list of integers <= 0, got '
                             f'{dilation!r}')
        super().__init__(data_root, split, pipeline, **kwargs)
        self.dilation = dilation
        self.max_redraws = max_redraws

    def __len__(self) -> int:
        return len(self.videos)

    def sample_frame_indices(self, num_frames: int) -> List[int]:
        """Draw the clip's frame indices (into the video's frames in temporal order)."""
        reverse = np.random.rand() < 0.5
        margin = -min(self.dilation)
        target = np.random.randint(margin, num_frames) if num_frames > margin else num_frames - 1
        offsets = self.dilation + ([] if 0 in self.dilation else [0])
        indices = [max(target + d, 0) for d in offsets]
        return [num_frames - 1 - i for i in indices] if reverse else indices

    def training_clip(self, video: str) -> Dict[str, Any]:
        """The pipeline input of one random clip of ``video`` (a hook for other datasets)."""
        return self.clip_results(video, self.sample_frame_indices(len(self.video_frames[video])))

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        video = self.videos[idx]
        tried = []
        for _ in range(self.max_redraws + 1):
            results = self.pipeline(self.training_clip(video))
            if 'gt_semantic_seg' not in results:
                raise KeyError('the training pipeline must output gt_semantic_seg '
                               '(LoadAnnotations_clips ... Collect_clips(keys=["img", '
                               '"gt_semantic_seg"]))')
            if (np.asarray(results['gt_semantic_seg']) != self.ignore_index).any():
                return results
            tried.append(video)
            video = self.videos[np.random.randint(len(self.videos))]
        raise DataError(f'{len(tried)} training clips in a row had no labelled pixel after the '
                        f'pipeline (videos {tried}); check the masks of split {self.split!r} in '
                        f'{self.data_root}')


@DATASETS.register_module()
class VSPWDataset_multiFrameTest(VSPWVideoDataset):
    """Test set: item ``i`` is the ``i``-th test clip; each frame is in exactly one clip.

    Each video is cut by :func:`~mmseg.datasets.clips.make_test_clips` (``test_size`` frames spaced
    ``test_gap`` apart inside blocks of ``test_size * test_gap`` frames, then consecutive chunks).
    Videos without masks are allowed (their ground truth cannot be read, so only
    ``--format-only`` works on them).

    Args:
        test_size: frames per clip, any N >= 1.
        test_gap: frame spacing inside a clip.
        data_root, split, pipeline, **kwargs: see :class:`VSPWVideoDataset`.
    """

    def __init__(self, data_root: str, split: str, pipeline: Sequence[Dict[str, Any]],
                 test_size: int = 1, test_gap: int = 3, **kwargs: Any) -> None:
        self.test_size = check_positive_int('test_size', test_size)
        self.test_gap = check_positive_int('test_gap', test_gap)
        kwargs.setdefault('require_masks', False)
        super().__init__(data_root, split, pipeline, **kwargs)
        self.clips: List[Tuple[str, Tuple[int, ...]]] = [
            (video, clip) for video in self.videos for clip in self.video_clips(video)]

    def video_clips(self, video: str) -> List[Tuple[int, ...]]:
        """The test clips of ``video`` (a hook for other datasets)."""
        return make_test_clips(len(self.video_frames[video]), self.test_size, self.test_gap)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        video, indices = self.clips[idx]
        return self.pipeline(self.clip_results(video, indices))

    def items_by_video(self) -> List[Tuple[str, List[int]]]:
        """(video, item indices of its clips) per video, in split order."""
        grouped: Dict[str, List[int]] = {}
        for idx, (video, _) in enumerate(self.clips):
            grouped.setdefault(video, []).append(idx)
        return list(grouped.items())
