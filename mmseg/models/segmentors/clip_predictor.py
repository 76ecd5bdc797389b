"""``ClipPredictor``: test-time inference of a clip segmentor from its two streaming steps.

``encode_frames`` (normalised frames -> :class:`FrameFeatures`) and ``decode_clip`` (features ->
stride-4 class maps) are the network; everything after them is here: the maps resized to the
network input, then to each frame's original size (padding dropped, flips undone), soft-maxed over
classes, labels, test-time augmentation. :class:`EncoderDecoder_clips` (PyTorch) and
``OnnxRuntimeSegmentor`` (ONNX Runtime, ``mmseg.apis.onnx_runtime``) share it, so an exported
model is post-processed by this very code.
"""
from typing import Dict, List, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..utils import fast_mode

FrameMeta = Dict
ClipMetas = Sequence[FrameMeta]


def _clip_metas(img_metas, num_clips: int, num_frames: int) -> List[List[FrameMeta]]:
    """Accept metas as one dict, a list of dicts per clip or per frame, or a B x T nested list."""
    if isinstance(img_metas, dict):
        return [[img_metas] * num_frames for _ in range(num_clips)]
    metas = list(img_metas)
    if len(metas) != num_clips:
        raise ValueError(f'{len(metas)} img_metas entries for {num_clips} clips')
    return [[m] * num_frames if isinstance(m, dict) else list(m) for m in metas]


class ClipPredictor:
    """Inference on clips (B, T, 3, H, W) from ``encode_frames`` and ``decode_clip``.

    A subclass provides those two steps (see :class:`EncoderDecoder_clips`), ``num_classes`` and
    ``align_corners``. Clips of one batch are decoded separately, so a batch of B clips gives the
    same result as B batches of one clip.
    """

    def postprocess(self, maps: torch.Tensor, input_size: Sequence[int], metas: ClipMetas,
                    rescale: bool = True, probabilities: bool = True) -> torch.Tensor:
        """Stride-4 class maps of one clip's frames (T, K, h, w) -> scores at the original frame
        size (see :meth:`scores_from_maps`); ``input_size`` is the network input's (H, W)."""
        return self.scores_from_maps(self.resize_maps(maps, input_size), metas, rescale,
                                     probabilities)

    def encode_decode(self, img: torch.Tensor) -> torch.Tensor:
        """Head class maps of (B, T, 3, H, W) clips resized to (H, W): (B*T, K, H, W)."""
        if img.dim() != 5:
            raise ValueError(f'expected clips (B, T, 3, H, W), got a tensor of shape '
                             f'{tuple(img.shape)}')
        maps = self.decode_clip(self.encode_frames(img.flatten(0, 1)), num_clips=img.shape[0])
        return self.resize_maps(maps, img.shape[-2:])

    def resize_maps(self, maps: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """The head's stride-4 class maps (N, K, h, w) resized to the network input ``size``."""
        if fast_mode():  # channels-last: the resize and the per-pixel argmax run much faster on CPU
            maps = maps.contiguous(memory_format=torch.channels_last)
        return F.interpolate(maps, size=tuple(size), mode='bilinear',
                             align_corners=self.align_corners)

    def scores_from_maps(self, seg_logit: torch.Tensor, metas: ClipMetas, rescale: bool,
                         probabilities: bool = True) -> torch.Tensor:
        """(T, K, H, W) maps of one clip (or of some of its frames) -> scores at the original size,
        un-flipped.

        With ``probabilities`` the maps are soft-maxed over classes (the original's score map);
        without, in fast mode, the softmax is skipped (it does not change the argmax), and so is a
        resize to the size the maps already have (an exact identity).
        """
        meta = metas[0]
        if 'img_shape' in meta:
            h, w = meta['img_shape'][:2]
            seg_logit = seg_logit[..., :h, :w]  # drop padding, if the pipeline padded
        shortcut = fast_mode() and not probabilities
        size = tuple(meta['ori_shape'][:2])
        if rescale and not (shortcut and tuple(seg_logit.shape[-2:]) == size):
            seg_logit = F.interpolate(seg_logit, size=size, mode='bilinear',
                                      align_corners=self.align_corners)
        scores = seg_logit if shortcut else F.softmax(seg_logit, dim=1)
        if meta.get('flip', False):
            direction = meta.get('flip_direction', 'horizontal')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(f'unknown flip_direction {direction!r}')
            scores = scores.flip(dims=(3,) if direction == 'horizontal' else (2,))
        return scores

    def clip_scores(self, img: torch.Tensor, img_metas, rescale: bool = True,
                    probabilities: bool = True) -> List[torch.Tensor]:
        """Per-clip class scores: a list of B tensors (T, K, H_ori, W_ori), soft-maxed over classes
        (unless ``probabilities=False`` in fast mode, for an argmax)."""
        b, t = img.shape[:2]
        metas = _clip_metas(img_metas, b, t)
        seg_logit = self.encode_decode(img).view(b, t, self.num_classes, *img.shape[-2:])
        return [self.scores_from_maps(seg_logit[i], metas[i], rescale, probabilities)
                for i in range(b)]

    def inference(self, img: torch.Tensor, img_meta, rescale: bool = True) -> torch.Tensor:
        """Per-frame class probabilities (B*T, K, H, W) of normalised clips (B, T, 3, H, W).

        ``img_meta`` gives ``ori_shape`` (and optionally ``img_shape``, ``flip``) as one dict or
        per clip / per frame. All clips must share their original size (else use ``clip_scores``).
        """
        scores = self.clip_scores(img, img_meta, rescale)
        if len({s.shape for s in scores}) > 1:
            raise ValueError('the clips of this batch have different original sizes; use '
                             'clip_scores()')
        return torch.cat(scores)

    def simple_test(self, img: torch.Tensor, img_metas, rescale: bool = True) -> List[np.ndarray]:
        """Label maps, one uint8 array (T, H_ori, W_ori) per clip."""
        scores = self.clip_scores(img, img_metas, rescale, probabilities=False)
        return [s.argmax(dim=1).to(torch.uint8).cpu().numpy() for s in scores]

    def aug_test(self, imgs: Sequence[torch.Tensor], img_metas: Sequence,
                 rescale: bool = True) -> List[np.ndarray]:
        """Average the soft-maxed scores of several augmentations (scales, flips), then argmax."""
        total = None
        for img, metas in zip(imgs, img_metas):
            scores = self.clip_scores(img, metas, rescale)
            total = scores if total is None else [a + s for a, s in zip(total, scores)]
        return [(s / len(imgs)).argmax(dim=1).to(torch.uint8).cpu().numpy() for s in total]

    def forward_test(self, img: Union[torch.Tensor, Sequence[torch.Tensor]], img_metas,
                     rescale: bool = True) -> List[np.ndarray]:
        """``img``: a list over augmentations of (B, T, 3, H, W) clips (or one tensor)."""
        if isinstance(img, torch.Tensor):
            return self.simple_test(img, img_metas, rescale)
        if len(img) != len(img_metas):
            raise ValueError(f'{len(img)} augmentations of img but {len(img_metas)} of img_metas')
        if len(img) == 1:
            return self.simple_test(img[0], img_metas[0], rescale)
        return self.aug_test(img, img_metas, rescale)
