"""Stage-1 decoder: the multi-scale masked transformer decoder (Video Mask2Former's).

Q learnable queries attend, layer by layer and round-robin over the 1/32, 1/16 and 1/8 levels,
to the memory of all frames of a clip, masked by the previous layer's prediction; each layer is
cross-attention -> self-attention -> FFN (post-norm). Memory tokens are frame-major (t * hw + pixel).
"""
from typing import Dict, List, Tuple

import torch
from torch import nn

from ....builder import TRANSFORMER_DECODERS
from ....utils import MLP, c2_xavier_fill, fast_mode
from ..position_encoding import PositionEmbeddingSine3D
from .layers import (CrossAttentionLayer, FFNLayer, SelfAttentionLayer, blocked_positions,
                     resize_mask_features, unblock_full_rows)

NUM_FEATURE_LEVELS = 3


class MaskedDecoderBase(nn.Module):
    """What both decoders share: sublayer stacks, queries, level embedding, memory projections.

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
        transformer_in_feature, CONVS_DIM, MASK_DIM: keys of the original configs; CONVS_DIM must
            equal ``in_channels`` when given and MASK_DIM must equal ``mask_dim``.
    """

    def __init__(self, *, in_channels: int = 256, num_classes: int, hidden_dim: int = 256,
                 num_queries: int = 100, nheads: int = 8, dim_feedforward: int = 2048, dec_layers: int = 9,
                 pre_norm: bool = False, mask_dim: int = 256, enforce_input_project: bool = False,
                 num_frames: int = 1, transformer_in_feature: str = 'multi_scale_pixel_decoder',
                 CONVS_DIM: int = None, MASK_DIM: int = None) -> None:
        super().__init__()
        if pre_norm:
            raise ValueError('pre_norm=True is not supported: THE-Mask decoders are post-norm')
        if transformer_in_feature != 'multi_scale_pixel_decoder':
            raise ValueError(f'transformer_in_feature must be "multi_scale_pixel_decoder", '
                             f'got {transformer_in_feature!r}')
        if CONVS_DIM is not None and CONVS_DIM != in_channels:
            raise ValueError(f'CONVS_DIM={CONVS_DIM} differs from the pixel decoder width {in_channels}')
        if MASK_DIM is not None and MASK_DIM != mask_dim:
            raise ValueError(f'MASK_DIM={MASK_DIM} differs from mask_dim={mask_dim}')
        self.num_classes = num_classes
        self.num_heads = nheads
        self.num_layers = dec_layers
        self.num_queries = num_queries
        self.num_frames = num_frames
        self.dim_feedforward = dim_feedforward
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

    def clip_layout(self, num_images: int, num_clips: int) -> Tuple[int, int]:
        """(clips, frames per clip) of a batch of ``num_images`` frames from ``num_clips`` clips."""
        if num_clips <= 0 or num_images % num_clips:
            raise ValueError(f'{num_images} frames cannot be split into {num_clips} clips')
        frames = num_images // num_clips
        if self.training and frames != self.num_frames:
            raise ValueError(
                f'training clips have {frames} frames but the decoder was configured with num_frames='
                f'{self.num_frames}; set model.decode_head.transformer_decoder_cfg.num_frames={frames} '
                f'(or change data.train.dataset.dilation)')
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


@TRANSFORMER_DECODERS.register_module()
class MultiScaleMaskedTransformerDecoder(MaskedDecoderBase):
    """Stage-1 decoder; one prediction head (``decoder_norm``, ``class_embed``, ``mask_embed``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        hidden_dim = self.query_feat.embedding_dim
        self.decoder_norm = nn.LayerNorm(hidden_dim)

    def forward_prediction_heads(self, output: torch.Tensor, mask_features: torch.Tensor, size):
        """Class logits (b, Q, K+1), mask logits (b, Q, t, Hm, Wm) and the attention mask."""
        decoder_output = self.decoder_norm(output).transpose(0, 1)
        outputs_class = self.class_embed(decoder_output)
        outputs_mask = torch.einsum('bqc,btchw->bqthw', self.mask_embed(decoder_output), mask_features)
        return outputs_class, outputs_mask, self.heads_mask(blocked_positions(outputs_mask, size))

    def attention_mask_only(self, output: torch.Tensor, small_mask_features: torch.Tensor) -> torch.Tensor:
        """The next attention mask without the full-resolution prediction (fast inference)."""
        embedding = self.mask_embed(self.decoder_norm(output).transpose(0, 1))
        logits = torch.einsum('bqc,btchw->bqthw', embedding, small_mask_features)
        return self.heads_mask(blocked_positions(logits))

    def heads_mask(self, blocked: torch.Tensor) -> torch.Tensor:
        """(b, Q, t, h, w) -> (b * heads, Q, t*h*w): frame-major tokens, the same for every head."""
        return blocked.flatten(2).unsqueeze(1).repeat(1, self.num_heads, 1, 1).flatten(0, 1)

    def forward(self, x: List[torch.Tensor], mask_features: torch.Tensor, num_clips: int) -> Dict:
        """Decode ``num_clips`` clips from per-frame features (clip-major frames).

        Args:
            x: three maps (B*T, C, h_l, w_l) at strides 32, 16, 8.
            mask_features: (B*T, Cm, Hm, Wm).
            num_clips: B.

        Returns:
            ``pred_logits`` (B, Q, K+1), ``pred_masks`` (B, Q, T, Hm, Wm) and ``aux_outputs`` (the
            predictions before each layer; empty at fast inference).
        """
        bs, t = self.clip_layout(mask_features.shape[0], num_clips)
        src, pos, sizes = [], [], []
        for level in range(NUM_FEATURE_LEVELS):
            sizes.append(x[level].shape[-2:])
            s, p = self.memory(x, level, bs, t)
            # (b, t, E, hw) -> (t * hw, b, E): frame-major tokens, one batch item per clip
            src.append(s.permute(1, 3, 0, 2).flatten(0, 1))
            pos.append(p.permute(1, 3, 0, 2).flatten(0, 1))
        query_embed = self.query_embed.weight.unsqueeze(1).repeat(1, bs, 1)
        output = self.query_feat.weight.unsqueeze(1).repeat(1, bs, 1)
        mask_features = mask_features.view(bs, t, *mask_features.shape[1:])
        every_layer = self.predict_every_layer()
        small = None if every_layer else resize_mask_features(mask_features, sizes)
        predictions = []
        for i in range(self.num_layers + 1):
            if i > 0:
                level = (i - 1) % NUM_FEATURE_LEVELS
                attn_mask = unblock_full_rows(attn_mask)
                output = self.transformer_cross_attention_layers[i - 1](
                    output, src[level], attn_mask, pos=pos[level], query_pos=query_embed)
                output = self.transformer_self_attention_layers[i - 1](output, query_pos=query_embed)
                output = self.transformer_ffn_layers[i - 1](output)
            size = sizes[i % NUM_FEATURE_LEVELS]
            if every_layer or i == self.num_layers:
                outputs_class, outputs_mask, attn_mask = self.forward_prediction_heads(output, mask_features, size)
                predictions.append({'pred_logits': outputs_class, 'pred_masks': outputs_mask})
            else:
                attn_mask = self.attention_mask_only(output, small[i % NUM_FEATURE_LEVELS])
        return dict(predictions[-1], aux_outputs=predictions[:-1])
