"""Online (streaming) segmentation of a video, one frame at a time, with a per-frame feature cache.

    seg = OnlineSegmenter(model)           # model from init_segmentor
    for frame in frames:                   # paths or (H, W, 3) uint8 BGR arrays
        labels = seg(frame)                # (H, W) uint8 labels of this frame
    seg.reset()                            # before the next video

THE-Mask's backbone and pixel decoder work frame by frame; only the transformer decoder looks
across the frames of a clip. So each frame goes through ``model.encode_frames`` once, and its
features are kept for the frames later clips need; ``model.decode_clip`` then decodes the clip of
the newest frame from the cache, and ``model.postprocess`` turns its map into scores, as the
segmentor does for a whole clip. This class only manages the cache.
The clip of frame ``t`` is the one training uses: frames ``t + d`` for each ``d`` in the config's
``dilation``, then ``t`` last (unless 0 is in ``dilation``); indices before the first frame clamp
to 0, so the first frame repeats at the start of a video, as the training sampler does. The result
equals ``model.inference`` on that clip built by hand.
"""
from collections import deque
from typing import Deque, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..models.decode_heads.themask_base_head import FrameFeatures
from ..models.segmentors import ClipPredictor
from ..utils.errors import ConfigError, UsageError
from .inference import Frame, prepare_clip
from .trained_config import config_dilation, config_num_frames

__all__ = ['OnlineSegmenter', 'config_dilation', 'clip_offsets']


def clip_offsets(dilation: Sequence[int]) -> List[int]:
    """Offsets of a clip's frames from the target: ``dilation`` then 0 (unless 0 is in it)."""
    dilation = list(dilation)
    if not dilation or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d > 0
                           for d in dilation):
        raise UsageError(f'dilation must be a non-empty list of integers <= 0 (past frames), got '
                         f'{dilation!r}')
    dilation = [int(d) for d in dilation]
    return dilation + ([] if 0 in dilation else [0])


class OnlineSegmenter:
    """Segment a video frame by frame with the temporal context of training.

    Args:
        model: an ``EncoderDecoder_clips`` from :func:`~mmseg.apis.init_segmentor`, or its ONNX
            Runtime backend (``mmseg.apis.onnx_runtime``); its ``cfg`` gives the test pipeline and
            the training ``dilation``.
        dilation: reference-frame offsets (each <= 0) overriding the config's; ``[0]`` segments
            each frame alone (the stage-1 model).
    """

    def __init__(self, model: nn.Module, *, dilation: Optional[Sequence[int]] = None) -> None:
        if not isinstance(model, ClipPredictor):
            raise UsageError(f'OnlineSegmenter needs a THE-Mask segmentor (EncoderDecoder_clips, '
                             f'or its ONNX Runtime backend), got {type(model).__name__}')
        if dilation is None:
            dilation = config_dilation(getattr(model, 'cfg', None))
        if dilation is None:
            if config_num_frames(getattr(model, 'cfg', None)) not in (None, 1):
                raise ConfigError('the config gives no data.train...dilation; pass '
                                  'OnlineSegmenter(model, dilation=[...])')
            dilation = [0]
        self.model = model.eval()
        self.offsets = clip_offsets(dilation)
        self.target_index = self.offsets.index(0)
        self.span = 1 - min(self.offsets)  # frames the cache holds
        self._cache: Deque[FrameFeatures] = deque(maxlen=self.span)
        self._input_size: Optional[Tuple[int, int]] = None
        self.frame_index = -1

    @property
    def dilation(self) -> List[int]:
        return [d for d in self.offsets if d != 0] or [0]

    def reset(self) -> None:
        """Forget the cached frames: the next frame starts a new video."""
        self._cache.clear()
        self._input_size = None
        self.frame_index = -1

    def clip_indices(self, index: int) -> List[int]:
        """Frame indices of the clip of frame ``index`` (clamped at 0, target at its place)."""
        return [max(index + d, 0) for d in self.offsets]

    def _encode(self, frame: Frame) -> dict:
        data = prepare_clip(self.model, [frame])
        if len(data['img']) != 1:
            raise ConfigError(f'OnlineSegmenter needs a test pipeline with one scale and no flip, '
                              f'got {len(data["img"])} augmentations')
        device = next(self.model.parameters()).device
        img = data['img'][0].to(device)  # (1, 3, h, w)
        size = tuple(img.shape[-2:])
        if self._input_size is not None and size != self._input_size:
            raise UsageError(f'frame {self.frame_index + 1} has network input size {size} but the '
                             f'video so far {self._input_size}; call reset() before a new video')
        self._input_size = size
        self._cache.append(self.model.encode_frames(img))
        self.frame_index += 1
        return data['img_metas'][0][0]

    def __call__(self, frame: Frame, *, return_scores: bool = False
                 ) -> Union[np.ndarray, Tuple[np.ndarray, torch.Tensor]]:
        """Labels of ``frame`` (the newest frame of the video), uint8 (H, W) at the frame size.

        Args:
            frame: a file path or an (H, W, 3) uint8 BGR array (as ``cv2.imread`` gives).
            return_scores: also return the class probabilities, a (K, H, W) float tensor.
        """
        with torch.no_grad():
            meta = self._encode(frame)
            first = self.frame_index - len(self._cache) + 1
            clip = [self._cache[i - first] for i in self.clip_indices(self.frame_index)]
            # the final prediction of the target frame alone (its queries still see the whole clip)
            maps = self.model.decode_clip(clip, target=self.target_index)
            scores = self.model.postprocess(maps, self._input_size, [meta],
                                            probabilities=return_scores)[0]
            labels = scores.argmax(dim=0).to(torch.uint8).cpu().numpy()
        return (labels, scores) if return_scores else labels
