"""The skeleton both THE-Mask transformer decoders share (Mask2Former's masked decoder).

:class:`MaskedDecoderBase` builds the sublayer stacks, queries, level embedding and memory
projections, and runs the forward loop in one of two paths, chosen once per call:

- :meth:`~MaskedDecoderBase.forward_every_layer` (training and reference mode): lay out the memory
  of the three levels (1/32, 1/16, 1/8), make the initial queries, then a prediction before each
  of the ``num_layers`` decoder layers (round-robin over the levels) and after the last one; every
  prediction is kept (deep supervision);
- :meth:`~MaskedDecoderBase.forward_fast` (inference in fast mode): the same layers, but before
  each layer only the attention mask a prediction would imply, read from mask features already
  shrunk to the attention sizes, and one final prediction (optionally of one frame only).

A subclass says only what differs: how the memory is laid out, what the queries are, what one
decoder layer does with them, and what a prediction holds.
"""
import abc
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.utils.checkpoint as cp
from torch import nn

from ....utils import MLP, c2_xavier_fill, fast_mode
from ..position_encoding import PositionEmbeddingSine3D
from .layers import (
    CrossAttentionLayer,
    FFNLayer,
    SelfAttentionLayer,
    blocked_positions,
    resize_mask_features,
)

NUM_FEATURE_LEVELS = 3

State = Any  # the decoder's queries between layers (a subclass decides what they are)


class MaskFeatures(NamedTuple):
    """The per-pixel features the masks are read from, in the layouts the products need.

    ``frames`` is (b, t, C, h, w). ``channels_major`` is the same values as (b, C, t*h*w),
    contiguous, made once per forward in fast mode: every clip-mask product then multiplies it
    directly, where ``einsum`` would copy the features into that layout for each of the ten
    predictions (and copy each gradient back).
    """
    frames: torch.Tensor
    channels_major: Optional[torch.Tensor] = None


class MaskedDecoderBase(nn.Module, abc.ABC):
    """Sublayer stacks, queries, level embedding, memory projections and the forward loop.

    Args:
        in_channels: channels of the pixel decoder's multi-scale features.
        num_classes: K (logits have K + 1 entries, the last is "no object").
        hidden_dim: query width E.
        num_queries: Q.
        nheads: attention heads.
        dim_feedforward: FFN width.
        dec_layers: decoder layers (the configs pass the loss's ``dec_layers - 1``).
        pre_norm: must be False (THE-Mask uses post-norm only).
        mask_dim: mask-feature channels.
        enforce_input_project: project the memory even when in_channels == hidden_dim.
        num_frames: frames per training clip (checked against the input).
        with_cp: activation checkpointing of every decoder layer in training (non-reentrant
            ``torch.utils.checkpoint``, RNG state preserved, so dropout draws are replayed): less
            memory, one more layer forward in the backward pass, the plain run's gradients.

    The original configs' compatibility keys (``CONVS_DIM``, ``MASK_DIM``, ``pre_norm``,
    ``transformer_in_feature``) are read by the head's ``from_config``, not here.
    """

    def __init__(self, *, in_channels: int = 256, num_classes: int, hidden_dim: int = 256,
                 num_queries: int = 100, nheads: int = 8, dim_feedforward: int = 2048,
                 dec_layers: int = 9, mask_dim: int = 256, enforce_input_project: bool = False,
                 num_frames: int = 1, with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.num_classes = num_classes
        self.num_heads = nheads
        self.num_layers = dec_layers
        self.num_frames = num_frames
        self.pe_layer = PositionEmbeddingSine3D(hidden_dim // 2, normalize=True)
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden_dim, nheads) for _ in range(dec_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(hidden_dim, nheads) for _ in range(dec_layers))
        self.transformer_ffn_layers = nn.ModuleList(
            FFNLayer(hidden_dim, dim_feedforward) for _ in range(dec_layers))
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(NUM_FEATURE_LEVELS, hidden_dim)
        self.input_proj = nn.ModuleList()
        for _ in range(NUM_FEATURE_LEVELS):
            if in_channels != hidden_dim or enforce_input_project:
                proj = nn.Conv2d(in_channels, hidden_dim, kernel_size=1)
                c2_xavier_fill(proj)
                self.input_proj.append(proj)
            else:
                self.input_proj.append(nn.Sequential())
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)

    # ------------------------------------------------------------------ shared steps

    def clip_layout(self, num_images: int, num_clips: int) -> Tuple[int, int]:
        """(clips, frames per clip) of a batch of ``num_images`` frames from ``num_clips`` clips."""
        if num_clips <= 0 or num_images % num_clips:
            raise ValueError(f'{num_images} frames cannot be split into {num_clips} clips')
        frames = num_images // num_clips
        if self.training and frames != self.num_frames:
            raise ValueError(
                f'training clips have {frames} frames but the decoder was configured with '
                f'num_frames={self.num_frames}; set '
                f'model.decode_head.transformer_decoder_cfg.num_frames={frames} (or change '
                f'data.train.dataset.dilation)')
        return num_clips, frames

    def predict_every_layer(self) -> bool:
        """Full predictions after every layer: in training (deep supervision) and in reference mode.

        Otherwise intermediate layers only produce the next attention mask, from mask features
        resized to the attention size.
        """
        return self.training or not fast_mode()

    def memory(self, features: List[torch.Tensor], level: int, bs: int, t: int):
        """Projected memory + level embedding and its 3-D position, both (b, t, E, hw)."""
        x = features[level]
        h, w = x.shape[-2:]
        pos = self.pe_layer(x.view(bs, t, -1, h, w)).flatten(3)
        src = self.input_proj[level](x).flatten(2) + self.level_embed.weight[level][None, :, None]
        return src.view(bs, t, -1, h * w), pos

    def memory_levels(self, x: List[torch.Tensor], bs: int, t: int
                      ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """(values, keys) of the three levels in the layout the cross-attention reads: laid out
        once, contiguous, and the keys (memory + position) summed once per level, since the three
        layers that read a level share them."""
        values, keys = [], []
        for level in range(NUM_FEATURE_LEVELS):
            s, p = self.memory(x, level, bs, t)
            values.append(self.layout_memory(s).contiguous())
            keys.append(values[-1] + self.layout_memory(p))
        return values, keys

    def mask_logits(self, queries: torch.Tensor, features: MaskFeatures) -> torch.Tensor:
        """Mask logits (b, Q, t, h, w) of normalised queries (b, Q, E)."""
        if features.channels_major is None:
            return torch.einsum('bqc,btchw->bqthw', self.mask_embed(queries), features.frames)
        b, t, _, h, w = features.frames.shape
        return torch.bmm(self.mask_embed(queries), features.channels_major).view(b, -1, t, h, w)

    def attention_mask(self, state: State, small_mask_features: torch.Tensor) -> torch.Tensor:
        """The next attention mask without the full-resolution prediction (fast inference)."""
        logits = self.mask_logits(self.mask_queries(state), MaskFeatures(small_mask_features))
        return self.heads_mask(blocked_positions(logits))

    def forward(self, x: List[torch.Tensor], mask_features: torch.Tensor, num_clips: int, *,
                attention_features: Optional[List[torch.Tensor]] = None,
                frame: Optional[int] = None):
        """Decode ``num_clips`` clips from per-frame features (clip-major frames).

        Args:
            x: three maps (B*T, C, h_l, w_l) at strides 32, 16, 8.
            mask_features: (B*T, Cm, Hm, Wm); with ``frame`` at fast inference, those of that
                frame of each clip may be given alone, (B, Cm, Hm, Wm).
            num_clips: B.
            attention_features: fast inference: the mask features of every frame resized to the
                three attention sizes (:meth:`attention_features`); made here when not given.
            frame: fast inference: make the final prediction for this frame of each clip only
                (its queries still see every frame); the outputs then have one frame per clip.

        Returns:
            what :meth:`collect` makes of the predictions (see the subclass).
        """
        if self.predict_every_layer():
            if frame is not None:
                raise ValueError('frame= is for fast inference; where every layer predicts, every '
                                 'frame is predicted (select the frame from the outputs)')
            return self.forward_every_layer(x, mask_features, num_clips)
        return self.forward_fast(x, mask_features, num_clips, attention_features, frame)

    def forward_every_layer(self, x: List[torch.Tensor], mask_features: torch.Tensor,
                            num_clips: int):
        """Training and reference mode: a full prediction before every layer and after the last."""
        fast = fast_mode()
        bs, t = self.clip_layout(x[0].shape[0], num_clips)
        sizes = [level.shape[-2:] for level in x]
        values, keys = self.memory_levels(x, bs, t)
        state = self.initial_state(bs, t, values, keys)
        features = self.prediction_features(mask_features.view(bs, t, *mask_features.shape[1:]),
                                            fast)
        checkpointed = self.with_cp and self.training and torch.is_grad_enabled()
        prediction, attn_mask = self.predict(state, features, sizes[0])
        predictions = [prediction]
        for i in range(self.num_layers):
            level = i % NUM_FEATURE_LEVELS
            if checkpointed:
                state = cp.checkpoint(self.decoder_layer, i, state, values[level], keys[level],
                                      attn_mask, use_reentrant=False)
            else:
                state = self.decoder_layer(i, state, values[level], keys[level], attn_mask)
            # no layer reads the final prediction's attention mask: fast mode does not make it
            last = i == self.num_layers - 1
            size = None if last and fast else sizes[(i + 1) % NUM_FEATURE_LEVELS]
            prediction, attn_mask = self.predict(state, features, size)
            predictions.append(prediction)
        return self.collect(predictions)

    def forward_fast(self, x: List[torch.Tensor], mask_features: torch.Tensor, num_clips: int,
                     attention_features: Optional[List[torch.Tensor]] = None,
                     frame: Optional[int] = None):
        """Fast inference: attention masks from the shrunk mask features, one final prediction."""
        bs, t = self.clip_layout(x[0].shape[0], num_clips)
        if frame is not None:
            if not -t <= frame < t:
                raise ValueError(f'frame={frame} is outside clips of {t} frames')
            frame %= t
        if attention_features is None:
            attention_features = self.attention_features(mask_features,
                                                         [level.shape[-2:] for level in x])
        small = [f.view(bs, t, *f.shape[1:]) for f in attention_features]
        mask_features = mask_features.view(bs, -1, *mask_features.shape[1:])
        if frame is not None and mask_features.shape[1] == t:  # the target's alone are read
            mask_features = mask_features[:, frame:frame + 1]
        values, keys = self.memory_levels(x, bs, t)
        state = self.initial_state(bs, t, values, keys)
        attn_mask = self.attention_mask(state, small[0])
        for i in range(self.num_layers):
            level = i % NUM_FEATURE_LEVELS
            state = self.decoder_layer(i, state, values[level], keys[level], attn_mask)
            if i < self.num_layers - 1:
                attn_mask = self.attention_mask(state, small[(i + 1) % NUM_FEATURE_LEVELS])
        if frame is not None:
            state = self.frame_state(state, frame)
        prediction, _ = self.predict(state, self.prediction_features(mask_features, True), None)
        return self.collect([prediction])

    @staticmethod
    def prediction_features(mask_features: torch.Tensor, fast: bool) -> MaskFeatures:
        """The (b, t, C, h, w) mask features as the predictions read them."""
        return MaskFeatures(mask_features, mask_features.transpose(1, 2).flatten(2) if fast
                            else None)

    def attention_features(self, mask_features: torch.Tensor, sizes: Sequence[Tuple[int, int]]
                           ) -> Optional[List[torch.Tensor]]:
        """Mask features (N, Cm, Hm, Wm) resized to the attention ``sizes``, frame by frame
        (``forward_fast``'s ``attention_features``); None where every layer predicts (training,
        reference mode), which reads the full-size features instead."""
        if self.predict_every_layer():
            return None
        return [f.flatten(0, 1) for f in resize_mask_features(mask_features[:, None], sizes)]

    # ------------------------------------------------------------------ what a decoder says

    @abc.abstractmethod
    def layout_memory(self, tokens: torch.Tensor) -> torch.Tensor:
        """(b, t, E, hw) memory or position -> the (L, N, E) layout the cross-attention reads."""

    @abc.abstractmethod
    def initial_state(self, bs: int, t: int, values: Sequence[torch.Tensor],
                      keys: Sequence[torch.Tensor]) -> State:
        """The queries before the first decoder layer (``values``: the memory of each level,
        ``keys``: memory + position)."""

    @abc.abstractmethod
    def decoder_layer(self, index: int, state: State, value: torch.Tensor, key: torch.Tensor,
                      attn_mask: torch.Tensor) -> State:
        """Decoder layer ``index`` (cross-attention on one level's memory ``value`` with keys
        ``key`` = memory + position, self-attention, FFN)."""

    def frame_state(self, state: State, index: int) -> State:
        """The state a prediction of frame ``index`` alone reads (``forward(frame=...)``);
        queries of the whole clip need no change."""
        return state

    @abc.abstractmethod
    def mask_queries(self, state: State) -> torch.Tensor:
        """The normalised (b, Q, E) queries whose masks drive the attention."""

    @abc.abstractmethod
    def heads_mask(self, blocked: torch.Tensor) -> torch.Tensor:
        """Blocked positions (b, Q, t, h, w) -> the boolean attention mask of the next layer."""

    @abc.abstractmethod
    def predict(self, state: State, features: MaskFeatures,
                size) -> Tuple[Any, Optional[torch.Tensor]]:
        """(prediction, the next attention mask from masks resized to ``size``, or None when
        ``size`` is None)."""

    @abc.abstractmethod
    def collect(self, predictions: List[Any]) -> Dict:
        """The decoder's output from the predictions, the final one last."""
