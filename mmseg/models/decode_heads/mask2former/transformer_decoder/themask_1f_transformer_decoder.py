"""Stage-1 decoder: the multi-scale masked transformer decoder (Video Mask2Former's).

Q learnable queries attend, layer by layer and round-robin over the 1/32, 1/16 and 1/8 levels,
to the memory of all frames of a clip, masked by the previous layer's prediction; each layer is
cross-attention -> self-attention -> FFN (post-norm). Memory tokens are frame-major (t * hw +
pixel).
"""
from typing import Dict, List, Tuple

import torch
from torch import nn

from ....builder import TRANSFORMER_DECODERS
from .base import MaskedDecoderBase, MaskFeatures
from .layers import blocked_positions, per_head, unblock_full_rows

State = Tuple[torch.Tensor, torch.Tensor]  # queries (Q, b, E) and their positions (Q, b, E)


@TRANSFORMER_DECODERS.register_module()
class MultiScaleMaskedTransformerDecoder(MaskedDecoderBase):
    """Stage-1 decoder; one prediction head (``decoder_norm``, ``class_embed``, ``mask_embed``).

    ``forward`` returns ``pred_logits`` (B, Q, K+1), ``pred_masks`` (B, Q, T, Hm, Wm) and
    ``aux_outputs`` (the predictions before each layer; empty at fast inference).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.decoder_norm = nn.LayerNorm(self.query_feat.embedding_dim)

    def layout_memory(self, tokens: torch.Tensor) -> torch.Tensor:
        """(b, t, E, hw) -> (t * hw, b, E): frame-major tokens, one batch item per clip."""
        return tokens.permute(1, 3, 0, 2).flatten(0, 1)

    def initial_state(self, bs: int, t: int, values, keys) -> State:
        return (self.query_feat.weight.unsqueeze(1).repeat(1, bs, 1),
                self.query_embed.weight.unsqueeze(1).repeat(1, bs, 1))

    def decoder_layer(self, index: int, state: State, value: torch.Tensor, key: torch.Tensor,
                      attn_mask: torch.Tensor) -> State:
        output, query_pos = state
        output = self.transformer_cross_attention_layers[index](
            output, value, unblock_full_rows(attn_mask), key=key, query_pos=query_pos)
        output = self.transformer_self_attention_layers[index](output, query_pos=query_pos)
        return self.transformer_ffn_layers[index](output), query_pos

    def mask_queries(self, state: State) -> torch.Tensor:
        return self.decoder_norm(state[0]).transpose(0, 1)

    def heads_mask(self, blocked: torch.Tensor) -> torch.Tensor:
        """(b, Q, t, h, w) -> (b, Q, t*h*w): frame-major tokens, the same for every head
        (:func:`per_head`)."""
        return per_head(blocked.flatten(2), self.num_heads)

    def predict(self, state: State, features: MaskFeatures, size):
        """Class logits (b, Q, K+1), mask logits (b, Q, t, Hm, Wm) and the attention mask (None
        without ``size``)."""
        queries = self.mask_queries(state)
        masks = self.mask_logits(queries, features)
        prediction = {'pred_logits': self.class_embed(queries), 'pred_masks': masks}
        return prediction, None if size is None else self.heads_mask(blocked_positions(masks, size))

    def collect(self, predictions: List[Dict]) -> Dict:
        return dict(predictions[-1], aux_outputs=predictions[:-1])
