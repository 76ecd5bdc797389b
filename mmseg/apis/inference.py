"""The Python API of mmseg 0.x: build a segmentor from a config and predict a frame or a clip.

    model = init_segmentor('local_configs/themask/video_themask_mit_b1.py', 'latest.pth',
                           device='cpu')
    model = init_segmentor('work_dirs/b1/latest.pth')          # the config it was trained with
    model = init_segmentor('published/themask_b1')             # a tools/publish_model.py folder
    labels = inference_segmentor(model, ['f0.jpg', 'f3.jpg'])   # one (H, W) uint8 map per frame
    label = inference_segmentor(model, 'f0.jpg')                # one frame: one (H, W) map
    model.CLASSES, model.PALETTE                                # names and RGB colours of 0..K-1
"""
import os
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..datasets.builder import PIPELINES
from ..datasets.pipelines import Compose
from ..models import build_segmentor
from ..utils.checkpoint import apply_checkpoint, read_checkpoint, resolve_checkpoint_path
from ..utils.config import CONFIG_SUFFIXES, Config, load_config
from ..utils.errors import UsageError
from .trained_config import dataset_classes, reconcile_with_checkpoint, saved_config

__all__ = ['init_segmentor', 'inference_segmentor', 'prepare_clip', 'dataset_classes']

Frame = Union[str, os.PathLike, np.ndarray]
EXPECTED_ARRAY = 'an (H, W, 3) uint8 BGR array (as cv2.imread gives)'


def _is_config_file(path: Any) -> bool:
    return (isinstance(path, (str, os.PathLike))
            and os.path.splitext(os.fspath(path))[1] in CONFIG_SUFFIXES)


def init_segmentor(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: Union[str, torch.device] = 'cpu', *, strict: bool = True) -> nn.Module:
    """Build a segmentor, load its weights, move it to ``device``.

    ``init_segmentor(config, checkpoint)``: the model of ``config`` (a path or a Config) with the
    checkpoint's weights. Where the checkpoint carries its training config (every checkpoint
    training writes does), the two are compared (see :mod:`~mmseg.apis.trained_config`): a model
    key that differs is an error, and for the clip settings (frames per clip, training dilation,
    class names and palette) the checkpoint's values are used, with one notice per key.
    ``init_segmentor(checkpoint)`` builds the model from the checkpoint's own training config.
    ``init_segmentor(config)`` gives random weights. A folder written by ``tools/publish_model.py``
    is a checkpoint (its ``config.py`` the training config; weights whose sha256 differs from its
    ``meta.json`` are refused).

    ``model.pretrained`` is ignored: the checkpoint holds the weights. The config is kept as
    ``model.cfg`` for :func:`inference_segmentor`; ``model.CLASSES`` and ``model.PALETTE`` are the
    class names and RGB colours of labels 0..K-1 (see :func:`dataset_classes`). With ``strict`` (the
    default) a checkpoint that leaves model tensors uninitialised, holds unknown ones or ones of
    another shape is a :class:`~mmseg.utils.errors.CheckpointError`; ``strict=False`` loads what
    fits and logs the rest.
    """
    if checkpoint is None and not isinstance(config, Config) and not _is_config_file(config):
        config, checkpoint = None, config  # init_segmentor(checkpoint)
    saved = path = weights = None
    if checkpoint is not None:
        path = resolve_checkpoint_path(checkpoint, 'init_segmentor checkpoint')
        weights = read_checkpoint(path, 'init_segmentor checkpoint')
        saved = saved_config(weights, path)
    if config is None:
        if saved is None:
            raise UsageError(f'init_segmentor({checkpoint!r}): the checkpoint carries no training '
                             f'config (meta["config"]); pass the config too: '
                             f'init_segmentor(CONFIG, CHECKPOINT)')
        cfg = saved
    else:
        cfg = load_config(config) if not isinstance(config, Config) else config
        if saved is not None:
            reconcile_with_checkpoint(cfg, saved, path=path, use_checkpoint=True,
                                      reason='what the model was trained with', strict=strict)
    cfg.model.pretrained = None
    model = build_segmentor(cfg.model)
    if weights is not None:
        apply_checkpoint(model, weights, path, strict=strict, source='init_segmentor checkpoint',
                         partial_hint='init_segmentor(..., strict=False)')
    model.cfg = cfg
    model.CLASSES, model.PALETTE = dataset_classes(saved if saved is not None else cfg)
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
                             f'{f.shape}' + ('; convert with (x * 255).round().astype(np.uint8) '
                                             'and BGR channel order'
                                             if f.dtype.kind == 'f' else ''))
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f'the frames of a clip must have one size, got '
                         f'{sorted({f.shape for f in frames})}')
    return dict(video='arrays', frames=[f'{i:05d}' for i in range(len(frames))],
                img_paths=[f'<array {i}>' for i in range(len(frames))], img=list(frames),
                seg_fields=[])


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
    """The test pipeline of ``model.cfg`` on a clip: ``img`` (list over augmentations of
    (T, 3, h, w)) and ``img_metas`` (list over augmentations of per-frame meta lists)."""
    if not frames:
        raise ValueError('inference_segmentor needs at least one frame')
    if getattr(model, 'cfg', None) is None:
        raise UsageError('the model has no cfg (its test pipeline); build it with '
                         'init_segmentor(config, ...)')
    steps = list(model.cfg.data.test.pipeline)
    if PIPELINES.resolve(steps[0])['type'] != 'LoadImageFromFile_clips':
        raise ValueError(f'the test pipeline must start with LoadImageFromFile_clips, got '
                         f'{steps[0]["type"]}')
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
