"""Cityscapes video datasets: each labelled frame is a target, read with unlabelled reference
frames of its snippet (docs/datasets.md, "Cityscapes").

Layout (``data_root``, e.g. ``data/cityscapes``)::

    leftImg8bit_sequence/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png   every frame
    gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png        labelled frames:
        trainIds 0..18 and 255 (tools/convert_datasets/cityscapes.py writes them from the
        official *_gtFine_labelIds.png)

Cityscapes labels one frame of each 30-frame snippet, the 20th. A snippet is named after its
labelled frame (``aachen_000000_000019``) and holds the frame numbers ``n-19 .. n+10`` around it
(``snippet``; numbers below 0 do not exist), so snippets are found from the labels, not from the
sequence ids (one sequence id can hold several snippets). A training clip is the labelled frame
and reference frames at the clip dilation, as for VSPW; a test clip is the clip of the VSPW
test-clip rule, applied to the snippet, that holds the labelled frame. Only labelled frames are
scored: mVC is ``n/a``. A reference frame that a clip reads and the sequence lacks is an error
naming it, raised when the dataset is built.
"""
import os
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..core.evaluation import SparseLabelEvaluator
from .builder import DATASETS
from .clips import make_test_clips
from .file_io import DataError, natural_sort_key
from .vspw import VSPWDataset2, VSPWDataset_multiFrameTest, VSPWVideoDataset

__all__ = ['CITYSCAPES_CLASSES', 'CITYSCAPES_PALETTE', 'CITYSCAPES_LABELS', 'label_id_table',
           'IMG_DIR', 'ANN_DIR', 'IMG_SUFFIX', 'SEG_MAP_SUFFIX', 'LABEL_IDS_SUFFIX', 'SNIPPET',
           'city_of', 'snippet_names', 'list_labelled_frames', 'list_sequence_frames',
           'CityscapesVideoDataset', 'CityscapesDataset_clips', 'CityscapesDataset_multiFrameTest']

CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
                      'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
                      'truck', 'bus', 'train', 'motorcycle', 'bicycle')
CITYSCAPES_PALETTE = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
                      (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
                      (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0),
                      (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230),
                      (119, 11, 32))
# The official label table (cityscapesScripts, helpers/labels.py): (labelId, name, trainId), trainId
# 255 not trained and not scored. The license plate's labelId -1 is the value 255 in 8-bit images.
CITYSCAPES_LABELS = (
    (0, 'unlabeled', 255), (1, 'ego vehicle', 255), (2, 'rectification border', 255),
    (3, 'out of roi', 255), (4, 'static', 255), (5, 'dynamic', 255), (6, 'ground', 255),
    (7, 'road', 0), (8, 'sidewalk', 1), (9, 'parking', 255), (10, 'rail track', 255),
    (11, 'building', 2), (12, 'wall', 3), (13, 'fence', 4), (14, 'guard rail', 255),
    (15, 'bridge', 255), (16, 'tunnel', 255), (17, 'pole', 5), (18, 'polegroup', 255),
    (19, 'traffic light', 6), (20, 'traffic sign', 7), (21, 'vegetation', 8), (22, 'terrain', 9),
    (23, 'sky', 10), (24, 'person', 11), (25, 'rider', 12), (26, 'car', 13), (27, 'truck', 14),
    (28, 'bus', 15), (29, 'caravan', 255), (30, 'trailer', 255), (31, 'train', 16),
    (32, 'motorcycle', 17), (33, 'bicycle', 18), (-1, 'license plate', 255))

IMG_DIR = 'leftImg8bit_sequence'
ANN_DIR = 'gtFine'
IMG_SUFFIX = '_leftImg8bit.png'
SEG_MAP_SUFFIX = '_gtFine_labelTrainIds.png'
LABEL_IDS_SUFFIX = '_gtFine_labelIds.png'
SNIPPET = (-19, 10)  # the frames of a snippet, relative to its labelled frame


def label_id_table() -> Tuple[np.ndarray, np.ndarray]:
    """The 256-entry tables of the official labelId images: (labelId -> trainId, uint8; value
    valid, bool: the 34 ids 0..33 and 255, the license plate's -1)."""
    table = np.full(256, 255, np.uint8)
    valid = np.zeros(256, bool)
    for label_id, _, train_id in CITYSCAPES_LABELS:
        table[label_id % 256] = train_id
        valid[label_id % 256] = True
    return table, valid


def _split_name(name: str, path: str) -> Tuple[str, int, int]:
    """``'<city>_<seq>_<frame>'`` -> (``'<city>_<seq>'``, frame number, digits of the number)."""
    prefix, _, number = name.rpartition('_')
    if not (number.isdigit() and '_' in prefix):
        raise DataError(f'{path}: expected a Cityscapes file name <city>_<sequence>_<frame> '
                        f'followed by its suffix (e.g. aachen_000000_000019_leftImg8bit.png)')
    return prefix, int(number), len(number)


def city_of(name: str) -> str:
    """The city of a frame name ``<city>_<seq>_<frame>``."""
    return name.rsplit('_', 2)[0]


def snippet_names(target: str, snippet: Sequence[int] = SNIPPET) -> List[str]:
    """The frame names of the snippet of labelled frame ``target``, in temporal order."""
    prefix, number, width = _split_name(target, target)
    numbers = range(max(number + snippet[0], 0), number + snippet[1] + 1)
    return [f'{prefix}_{n:0{width}d}' for n in numbers]


def _names(folder: str, suffix: str) -> List[str]:
    return sorted((name[:-len(suffix)] for name in os.listdir(folder) if name.endswith(suffix)),
                  key=natural_sort_key)


def list_labelled_frames(data_root: str, split: str, *, ann_dir: str = ANN_DIR,
                         seg_map_suffix: str = SEG_MAP_SUFFIX) -> Dict[str, List[str]]:
    """City -> its labelled frames (names without suffix), in order. A label in the official
    ``*_gtFine_labelIds.png`` form without its ``seg_map_suffix`` file is an error."""
    root = os.path.join(data_root, ann_dir, split)
    if not os.path.isdir(root):
        raise DataError(f'label folder {root} does not exist; expected gtFine/<split>/<city>/ with '
                        f'*{seg_map_suffix} files (is data_root {data_root!r} right?)')
    labelled = {}
    for city in sorted(os.listdir(root)):
        folder = os.path.join(root, city)
        if not os.path.isdir(folder):
            continue
        names = _names(folder, seg_map_suffix)
        if seg_map_suffix != LABEL_IDS_SUFFIX:
            unconverted = sorted(set(_names(folder, LABEL_IDS_SUFFIX)) - set(names),
                                 key=natural_sort_key)
            if unconverted:
                raise DataError(
                    f'label {os.path.join(folder, unconverted[0] + seg_map_suffix)} does not exist '
                    f'({len(unconverted)} *{LABEL_IDS_SUFFIX} of {folder} have no '
                    f'*{seg_map_suffix}); write them with: python '
                    f'tools/convert_datasets/cityscapes.py {data_root}')
        if names:
            labelled[city] = names
    if not labelled:
        raise DataError(f'label folder {root} has no <city>/*{seg_map_suffix} labels')
    return labelled


def list_sequence_frames(data_root: str, split: str, city: str, *, img_dir: str = IMG_DIR,
                         img_suffix: str = IMG_SUFFIX) -> Set[str]:
    """The frame names (without suffix) in the sequence folder of ``city``."""
    folder = os.path.join(data_root, img_dir, split, city)
    if not os.path.isdir(folder):
        raise DataError(f'sequence folder {folder} does not exist; expected the '
                        f'<city>_<seq>_<frame>{img_suffix} frames of city {city!r} (from '
                        f'leftImg8bit_sequence_trainvaltest.zip)')
    return set(_names(folder, img_suffix))


def check_snippet(snippet: Sequence[int]) -> Tuple[int, int]:
    """``(first, last)`` frame offsets with first <= 0 <= last."""
    values = tuple(snippet)
    if (len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in values)
            or not values[0] <= 0 <= values[1]):
        raise ValueError(f'snippet must be (first, last) frame offsets from the labelled frame '
                         f'with first <= 0 <= last, e.g. (-19, 10), got {snippet!r}')
    return values


class CityscapesVideoDataset(VSPWVideoDataset):
    """What both Cityscapes datasets share: snippets found from the labels, file paths, clips with
    the labelled frame's label map, and an evaluator of the labelled frames only.

    A clip's reference frames get the label map of its labelled frame (they have none of their
    own; CFFM's Cityscapes clips do the same), so the training objective treats the scene as
    static over the clip.

    Args:
        data_root: the folder holding ``img_dir`` and ``ann_dir``.
        split: ``train``, ``val`` or ``test``: the sub-folder of both.
        pipeline: transform configs applied to each clip.
        img_dir, ann_dir: the frame and label folders (default ``leftImg8bit_sequence``,
            ``gtFine``).
        img_suffix, seg_map_suffix: file name endings (default ``_leftImg8bit.png``,
            ``_gtFine_labelTrainIds.png``).
        snippet: the snippet's frames relative to its labelled frame (default (-19, 10)).
        reduce_zero_label: False (trainIds are class ids); the pipeline's ``LoadAnnotations_clips``
            must say the same.
        classes, palette, label_map, ignore_index: see :class:`VSPWVideoDataset` (default the 19
            Cityscapes classes and colours).
    """

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    evaluator_type = SparseLabelEvaluator

    def __init__(self, data_root: str, split: str, pipeline: Sequence[Dict[str, Any]], *,
                 img_dir: str = IMG_DIR, ann_dir: str = ANN_DIR, img_suffix: str = IMG_SUFFIX,
                 seg_map_suffix: str = SEG_MAP_SUFFIX, snippet: Sequence[int] = SNIPPET,
                 reduce_zero_label: bool = False, classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None, **kwargs: Any) -> None:
        self.snippet = check_snippet(snippet)
        if classes is None:
            classes = CITYSCAPES_CLASSES
            palette = CITYSCAPES_PALETTE if palette is None else palette
        self.snippet_frames: Dict[str, List[str]] = {}
        self.target_index: Dict[str, int] = {}
        self.sequence_frames: Dict[str, Set[str]] = {}
        super().__init__(data_root, split, pipeline, img_dir=img_dir, ann_dir=ann_dir,
                         img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, classes=classes, palette=palette,
                         **kwargs)

    def check_layout(self, img_dir: str, ann_dir: str) -> Tuple[str, str]:
        """Plain folders (no ``{video}``); ``split`` must be one folder name."""
        split = self.split
        if not (isinstance(split, str) and split and os.sep not in split and '/' not in split):
            raise ValueError(f'split must be a folder name such as "train" or "val", got {split!r}')
        return img_dir, ann_dir

    def list_videos(self, require_masks: bool) -> Dict[str, List[str]]:
        """Snippet -> [its labelled frame]; fills ``snippet_frames``, ``target_index`` and
        ``sequence_frames`` (city -> the frames present)."""
        video_frames = {}
        labelled = list_labelled_frames(self.data_root, self.split, ann_dir=self.ann_dir,
                                        seg_map_suffix=self.seg_map_suffix)
        for city, targets in labelled.items():
            present = list_sequence_frames(self.data_root, self.split, city, img_dir=self.img_dir,
                                           img_suffix=self.img_suffix)
            self.sequence_frames[city] = present
            for target in targets:
                if target not in present:
                    raise DataError(f'labelled frame {target} has no image: '
                                    f'{self.frame_path(target, target)} does not exist but its '
                                    f'label {self.mask_path(target, target)} does')
                names = snippet_names(target, self.snippet)
                self.snippet_frames[target] = names
                self.target_index[target] = names.index(target)
                video_frames[target] = [target]
        return video_frames

    def frame_path(self, video: str, frame: str) -> str:
        return os.path.join(self.data_root, self.img_dir, self.split, city_of(frame),
                            frame + self.img_suffix)

    def mask_path(self, video: str, frame: str) -> str:
        return os.path.join(self.data_root, self.ann_dir, self.split, city_of(frame),
                            frame + self.seg_map_suffix)

    def clip_results(self, video: str, frame_indices: Sequence[int]) -> Dict[str, Any]:
        """The ``results`` dict a pipeline starts from: the frames ``frame_indices`` of the snippet
        ``video``, each with the label map of the snippet's labelled frame."""
        frames = [self.snippet_frames[video][i] for i in frame_indices]
        label = self.mask_path(video, video)
        return dict(video=video, frames=frames,
                    img_paths=[self.frame_path(video, f) for f in frames],
                    seg_paths=[label] * len(frames), seg_fields=[], label_map=self.label_map,
                    num_classes=self.num_classes)

    def frames_used(self, video: str) -> Set[int]:
        """Indices (into the snippet's frames) of every frame a clip of ``video`` may read; each
        of the training and test datasets below has its own rule."""
        raise NotImplementedError(f'{type(self).__name__} must define frames_used')

    def check_reference_frames(self) -> None:
        """Every frame a clip may read exists (raises a :class:`DataError` naming the first)."""
        for video in self.videos:
            names = self.snippet_frames[video]
            present = self.sequence_frames[city_of(video)]
            missing = [names[i] for i in sorted(self.frames_used(video)) if names[i] not in present]
            if missing:
                raise DataError(
                    f'reference frame {self.frame_path(video, missing[0])} of labelled frame '
                    f'{video} does not exist ({len(missing)} of the frames its clips read are '
                    f'missing); tools/check_dataset.py {self.data_root} lists every missing frame')


@DATASETS.register_module()
class CityscapesDataset_clips(CityscapesVideoDataset, VSPWDataset2):
    """Training set: item ``i`` is a clip of the ``i``-th labelled frame.

    The clip is the frames ``t + d`` for ``d`` in ``dilation``, then the labelled frame ``t``
    (unless 0 is in ``dilation``); with probability 0.5 time is reversed (the frames ``t - d``), as
    VSPW reverses a video. An index that leaves the snippet is clamped to its first (last) frame,
    as VSPW clamps at a video's start. When no labelled pixel is left after the pipeline the clip
    is redrawn from a random labelled frame (see :class:`VSPWDataset2`).

    Args:
        dilation: frame offsets (each <= 0) relative to the labelled frame.
        max_redraws: redraws before a :class:`DataError`.
        data_root, split, pipeline, **kwargs: see :class:`CityscapesVideoDataset`.
    """

    def __init__(self, data_root: str, split: str, pipeline: Sequence[Dict[str, Any]],
                 dilation: Sequence[int] = (-9, -6, -3), max_redraws: int = 10,
                 **kwargs: Any) -> None:
        super().__init__(data_root, split, pipeline, dilation=dilation, max_redraws=max_redraws,
                         **kwargs)
        self.check_reference_frames()

    def clip_indices(self, video: str, reverse: bool) -> List[int]:
        """The clip's frame indices into the snippet's frames, labelled frame last."""
        offsets = self.dilation + ([] if 0 in self.dilation else [0])
        last = len(self.snippet_frames[video]) - 1
        target = self.target_index[video]
        return [min(max(target - d if reverse else target + d, 0), last) for d in offsets]

    def training_clip(self, video: str) -> Dict[str, Any]:
        return self.clip_results(video, self.clip_indices(video, reverse=np.random.rand() < 0.5))

    def frames_used(self, video: str) -> Set[int]:
        return set(self.clip_indices(video, False)) | set(self.clip_indices(video, True))


@DATASETS.register_module()
class CityscapesDataset_multiFrameTest(CityscapesVideoDataset, VSPWDataset_multiFrameTest):
    """Test set: item ``i`` is the test clip of the ``i``-th labelled frame.

    The clip is the one of :func:`~mmseg.datasets.clips.make_test_clips` over the snippet's frames
    that holds the labelled frame, so the labelled frame gets the prediction the VSPW test of the
    whole snippet would give it. With 30-frame snippets (labelled frame at index 19) and gap 3:
    ``test_size`` 1 -> (19,), 2 -> (19, 22), 4 -> (13, 16, 19, 22).

    Args:
        test_size: frames per clip, any N >= 1.
        test_gap: frame spacing inside a clip.
        data_root, split, pipeline, **kwargs: see :class:`CityscapesVideoDataset`.
    """

    def __init__(self, data_root: str, split: str, pipeline: Sequence[Dict[str, Any]],
                 test_size: int = 1, test_gap: int = 3, **kwargs: Any) -> None:
        super().__init__(data_root, split, pipeline, test_size=test_size, test_gap=test_gap,
                         **kwargs)
        self.check_reference_frames()

    def video_clips(self, video: str) -> List[Tuple[int, ...]]:
        target = self.target_index[video]
        clips = make_test_clips(len(self.snippet_frames[video]), self.test_size, self.test_gap)
        return [next(clip for clip in clips if target in clip)]

    def frames_used(self, video: str) -> Set[int]:
        return set(self.video_clips(video)[0])
