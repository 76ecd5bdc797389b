"""What the stage-1 and stage-2 THE-Mask heads share: pixel decoder, predictor, criterion.

A head takes the four backbone maps (named res2..res5 by position), runs the pixel decoder and the
transformer decoder (``predictor``) and, in training, the criterion; at test time it turns the
mask-classification outputs into per-frame class-probability maps at stride 4.
"""
import abc
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.errors import ConfigError
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


class FrameFeatures(NamedTuple):
    """What the backbone and the pixel decoder make of N frames, the input of the clip decoder.

    They work frame by frame, so the features of a clip are those of its frames concatenated in
    clip order (:meth:`cat`), and a stream can keep them per frame
    (:class:`~mmseg.apis.OnlineSegmenter`).

    Attributes:
        multi_scale: the three maps (N, C, h_l, w_l) at strides 32, 16, 8.
        mask_features: (N, Cm, Hm, Wm) at stride 4.
        attention_features: at fast inference, the mask features already resized to the three
            attention sizes, (N, Cm, h_l, w_l) each; None where every layer predicts (training,
            reference mode).
    """
    multi_scale: List[torch.Tensor]
    mask_features: torch.Tensor
    attention_features: Optional[List[torch.Tensor]] = None

    @staticmethod
    def cat(frames: Sequence['FrameFeatures']) -> 'FrameFeatures':
        """The features of several frames (or clips) in order, as one."""
        first = frames[0]
        if len(frames) == 1:
            return first
        small = (None if first.attention_features is None else
                 [torch.cat(level) for level in zip(*(f.attention_features for f in frames))])
        return FrameFeatures([torch.cat(level) for level in zip(*(f.multi_scale for f in frames))],
                             torch.cat([f.mask_features for f in frames]), small)


def _check_equal(what: str, value: Any, expected: Any, hint: str) -> None:
    if value is not None and value != expected:
        raise ConfigError(f'{what}={value!r} differs from {hint}={expected!r}; they must agree')


class THEMaskBaseHead(nn.Module, abc.ABC):
    """Shared part of ``THEMask1fHead`` and ``THEMaskHead``.

    Built from a config through :meth:`from_config` (the registry calls it), which turns the
    original's head config into the modules this constructor takes.

    Args:
        pixel_decoder: the pixel decoder (``MSDeformAttnPixelDecoder``).
        predictor: the transformer decoder.
        criterion: the training objective (``THEMaskCriterion``).
        in_features: names of the four backbone maps, res2..res5, in order.
        num_classes: K.
        ignore_value: label ignored by the targets (255).
        loss_weight: multiplies every loss term (1.0 as released).
        align_corners: for the segmentor's resizes (False as released).
    """

    criterion_stage: int = 0

    def __init__(self, *, pixel_decoder: nn.Module, predictor: nn.Module, criterion: nn.Module,
                 in_features: Sequence[str], num_classes: int, ignore_value: int = 255,
                 loss_weight: float = 1.0, align_corners: bool = False) -> None:
        super().__init__()
        self.in_features = list(in_features)
        self.num_classes = num_classes
        self.ignore_value = ignore_value
        self.loss_weight = loss_weight
        self.align_corners = align_corners
        self.pixel_decoder = pixel_decoder
        self.predictor = predictor
        self.criterion = criterion
        # The original's base head built ``conv_seg`` (Conv2d(256, K, 1)) and never called it.
        map_official_keys(self, drops=['conv_seg.'])

    @classmethod
    def from_config(cls, *, input_shape: Dict[str, Dict[str, int]], num_classes: int,
                    pixel_decoder_cfg: Dict, transformer_decoder_cfg: Dict, loss_cfg: Dict,
                    in_index: Sequence[int] = (0, 1, 2, 3),
                    in_features: Sequence[str] = ('res2', 'res3', 'res4', 'res5'),
                    ignore_value: int = 255, loss_weight: float = 1.0,
                    align_corners: bool = False) -> Dict[str, Any]:
        """The constructor's arguments from the original's head config (the one place that reads
        it).

        Args:
            input_shape: ``{'res2': {'channels': C, 'stride': 4}, ...}`` of the backbone outputs;
                the pixel decoder gets those of ``in_features``.
            num_classes: K, for the decoder and the criterion too.
            pixel_decoder_cfg: the pixel decoder's config.
            transformer_decoder_cfg: the decoder's config; its original compatibility keys are
                checked and dropped here: ``CONVS_DIM`` (= the pixel decoder's ``conv_dim``, the
                decoder's ``in_channels``), ``MASK_DIM`` (= both ``mask_dim``), ``num_classes``,
                ``pre_norm`` (False), ``transformer_in_feature`` ('multi_scale_pixel_decoder');
                ``dec_layers`` is the criterion's ``dec_layers`` - 1.
            loss_cfg: the criterion's settings.
            in_index: must list the four backbone outputs in order.
            in_features, ignore_value, loss_weight, align_corners: see the class.
        """
        if list(in_index) != list(range(len(in_features))):
            raise ConfigError(f'in_index {list(in_index)} must list the {len(in_features)} '
                              f'backbone outputs in order ({list(range(len(in_features)))}): they '
                              f'are named {list(in_features)} by position')
        unknown = [f for f in in_features if f not in input_shape]
        if unknown:
            raise ConfigError(f'in_features {unknown} have no entry in input_shape '
                              f'{sorted(input_shape)}')
        pixel = dict(pixel_decoder_cfg, input_shape={k: dict(input_shape[k]) for k in in_features})
        decoder = dict(transformer_decoder_cfg)
        conv_dim, mask_dim = pixel.get('conv_dim', 256), pixel.get('mask_dim', 256)
        key = 'transformer_decoder_cfg'
        if decoder.pop('pre_norm', False):
            raise ConfigError(f'{key}.pre_norm=True is not supported: THE-Mask decoders are '
                              f'post-norm')
        feature = decoder.pop('transformer_in_feature', 'multi_scale_pixel_decoder')
        if feature != 'multi_scale_pixel_decoder':
            raise ConfigError(f'{key}.transformer_in_feature must be "multi_scale_pixel_decoder", '
                              f'got {feature!r}')
        _check_equal(f'{key}.CONVS_DIM', decoder.pop('CONVS_DIM', None), conv_dim,
                     'pixel_decoder_cfg.conv_dim')
        _check_equal(f'{key}.in_channels', decoder.get('in_channels'), conv_dim,
                     'pixel_decoder_cfg.conv_dim')
        _check_equal(f'{key}.MASK_DIM', decoder.pop('MASK_DIM', None), mask_dim,
                     'pixel_decoder_cfg.mask_dim')
        _check_equal(f'{key}.mask_dim', decoder.get('mask_dim'), mask_dim,
                     'pixel_decoder_cfg.mask_dim')
        _check_equal(f'{key}.num_classes', decoder.get('num_classes'), num_classes,
                     'the head\'s num_classes')
        if loss_cfg.get('deep_supervision', True) and 'dec_layers' in loss_cfg:
            _check_equal(f'{key}.dec_layers', decoder.get('dec_layers'), loss_cfg['dec_layers'] - 1,
                         'loss_cfg.dec_layers - 1 (one prediction before the first layer)')
        decoder.update(in_channels=conv_dim, mask_dim=mask_dim, num_classes=num_classes)
        criterion = dict(loss_cfg, type='THEMaskCriterion', stage=cls.criterion_stage,
                         num_classes=num_classes, ignore_value=ignore_value)
        return dict(pixel_decoder=PIXEL_DECODERS.build(pixel),
                    predictor=TRANSFORMER_DECODERS.build(decoder),
                    criterion=LOSSES.build(criterion), in_features=in_features,
                    num_classes=num_classes, ignore_value=ignore_value, loss_weight=loss_weight,
                    align_corners=align_corners)

    def encode_frames(self, inputs: List[torch.Tensor]) -> FrameFeatures:
        """The pixel decoder on the backbone maps of N frames (and, at fast inference, the mask
        features at the attention sizes)."""
        features = dict(zip(self.in_features, inputs))
        mask_features, _, multi_scale = self.pixel_decoder.forward_features(features)
        multi_scale = list(multi_scale)
        small = self.predictor.attention_features(mask_features,
                                                  [m.shape[-2:] for m in multi_scale])
        return FrameFeatures(multi_scale, mask_features, small)

    def decode(self, features: FrameFeatures, num_clips: int, target: Optional[int] = None):
        """The transformer decoder (``predictor``) on the frame features of ``num_clips`` clips.

        ``target``: at fast inference, the final prediction is made for that frame of each clip
        only (its queries still see the whole clip), and ``features.mask_features`` may hold that
        frame's alone. Where every layer predicts, all frames are predicted (pick the target's
        map from :meth:`decode_maps`).
        """
        return self.predictor(features.multi_scale, features.mask_features, num_clips,
                              attention_features=features.attention_features, frame=target)

    def decode_maps(self, features: FrameFeatures, num_clips: int, target: Optional[int] = None
                    ) -> torch.Tensor:
        """Per-frame class maps (B*T, K, H/4, W/4), clip-major; with ``target`` that frame's of each
        clip, (B, K, H/4, W/4)."""
        if target is not None and self.predictor.predict_every_layer():
            maps = self.semantic_map(self.decode(features, num_clips))
            return maps.view(num_clips, -1, *maps.shape[1:])[:, target]
        return self.semantic_map(self.decode(features, num_clips, target))

    def forward(self, inputs: List[torch.Tensor], num_clips: int):
        """Decoder outputs for ``num_clips`` clips from the backbone maps of their frames."""
        return self.decode(self.encode_frames(inputs), num_clips)

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
        return self.decode_maps(self.encode_frames(inputs), num_clips)

    @abc.abstractmethod
    def semantic_map(self, outputs) -> torch.Tensor:
        """Turn the predictor's outputs into (B*T, K, h, w) class probabilities."""
