"""``EncoderDecoder_clips``: backbone + THE-Mask head on clips of frames (B, T, 3, H, W).

Training returns the loss terms (prefixed ``decode.``). Testing follows the original's ``whole``
inference - the head's stride-4 class maps are resized to the network input, then to each frame's
original size, then soft-maxed over classes (the original applied this softmax to probability
mixtures; it leaves the argmax unchanged) - with one difference: clips of one test batch are
decoded separately, so a batch of B clips gives the same result as B batches of one clip.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..builder import SEGMENTORS, build_backbone, build_head
from ..decode_heads.themask_base_head import FrameFeatures
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


@SEGMENTORS.register_module()
class EncoderDecoder_clips(nn.Module):
    """Backbone + decode head for video clips.

    Args:
        backbone: backbone config (``mit_b0`` ... ``mit_b5``).
        decode_head: head config (``THEMask1fHead`` or ``THEMaskHead``).
        train_cfg, test_cfg: the original's keys: ``train_cfg`` must be empty and ``test_cfg``
            ``dict(mode='whole')``.
        pretrained: SegFormer ImageNet weights for the backbone, or None.
        neck, auxiliary_head: not used by THE-Mask; must be None.
    """

    def __init__(self, *, backbone: Dict, decode_head: Dict, train_cfg: Optional[Dict] = None,
                 test_cfg: Optional[Dict] = None, pretrained: Optional[str] = None,
                 neck: Optional[Dict] = None, auxiliary_head: Optional[Dict] = None) -> None:
        super().__init__()
        if neck is not None or auxiliary_head is not None:
            raise ValueError('EncoderDecoder_clips has no neck or auxiliary head in THE-Mask; '
                             'remove model.neck / model.auxiliary_head from the config')
        if train_cfg:
            raise ValueError(f'train_cfg={train_cfg!r}: EncoderDecoder_clips has no training options '
                             f'(the configs give train_cfg=dict())')
        if dict(test_cfg or {}) not in ({}, {'mode': 'whole'}):
            raise ValueError(f'test_cfg={test_cfg!r} is not supported; THE-Mask tests with '
                             f'test_cfg=dict(mode="whole")')
        self.backbone = build_backbone(backbone)
        self.decode_head = build_head(decode_head)
        self.num_classes = self.decode_head.num_classes
        self.align_corners = self.decode_head.align_corners
        self.backbone.init_weights(pretrained)

    # ------------------------------------------------------------------ training
    def extract_feat(self, img: torch.Tensor) -> List[torch.Tensor]:
        """Backbone maps of every frame of (B, T, 3, H, W) clips, clip-major (B*T, C, h, w)."""
        if img.dim() != 5:
            raise ValueError(f'expected clips (B, T, 3, H, W), got a tensor of shape {tuple(img.shape)}')
        return self.backbone(img.flatten(0, 1))

    def forward_train(self, img: torch.Tensor, img_metas, gt_semantic_seg: torch.Tensor,
                      iteration: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """Loss terms for clips ``img`` (B, T, 3, H, W) with labels (B, T, 1, H, W)."""
        if gt_semantic_seg is None or gt_semantic_seg.shape[:2] != img.shape[:2] or gt_semantic_seg.dim() != 5:
            raise ValueError(f'gt_semantic_seg must be (B, T, 1, H, W) matching img {tuple(img.shape)}, '
                             f'got {None if gt_semantic_seg is None else tuple(gt_semantic_seg.shape)}')
        losses = self.decode_head.forward_train(self.extract_feat(img), gt_semantic_seg, iteration)
        return {f'decode.{k}': v for k, v in losses.items()}

    # ------------------------------------------------------------------ streaming steps
    def encode_frames(self, img: torch.Tensor) -> FrameFeatures:
        """Backbone and pixel decoder on N normalised frames (N, 3, H, W), each on its own.

        The result serves any clip those frames are part of: concatenate the features of a clip's
        frames in clip order (``FrameFeatures.cat``) and pass them to :meth:`decode_clip`. This is
        how :class:`~mmseg.apis.OnlineSegmenter` encodes each frame of a stream once.
        """
        if img.dim() != 4:
            raise ValueError(f'expected frames (N, 3, H, W), got a tensor of shape {tuple(img.shape)}')
        return self.decode_head.encode_frames(self.backbone(img))

    def decode_clip(self, frames: Union[FrameFeatures, Sequence[FrameFeatures]],
                    target: Optional[int] = None, num_clips: int = 1) -> torch.Tensor:
        """The temporal decoder on the features of ``num_clips`` clips' frames (clip-major):
        class maps (B*T, K, H/4, W/4) at stride 4, or with ``target`` that frame's of each clip
        (B, K, H/4, W/4). Turn them into scores with :meth:`postprocess`."""
        features = frames if isinstance(frames, FrameFeatures) else FrameFeatures.cat(list(frames))
        return self.decode_head.decode_maps(features, num_clips, target)

    def postprocess(self, maps: torch.Tensor, input_size: Sequence[int], metas: ClipMetas,
                    rescale: bool = True, probabilities: bool = True) -> torch.Tensor:
        """Stride-4 class maps of one clip's frames (T, K, h, w) -> scores at the original frame
        size (see :meth:`scores_from_maps`); ``input_size`` is the network input's (H, W)."""
        return self.scores_from_maps(self.resize_maps(maps, input_size), metas, rescale, probabilities)

    # ------------------------------------------------------------------ inference
    def encode_decode(self, img: torch.Tensor) -> torch.Tensor:
        """Head class maps of (B, T, 3, H, W) clips resized to (H, W): (B*T, K, H, W)."""
        if img.dim() != 5:
            raise ValueError(f'expected clips (B, T, 3, H, W), got a tensor of shape {tuple(img.shape)}')
        maps = self.decode_clip(self.encode_frames(img.flatten(0, 1)), num_clips=img.shape[0])
        return self.resize_maps(maps, img.shape[-2:])

    def resize_maps(self, maps: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """The head's stride-4 class maps (N, K, h, w) resized to the network input ``size``."""
        if fast_mode():  # channels-last makes the resize and the per-pixel argmax much faster on CPU
            maps = maps.contiguous(memory_format=torch.channels_last)
        return F.interpolate(maps, size=tuple(size), mode='bilinear', align_corners=self.align_corners)

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
            seg_logit = F.interpolate(seg_logit, size=size, mode='bilinear', align_corners=self.align_corners)
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
        return [self.scores_from_maps(seg_logit[i], metas[i], rescale, probabilities) for i in range(b)]

    def inference(self, img: torch.Tensor, img_meta, rescale: bool = True) -> torch.Tensor:
        """Per-frame class probabilities (B*T, K, H, W) of normalised clips (B, T, 3, H, W).

        ``img_meta`` gives ``ori_shape`` (and optionally ``img_shape``, ``flip``) as one dict or
        per clip / per frame. All clips must share their original size (else use ``clip_scores``).
        """
        scores = self.clip_scores(img, img_meta, rescale)
        if len({s.shape for s in scores}) > 1:
            raise ValueError('the clips of this batch have different original sizes; use clip_scores()')
        return torch.cat(scores)

    def simple_test(self, img: torch.Tensor, img_metas, rescale: bool = True) -> List[np.ndarray]:
        """Label maps, one uint8 array (T, H_ori, W_ori) per clip."""
        scores = self.clip_scores(img, img_metas, rescale, probabilities=False)
        return [s.argmax(dim=1).to(torch.uint8).cpu().numpy() for s in scores]

    def aug_test(self, imgs: Sequence[torch.Tensor], img_metas: Sequence, rescale: bool = True) -> List[np.ndarray]:
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

    def forward(self, img, img_metas=None, return_loss: bool = True, gt_semantic_seg=None,
                iteration: Optional[int] = None, rescale: bool = True):
        """Losses when ``return_loss`` (training), else label maps (see ``forward_test``)."""
        if return_loss:
            return self.forward_train(img, img_metas, gt_semantic_seg, iteration)
        return self.forward_test(img, img_metas, rescale)
