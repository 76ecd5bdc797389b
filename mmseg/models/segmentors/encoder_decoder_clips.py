"""``EncoderDecoder_clips``: backbone + THE-Mask head on clips of frames (B, T, 3, H, W).

Training returns the loss terms (prefixed ``decode.``). Testing follows the original's ``whole``
inference - the head's stride-4 class maps are resized to the network input, then to each frame's
original size, then soft-maxed over classes (the original applied this softmax to probability
mixtures; it leaves the argmax unchanged) - with one difference: clips of one test batch are
decoded separately, so a batch of B clips gives the same result as B batches of one clip. The
testing steps after ``encode_frames`` and ``decode_clip`` are :class:`ClipPredictor`'s.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from ..builder import SEGMENTORS, build_backbone, build_head
from ..decode_heads.themask_base_head import FrameFeatures
from .clip_predictor import ClipPredictor


@SEGMENTORS.register_module()
class EncoderDecoder_clips(ClipPredictor, nn.Module):
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
            raise ValueError(f'train_cfg={train_cfg!r}: EncoderDecoder_clips has no training '
                             f'options (the configs give train_cfg=dict())')
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
            raise ValueError(f'expected clips (B, T, 3, H, W), got a tensor of shape '
                             f'{tuple(img.shape)}')
        return self.backbone(img.flatten(0, 1))

    def forward_train(self, img: torch.Tensor, img_metas, gt_semantic_seg: torch.Tensor,
                      iteration: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """Loss terms for clips ``img`` (B, T, 3, H, W) with labels (B, T, 1, H, W)."""
        if (gt_semantic_seg is None or gt_semantic_seg.shape[:2] != img.shape[:2]
                or gt_semantic_seg.dim() != 5):
            raise ValueError(f'gt_semantic_seg must be (B, T, 1, H, W) matching img '
                             f'{tuple(img.shape)}, got '
                             f'{None if gt_semantic_seg is None else tuple(gt_semantic_seg.shape)}')
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
            raise ValueError(f'expected frames (N, 3, H, W), got a tensor of shape '
                             f'{tuple(img.shape)}')
        return self.decode_head.encode_frames(self.backbone(img))

    def decode_clip(self, frames: Union[FrameFeatures, Sequence[FrameFeatures]],
                    target: Optional[int] = None, num_clips: int = 1) -> torch.Tensor:
        """The temporal decoder on the features of ``num_clips`` clips' frames (clip-major):
        class maps (B*T, K, H/4, W/4) at stride 4, or with ``target`` that frame's of each clip
        (B, K, H/4, W/4). Turn them into scores with :meth:`postprocess`."""
        features = frames if isinstance(frames, FrameFeatures) else FrameFeatures.cat(list(frames))
        return self.decode_head.decode_maps(features, num_clips, target)

    def forward(self, img, img_metas=None, return_loss: bool = True, gt_semantic_seg=None,
                iteration: Optional[int] = None, rescale: bool = True):
        """Losses when ``return_loss`` (training), else label maps (see ``forward_test``)."""
        if return_loss:
            return self.forward_train(img, img_metas, gt_semantic_seg, iteration)
        return self.forward_test(img, img_metas, rescale)
