"""Post-norm attention and FFN sublayers of the masked transformer decoders (Mask2Former's).

Token tensors are laid out (L, N, E) as ``nn.MultiheadAttention`` expects; boolean attention masks
use True for "may not attend". In fast mode the attention calls the fused kernel
(``need_weights=False``); in reference mode the explicit softmax path the original ran.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ....utils import fast_mode


def attend(attn: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
           attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Run ``attn`` on (L, N, E) tensors, fused or explicit according to the global switch."""
    return attn(query, key, value, attn_mask=attn_mask, need_weights=not fast_mode())[0]


def _xavier_matrices(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class SelfAttentionLayer(nn.Module):
    """X <- LN(X + MHA(X + P, X + P, X))."""

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        _xavier_matrices(self)

    def forward(self, tgt: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        q = k = tgt + query_pos
        return self.norm(tgt + self.dropout(attend(self.self_attn, q, k, tgt)))


class CrossAttentionLayer(nn.Module):
    """X <- LN(X + MHA(X + P, M + Pm, M; mask)); the memory position goes to the keys only."""

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        _xavier_matrices(self)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, memory_mask: Optional[torch.Tensor],
                pos: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        out = attend(self.multihead_attn, tgt + query_pos, memory + pos, memory, memory_mask)
        return self.norm(tgt + self.dropout(out))


class FFNLayer(nn.Module):
    """X <- LN(X + Lin2(ReLU(Lin1(X))))."""

    def __init__(self, d_model: int, dim_feedforward: int = 2048, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        _xavier_matrices(self)

    def forward(self, tgt: torch.Tensor) -> torch.Tensor:
        return self.norm(tgt + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(tgt))))))


def unblock_full_rows(mask: torch.Tensor) -> torch.Tensor:
    """Rows that would block every key are opened entirely (they attend everywhere)."""
    full = mask.all(dim=-1, keepdim=True)
    return mask & ~full


def blocked_positions(mask_logits: torch.Tensor, size=None) -> torch.Tensor:
    """Where sigmoid(mask logit) < 0.5, after resizing (B, Q, T, h, w) logits to ``size`` per frame.

    Returns a detached bool tensor (B, Q, T, h', w'). The sigmoid is computed before comparing,
    as the original: sigmoid(x) < 0.5 differs from x < 0 for tiny negative x in float32.
    """
    if size is not None:
        b, q, t = mask_logits.shape[:3]
        resized = F.interpolate(mask_logits.flatten(0, 1), size=size, mode='bilinear', align_corners=False)
        mask_logits = resized.view(b, q, t, *resized.shape[-2:])
    return (mask_logits.sigmoid() < 0.5).detach()


def resize_mask_features(mask_features: torch.Tensor, sizes) -> list:
    """(b, t, C, H, W) mask features resized (bilinear) to each attention size.

    Mask logits are linear in the mask features, so ``einsum(embedding, resized features)``
    equals the resized full-resolution logits up to float rounding, at a fraction of the cost.
    """
    b, t = mask_features.shape[:2]
    out = []
    for size in sizes:
        small = F.interpolate(mask_features.flatten(0, 1), size=size, mode='bilinear', align_corners=False)
        out.append(small.view(b, t, *small.shape[1:]))
    return out
