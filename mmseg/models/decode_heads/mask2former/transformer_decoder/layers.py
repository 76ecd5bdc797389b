"""Post-norm attention and FFN sublayers of the masked transformer decoders (Mask2Former's).

Token tensors are laid out (L, N, E) as ``nn.MultiheadAttention`` expects; boolean attention masks
use True for "may not attend". In fast mode the attention calls the fused kernel
(``need_weights=False``) and a mask shared by all heads stays (N, L, S): the kernel broadcasts it,
where ``nn.MultiheadAttention`` needs it repeated per head (N * heads, L, S) and then converts
every copy to an additive float mask. In reference mode the explicit softmax path the original ran.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ....utils import fast_mode


def attend(attn: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
           attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Run ``attn`` on (L, N, E) tensors, fused or explicit according to the global switch.

    ``attn_mask``: bool, (N * heads, L, S) as ``nn.MultiheadAttention`` takes it, or (N, L, S)
    shared by the heads (what :func:`per_head` gives in fast mode).
    """
    if fast_mode() and attn.num_heads > 1 and (attn_mask is None
                                               or attn_mask.shape[0] == query.shape[1]):
        return _attend_fused(attn, query, key, value, attn_mask)
    return attn(query, key, value, attn_mask=attn_mask, need_weights=not fast_mode())[0]


def _attend_fused(attn: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor,
                  value: torch.Tensor, blocked: Optional[torch.Tensor]) -> torch.Tensor:
    """``nn.MultiheadAttention``'s fused path, with one (N, L, S) mask broadcast over the heads and
    no bias on the memory side.

    The key bias adds q . b_k to every logit of a query's row, which the softmax cancels, so it is
    dropped; without attention dropout a row's weights sum to 1, so the value bias is added once
    to the (L, N, E) output (folded into the output projection's bias) instead of to all S values.
    Both are exact up to float rounding and spare two passes over the (S, N, E) memory.
    """
    length, batch, dim = query.shape
    heads = attn.num_heads
    w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
    b_q, _, b_v = attn.in_proj_bias.chunk(3)
    dropout = attn.dropout if attn.training else 0.0
    out_bias = attn.out_proj.bias
    if dropout == 0.0:
        out_bias = out_bias + F.linear(b_v, attn.out_proj.weight)
        b_v = None

    def split(x: torch.Tensor) -> torch.Tensor:  # (L, N, E) -> (N, heads, L, E / heads)
        return (x.view(x.shape[0], batch * heads, -1).transpose(0, 1)
                .view(batch, heads, x.shape[0], -1))

    q, k, v = (split(F.linear(x, w, b))
               for x, w, b in ((query, w_q, b_q), (key, w_k, None), (value, w_v, b_v)))
    mask = None if blocked is None else ~blocked[:, None]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
    out = out.permute(2, 0, 1, 3).reshape(length * batch, dim)
    return F.linear(out, attn.out_proj.weight, out_bias).view(length, batch, dim)


def per_head(mask: torch.Tensor, heads: int) -> torch.Tensor:
    """A mask (N, L, S) shared by the heads, in the form :func:`attend` takes: as it is in fast
    mode, repeated per head (N * heads, L, S; index n * heads + head) in reference mode."""
    return mask if fast_mode() else mask.repeat_interleave(heads, dim=0)


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
    """X <- LN(X + MHA(X + P, M + Pm, M; mask)); the memory position goes to the keys only.

    The caller passes the keys M + Pm: the decoders sum them once per level, for the layers that
    read it.
    """

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        _xavier_matrices(self)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, memory_mask: Optional[torch.Tensor],
                key: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        out = attend(self.multihead_attn, tgt + query_pos, key, memory, memory_mask)
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
        resized = F.interpolate(mask_logits.flatten(0, 1), size=size, mode='bilinear',
                                align_corners=False)
        mask_logits = resized.view(b, q, t, *resized.shape[-2:])
    return (mask_logits.sigmoid() < 0.5).detach()


def resize_mask_features(mask_features: torch.Tensor, sizes) -> list:
    """(b, t, C, H, W) mask features resized (bilinear) to each attention size.

    Mask logits are linear in the mask features, so ``einsum(embedding, resized features)``
    equals the resized full-resolution logits up to float rounding, at a fraction of the cost.
    """
    b, t = mask_features.shape[:2]
    frames = mask_features.flatten(0, 1)
    out = []
    for size in sizes:
        small = _shrink_bilinear(frames, size)
        out.append(small.view(b, t, *small.shape[1:]))
    return out


def _shrink_bilinear(x: torch.Tensor, size) -> torch.Tensor:
    """``F.interpolate(x, size, mode='bilinear', align_corners=False)`` (N, C, H, W).

    When ``size`` divides (H, W) by one even factor s, output pixel i sits at input position
    s * i + s / 2 - 0.5, halfway between pixels s * i + s / 2 - 1 and s * i + s / 2: the result is
    the mean of those 2 x 2 pixels of each s x s block, read by strided slicing (the same values
    up to float rounding, without the interpolation kernel's passes over the whole map).
    Symbolic sizes (``torch.export`` with dynamic shapes) take the interpolation: a strided slice
    needs a known factor.
    """
    (h, w), (oh, ow) = x.shape[-2:], tuple(size)
    if not all(isinstance(v, int) for v in (h, w, oh, ow)):
        return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)
    factor = h // oh if oh else 0
    if factor < 2 or factor % 2 or oh * factor != h or ow * factor != w:
        return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)
    lo, hi = factor // 2 - 1, factor // 2
    rows = x[..., lo::factor, :] + x[..., hi::factor, :]
    return (rows[..., lo::factor] + rows[..., hi::factor]) * 0.25
