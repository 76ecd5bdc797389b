"""The Python API of mmseg 0.x: build a segmentor from a config and predict a frame or a clip.

    model = init_segmentor('local_configs/themask/video_themask_mit_b1.py', 'latest.pth', device='cpu')
    labels = inference_segmentor(model, ['f0.jpg', 'f3.jpg'])   # one (H, W) uint8 map per frame
    label = inference_segmentor(model, 'f0.jpg')                # one frame: one (H, W) map
    model.CLASSES, model.PALETTE                                # names and RGB colours of 0..K-1
"""
import os
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..utils.checkpoint import load_checkpoint
from ..datasets.builder import DATASETS
from ..datasets.pipelines import Compose
from ..models import build_segmentor
from ..utils.config import Config, load_config
from ..utils.errors import UsageError

__all__ = ['init_segmentor', 'inference_segmentor', 'prepare_clip', 'dataset_classes']

Frame = Union[str, os.PathLike, np.ndarray]
EXPECTED_ARRAY = 'an (H, W, 3) uint8 BGR array (as cv2.imread gives)'


def dataset_classes(cfg: Config) -> Tuple[Tuple[str, ...], Tuple[Tuple[int, int, int], ...]]:
    """(class names, RGB palette) of the config's test dataset.

    The dataset config's ``classes``/``palette`` keys win, then the dataset class's ``CLASSES``/
    ``PALETTE`` (wrappers are followed through ``dataset``), else VSPW's.
    """
    from ..datasets.vspw import VSPW_CLASSES, VSPW_PALETTE
    data = cfg.get('data', {}) if hasattr(cfg, 'get') else {}
    node = data.get('test') or {}
    classes = palette = None
    while node:
        classes = classes if classes is not None else node.get('classes')
        palette = palette if palette is not None else node.get('palette')
        kind = node.get('type')
        if kind in DATASETS:
            cls = DATASETS.get(kind)
            classes = classes if classes is not None else getattr(cls, 'CLASSES', None)
            palette = palette if palette is not None else getattr(cls, 'PALETTE', None)
        node = node.get('dataset') if classes is None or palette is None else None
    classes = tuple(classes) if classes is not None else tuple(VSPW_CLASSES)
    if palette is None:
        palette = VSPW_PALETTE if len(classes) <= len(VSPW_PALETTE) else None
    if palette is None or len(palette) < len(classes):
        from ..datasets.vspw import _grid_palette
        palette = _grid_palette(len(classes))
    return classes, tuple(tuple(int(v) for v in colour) for colour in palette)


def init_segmentor(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: Union[str, torch.device] = 'cpu', *, strict: bool = True) -> nn.Module:
    """Build the segmentor of ``config`` (a path or a Config), load ``checkpoint``, move to ``device``.

    ``model.pretrained`` is ignored: the checkpoint holds the weights (random weights without one).
    The config is kept as ``model.cfg`` for :func:`inference_segmentor`; ``model.CLASSES`` and
    ``model.PALETTE`` are the test dataset's class names and RGB colours (see :func:`dataset_classes`).
    With ``strict`` (the default) a checkpoint that leaves model tensors uninitialised, holds
    unknown ones or ones of another shape is a :class:`~mmseg.utils.errors.CheckpointError`;
    ``strict=False`` loads what fits and logs the rest.
    """
    cfg = load_config(config) if isinstance(config, str) else config
    cfg.model.pretrained = None
    model = build_segmentor(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, strict=strict, source='init_segmentor checkpoint',
                        partial_hint='init_segmentor(..., strict=False)')
    model.cfg = cfg
    model.CLASSES, model.PALETTE = dataset_classes(cfg)
    return model.to(device).eval()


def _clip_results(frames: Sequence[Frame]) -> dict:
    """The pipeline's starting dict for frame files, or for BGR arrays (the loading step then only
    sets the clip's meta)."""
    if all(isinstance(f, (str, os.PathLike)) for f in frames):
        frames = [os.fspath(f) for f in frames]
        names = [os.path.splitext(os.path.basename(f))[0] for f in frames]
        video = os.path.basename(os.path.dirname(os.path.abspath(frames[0])))
        return dict(video=video, frames=names, img_paths=list(frames), seg_fields=[])
    if not all(isinstance(f, np.ndarray) for f in frames):
        raise TypeError('frames must all be file paths or all (H, W, 3) uint8 BGR arrays')
    for f in frames:
        if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            raise UsageError(f'expected {EXPECTED_ARRAY} per frame, got a {f.dtype} array of shape '
                             f'{f.shape}' + ('; convert with (x * 255).round().astype(np.uint8) and BGR '
                                             'channel order' if f.dtype.kind == 'f' else ''))
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f'the frames of a clip must have one size, got {sorted({f.shape for f in frames})}')
    return dict(video='arrays', frames=[f'{i:05d}' for i in range(len(frames))],
                img_paths=[f'<array {i}>' for i in range(len(frames))], img=list(frames), seg_fields=[])


def _frame_list(frame_or_frames) -> Tuple[List[Frame], bool]:
    """(frames, whether one frame was given)."""
    if isinstance(frame_or_frames, (str, os.PathLike)):
        return [frame_or_frames], True
    if isinstance(frame_or_frames, np.ndarray):
        if frame_or_frames.ndim == 3:
            return [frame_or_frames], True
        raise UsageError(f'expected {EXPECTED_ARRAY} or a list of them, got an array of shape '
                         f'{frame_or_frames.shape}')
    return list(frame_or_frames), False


def prepare_clip(model: nn.Module, frames: Sequence[Frame]) -> dict:
    """The test pipeline of ``model.cfg`` on a clip: ``img`` (list over augmentations of (T, 3, h, w))
    and ``img_metas`` (list over augmentations of per-frame meta lists)."""
    if not frames:
        raise ValueError('inference_segmentor needs at least one frame')
    if getattr(model, 'cfg', None) is None:
        raise UsageError('the model has no cfg (its test pipeline); build it with init_segmentor(config, ...)')
    steps = list(model.cfg.data.test.pipeline)
    if steps[0]['type'] != 'LoadImageFromFile_clips':
        raise ValueError(f'the test pipeline must start with LoadImageFromFile_clips, got {steps[0]["type"]}')
    return Compose(steps)(_clip_results(frames))


def inference_segmentor(model: nn.Module, frame_or_frames: Union[Frame, Sequence[Frame]]
                        ) -> Union[np.ndarray, List[np.ndarray]]:
    """Predict one frame, or one clip: the test pipeline of ``model.cfg``, the model, the labels.

    Args:
        model: from :func:`init_segmentor`.
        frame_or_frames: one frame, or the clip's frames in temporal order; a frame is a file path
            or an (H, W, 3) uint8 BGR array (as ``cv2.imread`` gives).

    Returns:
        a uint8 (H, W) label map (0..K-1 in the shifted class space) at the frame size for one
        frame; a list of them, one per frame, for a list.
    """
    frames, single = _frame_list(frame_or_frames)
    data = prepare_clip(model, frames)
    device = next(model.parameters()).device
    imgs = [img[None].to(device) for img in data['img']]
    metas = [[m] for m in data['img_metas']]
    with torch.no_grad():
        labels = model(return_loss=False, img=imgs, img_metas=metas)
    return labels[0][0] if single else list(labels[0])
