"""What the stage-1 and stage-2 THE-Mask heads share: pixel decoder, predictor, criterion.

A head takes the four backbone maps (named res2..res5 by position), runs the pixel decoder and the
transformer decoder (``predictor``) and, in training, the criterion; at test time it turns the
mask-classification outputs into per-frame class-probability maps at stride 4.
"""
import abc
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..builder import LOSSES, PIXEL_DECODERS, TRANSFORMER_DECODERS
from ..utils import map_official_keys


def semantic_inference(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """softmax(logits) without the no-object column x sigmoid(masks), summed over queries.

    Args:
        logits: (b, Q, K+1).
        masks: (b, Q, t, h, w) mask logits.

    Returns:
        (b * t, K, h, w) probability mixtures, clip-major.
    """
    probs = F.softmax(logits, dim=-1)[..., :-1]
    semseg = torch.einsum('bqc,bqthw->btchw', probs, masks.sigmoid())
    return semseg.flatten(0, 1)


class THEMaskBaseHead(nn.Module, abc.ABC):
    """Shared part of ``THEMask1fHead`` and ``THEMaskHead``.

    Args:
        input_shape: ``{'res2': {'channels': C, 'stride': 4}, ...}`` of the backbone outputs.
        num_classes: K.
        pixel_decoder_cfg: config of the pixel decoder (``MSDeformAttnPixelDecoder``).
        transformer_decoder_cfg: config of the transformer decoder (the ``predictor``).
        loss_cfg: criterion settings (matcher weights, points, round weights, warm-up, ...).
        in_index: which backbone outputs are used; they must be the four maps in order.
        in_features: their names, res2..res5.
        ignore_value: label ignored by the targets (255).
        loss_weight: multiplies every loss term (1.0 as released).
        align_corners: for the segmentor's resizes (False as released).
    """

    criterion_stage: int = 0

    def __init__(self, *, input_shape: Dict[str, Dict[str, int]], num_classes: int,
                 pixel_decoder_cfg: Dict, transformer_decoder_cfg: Dict, loss_cfg: Dict,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 in_features: Sequence[str] = ('res2', 'res3', 'res4', 'res5'), ignore_value: int = 255,
                 loss_weight: float = 1.0, align_corners: bool = False) -> None:
        super().__init__()
        if list(in_index) != list(range(len(in_features))):
            raise ValueError(f'in_index {list(in_index)} must list the {len(in_features)} backbone outputs '
                             f'in order ({list(range(len(in_features)))}): they are named {list(in_features)} '
                             f'by position')
        unknown = [f for f in in_features if f not in input_shape]
        if unknown:
            raise KeyError(f'in_features {unknown} have no entry in input_shape {sorted(input_shape)}')
        self.in_features = list(in_features)
        self.num_classes = num_classes
        self.ignore_value = ignore_value
        self.loss_weight = loss_weight
        self.align_corners = align_corners
        pixel_cfg = dict(pixel_decoder_cfg)
        pixel_cfg['input_shape'] = {k: dict(input_shape[k]) for k in self.in_features}
        self.pixel_decoder = PIXEL_DECODERS.build(pixel_cfg)
        decoder_cfg = dict(transformer_decoder_cfg)
        decoder_cfg.setdefault('in_channels', pixel_cfg.get('conv_dim', 256))
        if decoder_cfg.get('num_classes', num_classes) != num_classes:
            raise ValueError(f'transformer_decoder_cfg.num_classes={decoder_cfg["num_classes"]} differs '
                             f'from the head num_classes={num_classes}')
        decoder_cfg['num_classes'] = num_classes
        self.predictor = TRANSFORMER_DECODERS.build(decoder_cfg)
        self.criterion = LOSSES.build(dict(type='THEMaskCriterion', stage=self.criterion_stage,
                                           num_classes=num_classes, ignore_value=ignore_value,
                                           **loss_cfg))
        # The original's base head built ``conv_seg`` (Conv2d(256, K, 1)) and never called it.
        map_official_keys(self, drops=['conv_seg.'])

    def frame_features(self, inputs: List[torch.Tensor]) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """The pixel decoder on the backbone maps of N frames: (multi-scale maps, mask features).

        It works frame by frame, so the features of a clip are those of its frames concatenated in
        clip order (what :class:`~mmseg.apis.OnlineSegmenter` caches).
        """
        features = dict(zip(self.in_features, inputs))
        mask_features, _, multi_scale = self.pixel_decoder.forward_features(features)
        return list(multi_scale), mask_features

    def decode_clip(self, multi_scale: List[torch.Tensor], mask_features: torch.Tensor, num_clips: int,
                    frame: Optional[int] = None, small_mask_features: Optional[List[torch.Tensor]] = None):
        """The transformer decoder (``predictor``) on the per-frame features of ``num_clips`` clips
        (``frame``: the final prediction of that frame of each clip only; ``small_mask_features``:
        see the predictor's ``forward``)."""
        return self.predictor(multi_scale, mask_features, num_clips, frame=frame,
                              small_mask_features=small_mask_features)

    def forward(self, inputs: List[torch.Tensor], num_clips: int):
        """Decoder outputs for ``num_clips`` clips from the backbone maps of their frames."""
        return self.decode_clip(*self.frame_features(inputs), num_clips)

    def forward_train(self, inputs: List[torch.Tensor], gt_semantic_seg: torch.Tensor,
                      iteration: Optional[int]) -> Dict[str, torch.Tensor]:
        """Loss terms for clips with labels ``gt_semantic_seg`` (B, T, 1, H, W)."""
        outputs = self.forward(inputs, num_clips=gt_semantic_seg.shape[0])
        losses = self.criterion(outputs, gt_semantic_seg, iteration=iteration)
        if self.loss_weight != 1.0:
            losses = {k: v * self.loss_weight for k, v in losses.items()}
        return losses

    def forward_test(self, inputs: List[torch.Tensor], num_clips: int) -> torch.Tensor:
        """Per-frame class probabilities (B*T, K, H/4, W/4), clip-major."""
        return self.semantic_map(self.forward(inputs, num_clips))

    @abc.abstractmethod
    def semantic_map(self, outputs) -> torch.Tensor:
        """Turn the predictor's outputs into (B*T, K, h, w) class probabilities."""
