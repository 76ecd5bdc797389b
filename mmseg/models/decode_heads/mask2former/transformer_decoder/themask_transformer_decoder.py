"""Stage-2 decoder: THE-Mask's temporal aggregation decoder.

Two query sets start from the same learnable ``query_feat``: one clip query per clip and one frame
query per frame. An initial temporal layer gives the clip queries a self-attention step and the
frame queries self-attention, unmasked cross-attention to their own frame's three levels, and an
FFN. Each decoder layer then refines the frame queries on their own frame only (masked by the clip
masks of that frame), and a shared ``combine`` module aggregates them over time into the clip
query. Stage-2 memory is (hw, t * b, E): every (frame, clip) pair is its own attention batch item,
frame-major (index tau * b + beta).
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ....builder import TRANSFORMER_DECODERS
from ....utils import MLP, map_official_keys
from .base import MaskedDecoderBase, MaskFeatures
from .layers import attend, blocked_positions, per_head, unblock_full_rows

# clip, frame queries, frame query positions
State = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class TemporalLayer(nn.Module):
    """The original's ``DeformableTransformerDecoderLayer`` (plain attention despite its name).

    ``forward`` is the initial temporal layer; ``combine`` is the temporal aggregation applied after
    every decoder layer with these same weights. ``reference_points`` of the original was never
    used and is not built.
    """

    def __init__(self, d_model: int = 256, d_ffn: int = 2048, dropout: float = 0.1,
                 n_heads: int = 8) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1_box = nn.Dropout(dropout)
        self.norm1_box = nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.self_attn_box = nn.MultiheadAttention(d_model, n_heads, dropout=dropout)
        self.dropout2_box = nn.Dropout(dropout)
        self.norm2_box = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.dropout3 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.dropout4 = nn.Dropout(dropout)
        self.norm3 = nn.LayerNorm(d_model)
        self.linear1_box = nn.Linear(d_model, d_ffn)
        self.dropout3_box = nn.Dropout(dropout)
        self.linear2_box = nn.Linear(d_ffn, d_model)
        self.dropout4_box = nn.Dropout(dropout)
        self.norm3_box = nn.LayerNorm(d_model)
        self.time_attention_weights = nn.Linear(d_model, 1)
        self.time_attention = nn.Linear(d_model, d_model)

    @staticmethod
    def _self_attention(attn: nn.MultiheadAttention, x: torch.Tensor,
                        query_pos: torch.Tensor) -> torch.Tensor:
        """(b, Q, E) queries attend to each other; returns (b, Q, E)."""
        q = k = (x + query_pos).transpose(0, 1)
        return attend(attn, q, k, x.transpose(0, 1)).transpose(0, 1)

    def forward(self, clip: torch.Tensor, query_pos: torch.Tensor, memory: torch.Tensor,
                memory_key: torch.Tensor, t: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Initial temporal layer.

        Args:
            clip: learnable queries (b, Q, E); both branches start from them.
            query_pos: (b, Q, E).
            memory, memory_key: the memory of the three levels of every frame concatenated,
                (S, t * b, E), and its keys (memory + position).
            t: frames per clip.

        Returns:
            clip queries (b, Q, E) and frame queries (b, t, Q, E).
        """
        b, q, e = clip.shape
        clip_out = self.norm2(clip + self.dropout2(self._self_attention(self.self_attn, clip,
                                                                         query_pos)))
        box = self.norm2_box(clip + self.dropout2_box(self._self_attention(self.self_attn_box, clip,
                                                                           query_pos)))
        query = (box + query_pos).transpose(0, 1).repeat(1, t, 1)  # (Q, t * b, E), frame-major
        cross = attend(self.cross_attn, query, memory_key, memory)
        cross = cross.transpose(0, 1).reshape(t, b, q, e).permute(1, 0, 2, 3)  # (b, t, Q, E)
        frames = self.norm1_box(box[:, None] + self.dropout1_box(cross))
        ffn = self.linear2_box(self.dropout3_box(F.relu(self.linear1_box(frames))))
        frames = self.norm3_box(frames + self.dropout4_box(ffn))
        return clip_out, frames

    def combine(self, clip: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Aggregate frame queries (b, t, Q, E) over time into the clip queries (b, Q, E)."""
        weights = self.time_attention_weights(frames).softmax(dim=1)  # (b, t, Q, 1), over frames
        aggregated = (weights * self.time_attention(frames)).sum(dim=1)
        clip = self.norm1(clip + self.dropout1(aggregated))
        ffn = self.linear2(self.dropout3(F.relu(self.linear1(clip))))
        return self.norm3(clip + self.dropout4(ffn))


@TRANSFORMER_DECODERS.register_module()
class VideoMultiScaleMaskedTransformerDecoder(MaskedDecoderBase):
    """Stage-2 decoder with clip-query (``*``) and frame-query (``*_aux``) prediction heads."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        hidden_dim = self.query_feat.embedding_dim
        mask_dim = self.mask_embed.layers[-1].out_features
        ffn_dim = self.transformer_ffn_layers[0].linear1.out_features
        self.temporal_layer = TemporalLayer(hidden_dim, ffn_dim, dropout=0.1,
                                            n_heads=self.num_heads)
        for p in self.temporal_layer.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for attn in (self.temporal_layer.cross_attn, self.temporal_layer.self_attn,
                     self.temporal_layer.self_attn_box):
            nn.init.constant_(attn.in_proj_bias, 0.0)
            nn.init.constant_(attn.out_proj.bias, 0.0)
        self.decoder_norm1 = nn.LayerNorm(hidden_dim)
        self.decoder_norm2 = nn.LayerNorm(hidden_dim)
        self.class_embed_aux = nn.Linear(hidden_dim, self.num_classes + 1)
        self.mask_embed_aux = MLP(hidden_dim, hidden_dim, mask_dim, 3)
        # The original's misspelled name, and its never-used reference_points Linear.
        map_official_keys(self, renames=[('deformabel_transformer_cross_attention_layers.',
                                          'temporal_layer.')],
                          drops=['deformabel_transformer_cross_attention_layers.reference_points.',
                                 'temporal_layer.reference_points.'])

    def layout_memory(self, tokens: torch.Tensor) -> torch.Tensor:
        """(b, t, E, hw) -> (hw, t * b, E): one attention batch item per (frame, clip)."""
        return tokens.permute(3, 1, 0, 2).flatten(1, 2)

    def initial_state(self, bs: int, t: int, values: Sequence[torch.Tensor],
                      keys: Sequence[torch.Tensor]) -> State:
        """The temporal layer's clip queries (b, Q, E), frame queries (b, t, Q, E) and the frame
        queries' positions (Q, t * b, E)."""
        query_pos = self.query_embed.weight.unsqueeze(0).repeat(bs, 1, 1)
        clip = self.query_feat.weight.unsqueeze(0).repeat(bs, 1, 1)
        clip, frames = self.temporal_layer(clip, query_pos, torch.cat(values), torch.cat(keys), t)
        return clip, frames, query_pos.transpose(0, 1).repeat(1, t, 1)

    def decoder_layer(self, index: int, state: State, value: torch.Tensor, key: torch.Tensor,
                      attn_mask: torch.Tensor) -> State:
        """Refine the frame queries on their own frame, then aggregate them into the clip
        queries."""
        clip, frames, frame_query_pos = state
        b, t, q, e = frames.shape
        out = frames.permute(2, 1, 0, 3).flatten(1, 2)  # (Q, t * b, E)
        out = self.transformer_cross_attention_layers[index](out, value, attn_mask, key=key,
                                                             query_pos=frame_query_pos)
        out = self.transformer_self_attention_layers[index](out, query_pos=frame_query_pos)
        out = self.transformer_ffn_layers[index](out)
        frames = out.view(q, t, b, e).permute(2, 1, 0, 3)  # (b, t, Q, E)
        return self.temporal_layer.combine(clip, frames), frames, frame_query_pos

    def frame_state(self, state: State, index: int) -> State:
        """Only frame ``index``'s frame queries (the clip queries stay)."""
        clip, frames, frame_query_pos = state
        return clip, frames[:, index:index + 1], frame_query_pos

    def mask_queries(self, state: State) -> torch.Tensor:
        """The clip queries: their masks drive the attention."""
        return self.decoder_norm1(state[0])

    def heads_mask(self, blocked: torch.Tensor) -> torch.Tensor:
        """(b, Q, t, h, w) clip-mask blocks -> (t * b, Q, h*w), fully blocked rows opened, per head
        (:func:`per_head`).

        Frame tau's queries are masked by the clip mask of frame tau; the batch index is
        tau * b + beta, as the frame-major memory.
        """
        blocked = blocked.flatten(3).permute(2, 0, 1, 3).flatten(0, 1)  # (t * b, Q, hw)
        return per_head(unblock_full_rows(blocked), self.num_heads)

    def predict(self, state: State, features: MaskFeatures, size):
        """Both branches' predictions and the next attention mask (from the clip masks; None
        without ``size``).

        The prediction is (clip logits (b, Q, K+1), clip masks (b, Q, t, Hm, Wm), frame logits
        (b*t, Q, K+1), frame masks (b*t, Q, 1, Hm, Wm)).
        """
        clip, frames, _ = state
        z = self.mask_queries(state)
        clip_masks = self.mask_logits(z, features)
        y = self.decoder_norm2(frames)
        frame_masks = torch.einsum('btqc,btchw->btqhw', self.mask_embed_aux(y), features.frames)
        prediction = (self.class_embed(z), clip_masks, self.class_embed_aux(y).flatten(0, 1),
                      frame_masks.flatten(0, 1).unsqueeze(2))
        return prediction, (None if size is None
                            else self.heads_mask(blocked_positions(clip_masks, size)))

    def collect(self, predictions: List[Tuple]) -> Tuple[Dict, Dict]:
        """(clip-branch outputs, frame-branch outputs): clip ``pred_logits`` (B, Q, K+1) and
        ``pred_masks`` (B, Q, T, Hm, Wm); frame ``pred_logits`` (B*T, Q, K+1) and ``pred_masks``
        (B*T, Q, 1, Hm, Wm); each with ``aux_outputs`` (the predictions before each layer; empty at
        fast inference)."""

        def branch(index: int) -> Dict:
            return {'pred_logits': predictions[-1][index], 'pred_masks': predictions[-1][index + 1],
                    'aux_outputs': [{'pred_logits': p[index], 'pred_masks': p[index + 1]}
                                    for p in predictions[:-1]]}

        return branch(0), branch(2)
