"""Mix Transformer (MiT), the SegFormer backbone, and its variants ``mit_b0`` ... ``mit_b5``.

State-dict keys are SegFormer's (``patch_embed1.proj.weight``, ``block1.0.attn.kv.weight``,
``block1.0.mlp.dwconv.dwconv.weight``, ``norm1.weight``, ...), so the official ImageNet files
``mit_bX.pth`` load as they are. LayerNorm eps is 1e-6 in the blocks and stage norms and 1e-5 in the
patch embeddings and after the spatial-reduction conv, as in the original.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from ..builder import BACKBONES
from ..utils import DropPath, fast_mode, segformer_init
from .mit_weights import SEGFORMER_WEIGHTS_URL, load_mit_pretrained  # noqa: F401 (URL re-exported)


class DWConv(nn.Module):
    """Depthwise 3x3 convolution applied to a token sequence laid out as an H x W map."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, H, W)
        return self.dwconv(x).flatten(2).transpose(1, 2)


class MixFFN(nn.Module):
    """Linear -> depthwise 3x3 -> GELU -> Linear (the state_dict calls it ``mlp``)."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = DWConv(hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = self.act(self.dwconv(self.fc1(x), H, W))
        return self.drop(self.fc2(self.drop(x)))


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys and values come from a map reduced ``sr_ratio``
    times."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, sr_ratio: int = 1) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'dim {dim} must be divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(B, N, heads, C // heads).transpose(1, 2)
        if self.sr_ratio > 1:
            x = self.sr(x.transpose(1, 2).reshape(B, C, H, W)).flatten(2).transpose(1, 2)
            x = self.norm(x)
        k, v = self.kv(x).reshape(B, -1, 2, heads, C // heads).permute(2, 0, 3, 1, 4)
        if fast_mode():
            drop = self.attn_drop.p if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:
            attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            out = self.attn_drop(attn) @ v
        out = out.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out))


class Block(nn.Module):
    """Pre-norm transformer block: efficient self-attention and Mix-FFN, each with DropPath."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, drop: float,
                 attn_drop: float, drop_path: float, sr_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = EfficientSelfAttention(dim, num_heads, qkv_bias, attn_drop, drop, sr_ratio)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MixFFN(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), H, W))
        return x + self.drop_path(self.mlp(self.norm2(x), H, W))


class OverlapPatchEmbed(nn.Module):
    """Strided convolution with overlapping windows, then LayerNorm over the tokens."""

    def __init__(self, patch_size: int, stride: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-5)

    def forward(self, x: torch.Tensor):
        x = self.proj(x)
        H, W = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), H, W


class MixVisionTransformer(nn.Module):
    """The four-stage Mix Transformer; returns feature maps at strides 4, 8, 16 and 32.

    Args:
        in_chans: input channels.
        embed_dims: channels of the four stages.
        num_heads: attention heads per stage.
        mlp_ratios: Mix-FFN expansion per stage.
        qkv_bias: bias in the q and kv projections.
        drop_rate: dropout after the projections.
        attn_drop_rate: dropout on the attention probabilities.
        drop_path_rate: stochastic-depth rate, rising linearly over all blocks.
        depths: blocks per stage.
        sr_ratios: key/value spatial reduction per stage.
        pretrained: ImageNet weights loaded by ``init_weights`` (``mit_bX.pth``, a Hugging Face
            folder or a ``.safetensors`` file).
        with_cp: activation checkpointing of every block in training (``torch.utils.checkpoint``,
            non-reentrant, RNG state preserved): the block's activations are recomputed in the
            backward pass instead of kept, for less memory at the cost of one more block forward.
            Gradients are those of the plain run.
    """

    def __init__(self, *, in_chans: int = 3, embed_dims: Sequence[int] = (64, 128, 256, 512),
                 num_heads: Sequence[int] = (1, 2, 4, 8),
                 mlp_ratios: Sequence[float] = (4, 4, 4, 4),
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, depths: Sequence[int] = (3, 4, 6, 3),
                 sr_ratios: Sequence[int] = (8, 4, 2, 1), pretrained: Optional[str] = None,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        dpr = torch.linspace(0, drop_path_rate, sum(depths), device='cpu').tolist()
        start = 0
        for s in range(4):
            embed = OverlapPatchEmbed(patch_size=7 if s == 0 else 3, stride=4 if s == 0 else 2,
                                      in_chans=in_chans if s == 0 else embed_dims[s - 1],
                                      embed_dim=embed_dims[s])
            blocks = nn.ModuleList(
                Block(embed_dims[s], num_heads[s], mlp_ratios[s], qkv_bias, drop_rate,
                      attn_drop_rate, dpr[start + i], sr_ratios[s]) for i in range(depths[s]))
            start += depths[s]
            setattr(self, f'patch_embed{s + 1}', embed)
            setattr(self, f'block{s + 1}', blocks)
            setattr(self, f'norm{s + 1}', nn.LayerNorm(embed_dims[s], eps=1e-6))
        self.apply(segformer_init)
        if pretrained is not None:
            self.init_weights(pretrained)

    def init_weights(self, pretrained: Optional[str] = None) -> None:
        """Load ImageNet weights: a flat SegFormer ``mit_bX.pth``, a Hugging Face ``nvidia/mit-bX``
        folder or a ``.safetensors`` file (see ``mit_weights``); the classifier is ignored."""
        if pretrained is not None:
            load_mit_pretrained(self, pretrained, variant_name=type(self).__name__)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        outs = []
        checkpointed = self.with_cp and self.training and torch.is_grad_enabled()
        for s in range(1, 5):
            x, H, W = getattr(self, f'patch_embed{s}')(x)
            for blk in getattr(self, f'block{s}'):
                x = (cp.checkpoint(blk, x, H, W, use_reentrant=False) if checkpointed
                     else blk(x, H, W))
            x = getattr(self, f'norm{s}')(x)
            x = x.reshape(x.shape[0], H, W, -1).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
        return outs


class _MiTVariant(MixVisionTransformer):
    """A MiT with the fixed heads, ratios and reductions of the SegFormer variants."""

    arch: dict = {}

    def __init__(self, *, pretrained: Optional[str] = None, drop_path_rate: float = 0.1,
                 style: Optional[str] = None, with_cp: bool = False) -> None:
        # ``style`` is accepted because the original configs pass it; it has no effect.
        super().__init__(**self.arch, num_heads=[1, 2, 5, 8], mlp_ratios=[4, 4, 4, 4],
                         qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0,
                         drop_path_rate=drop_path_rate, sr_ratios=[8, 4, 2, 1],
                         pretrained=pretrained, with_cp=with_cp)


# SegFormer's variants: stage widths and blocks per stage (heads, ratios and reductions are shared).
MIT_VARIANTS = {
    'mit_b0': dict(embed_dims=[32, 64, 160, 256], depths=[2, 2, 2, 2]),
    'mit_b1': dict(embed_dims=[64, 128, 320, 512], depths=[2, 2, 2, 2]),
    'mit_b2': dict(embed_dims=[64, 128, 320, 512], depths=[3, 4, 6, 3]),
    'mit_b3': dict(embed_dims=[64, 128, 320, 512], depths=[3, 4, 18, 3]),
    'mit_b4': dict(embed_dims=[64, 128, 320, 512], depths=[3, 8, 27, 3]),
    'mit_b5': dict(embed_dims=[64, 128, 320, 512], depths=[3, 6, 40, 3]),
}


def _variant(name: str) -> type:
    """The registered backbone class ``name`` (a :class:`_MiTVariant` with its widths and
    depths)."""
    cls = type(name, (_MiTVariant,), {'arch': MIT_VARIANTS[name], '__module__': __name__,
                                      '__doc__': f'{name}: MiT with {MIT_VARIANTS[name]}.'})
    return BACKBONES.register_module(module=cls)


mit_b0, mit_b1, mit_b2, mit_b3, mit_b4, mit_b5 = (_variant(name) for name in MIT_VARIANTS)
