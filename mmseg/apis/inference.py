"""The Python API of mmseg 0.x: build a segmentor from a config and predict a clip of frames.

    model = init_segmentor('local_configs/themask/video_themask_mit_b1.py', 'latest.pth', device='cpu')
    labels = inference_segmentor(model, ['f0.jpg', 'f3.jpg'])   # one (H, W) uint8 map per frame
"""
import os
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..utils.checkpoint import load_checkpoint
from ..datasets.pipelines import Compose
from ..models import build_segmentor
from ..utils.config import Config, load_config

__all__ = ['init_segmentor', 'inference_segmentor']

Frame = Union[str, np.ndarray]


def init_segmentor(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: Union[str, torch.device] = 'cpu', *, strict: bool = True) -> nn.Module:
    """Build the segmentor of ``config`` (a path or a Config), load ``checkpoint``, move to ``device``.

    ``model.pretrained`` is ignored: the checkpoint holds the weights (random weights without one).
    The config is kept as ``model.cfg`` for :func:`inference_segmentor`. With ``strict`` (the default)
    a checkpoint that leaves model tensors uninitialised, holds unknown ones or ones of another shape
    is a :class:`~mmseg.utils.errors.CheckpointError`; ``strict=False`` loads what fits and logs the rest.
    """
    cfg = load_config(config) if isinstance(config, str) else config
    cfg.model.pretrained = None
    model = build_segmentor(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, strict=strict, source='init_segmentor checkpoint',
                        partial_hint='init_segmentor(..., strict=False)')
    model.cfg = cfg
    return model.to(device).eval()


def _clip_results(frames: Sequence[Frame]) -> dict:
    """The pipeline's starting dict for frame files, or (after loading) for BGR arrays."""
    if all(isinstance(f, str) for f in frames):
        names = [os.path.splitext(os.path.basename(f))[0] for f in frames]
        video = os.path.basename(os.path.dirname(os.path.abspath(frames[0])))
        return dict(video=video, frames=names, img_paths=list(frames), seg_fields=[])
    if not all(isinstance(f, np.ndarray) and f.ndim == 3 and f.shape[2] == 3 for f in frames):
        raise TypeError('frames must all be file paths or all (H, W, 3) uint8 BGR arrays')
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f'the frames of a clip must have one size, got {sorted({f.shape for f in frames})}')
    shape = frames[0].shape
    return dict(video='arrays', frames=[f'{i:05d}' for i in range(len(frames))],
                img_paths=[f'<array {i}>' for i in range(len(frames))], img=list(frames),
                filename=[f'<array {i}>' for i in range(len(frames))], ori_shape=shape, img_shape=shape,
                pad_shape=shape, scale_factor=np.ones(4, dtype=np.float32),
                img_norm_cfg=dict(mean=np.zeros(3, dtype=np.float32), std=np.ones(3, dtype=np.float32),
                                  to_rgb=False), seg_fields=[])


def inference_segmentor(model: nn.Module, frames: Sequence[Frame]) -> List[np.ndarray]:
    """Predict one clip: the test pipeline of ``model.cfg``, the model, then labels per frame.

    Args:
        model: from :func:`init_segmentor`.
        frames: the clip's frames in temporal order: file paths, or (H, W, 3) uint8 BGR arrays
            (as ``cv2.imread`` gives).

    Returns:
        one uint8 (H, W) label map per frame (0..K-1 in the shifted class space), at the frame size.
    """
    if not frames:
        raise ValueError('inference_segmentor needs at least one frame')
    steps = list(model.cfg.data.test.pipeline)
    results = _clip_results(frames)
    if 'img' in results:  # already loaded: skip the loading step
        if steps[0]['type'] != 'LoadImageFromFile_clips':
            raise ValueError(f'the test pipeline must start with LoadImageFromFile_clips, got {steps[0]["type"]}')
        steps = steps[1:]
    data = Compose(steps)(results)
    device = next(model.parameters()).device
    imgs = [img[None].to(device) for img in data['img']]
    metas = [[m] for m in data['img_metas']]
    with torch.no_grad():
        labels = model(return_loss=False, img=imgs, img_metas=metas)
    return list(labels[0])
