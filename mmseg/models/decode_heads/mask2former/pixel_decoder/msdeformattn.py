"""Mask2Former's multi-scale deformable-attention pixel decoder (``MSDeformAttnPixelDecoder``).

Three levels (res5, res4, res3 - coarse to fine) are projected to ``conv_dim`` with GroupNorm(32),
refined by a deformable-attention encoder, and one FPN level on res2 gives the stride-4
``mask_features``. The whole decoder runs in float32, also under autocast (as the original).

The level shapes are Python ints taken from the inputs' ``.shape`` (never read back from a tensor),
so ``forward_features`` compiles with ``torch.compile(fullgraph=True)`` and exports with
``torch.export`` when the deformable-attention op is built.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from ....builder import PIXEL_DECODERS
from ....utils import ConvNormAct, c2_xavier_fill, group_norm
from ..position_encoding import PositionEmbeddingSine
from .ops.modules import MSDeformAttn


def _long_tensor(values: Sequence[int], device: torch.device) -> torch.Tensor:
    """``torch.as_tensor(values)`` (int64, 1-D); symbolic sizes (``torch.export`` with dynamic
    shapes) stay symbolic in the graph, where ``as_tensor`` would fix them to the example's."""
    if all(isinstance(v, int) for v in values):
        return torch.as_tensor(values, dtype=torch.long, device=device)
    return torch.stack([torch.full((), v, dtype=torch.long, device=device) for v in values])


class MSDeformAttnTransformerEncoderLayer(nn.Module):
    """Post-norm encoder layer: deformable self-attention, then a ReLU FFN."""

    def __init__(self, d_model: int = 256, d_ffn: int = 1024, dropout: float = 0.1,
                 n_levels: int = 4, n_heads: int = 8, n_points: int = 4) -> None:
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.dropout2 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.dropout3 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, src: torch.Tensor, pos: torch.Tensor, reference_points: torch.Tensor,
                spatial_shapes: torch.Tensor, level_start_index: torch.Tensor, *,
                level_shapes: Optional[Sequence[Tuple[int, int]]] = None) -> torch.Tensor:
        attn = self.self_attn(src + pos, reference_points, src, spatial_shapes, level_start_index,
                              level_shapes=level_shapes)
        src = self.norm1(src + self.dropout1(attn))
        ffn = self.linear2(self.dropout2(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout3(ffn))


class MSDeformAttnEncoder(nn.Module):
    """A stack of encoder layers over the flattened levels (``encoder.layers.{i}``)."""

    def __init__(self, num_layers: int, with_cp: bool = False, **layer_kwargs) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.layers = nn.ModuleList(MSDeformAttnTransformerEncoderLayer(**layer_kwargs)
                                    for _ in range(num_layers))

    @staticmethod
    def reference_points(spatial_shapes: Sequence[Tuple[int, int]], batch: int,
                         device: torch.device) -> torch.Tensor:
        """Pixel centres ((j + 0.5) / W, (i + 0.5) / H) of every token, the same for every level.

        ``arange + 0.5`` gives the original's ``linspace(0.5, h - 0.5, h)`` exactly, and keeps the
        token count symbolic under ``torch.export`` (``linspace`` fixes it to the example's)."""
        points = []
        for h, w in spatial_shapes:
            ref_y, ref_x = torch.meshgrid(
                torch.arange(h, dtype=torch.float32, device=device) + 0.5,
                torch.arange(w, dtype=torch.float32, device=device) + 0.5, indexing='ij')
            points.append(torch.stack((ref_x.reshape(-1) / w, ref_y.reshape(-1) / h), -1))
        ref = torch.cat(points, 0)  # (S, 2)
        return ref[None, :, None, :].expand(batch, -1, len(spatial_shapes), -1)

    def forward(self, src: torch.Tensor, pos: torch.Tensor, spatial_shapes: torch.Tensor,
                level_start_index: torch.Tensor,
                shapes: Optional[Sequence[Tuple[int, int]]] = None) -> torch.Tensor:
        """``shapes``: the rows of ``spatial_shapes`` as Python ints (read from the tensor, a
        graph break under ``torch.compile``, when omitted)."""
        if shapes is None:
            shapes = [tuple(s) for s in spatial_shapes.tolist()]
        reference_points = self.reference_points(shapes, src.shape[0], src.device)
        checkpointed = self.with_cp and self.training and torch.is_grad_enabled()
        for layer in self.layers:
            if checkpointed:
                src = cp.checkpoint(layer, src, pos, reference_points, spatial_shapes,
                                    level_start_index, use_reentrant=False, level_shapes=shapes)
            else:
                src = layer(src, pos, reference_points, spatial_shapes, level_start_index,
                            level_shapes=shapes)
        return src


class MSDeformAttnTransformerEncoderOnly(nn.Module):
    """Flattens the levels, adds the level embedding to the query positions, runs the encoder."""

    def __init__(self, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 6,
                 dim_feedforward: int = 1024, dropout: float = 0.1, num_feature_levels: int = 4,
                 enc_n_points: int = 4, with_cp: bool = False) -> None:
        super().__init__()
        self.encoder = MSDeformAttnEncoder(num_encoder_layers, with_cp=with_cp, d_model=d_model,
                                           d_ffn=dim_feedforward, dropout=dropout,
                                           n_levels=num_feature_levels, n_heads=nhead,
                                           n_points=enc_n_points)
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, d_model))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for module in self.modules():
            if isinstance(module, MSDeformAttn):
                module._reset_parameters()
        nn.init.normal_(self.level_embed)

    def forward(self, srcs: List[torch.Tensor], pos_embeds: List[torch.Tensor]):
        """Return (memory (N, S, C), spatial_shapes (L, 2), level_start_index (L,))."""
        src_flatten, pos_flatten, shapes = [], [], []
        for lvl, (src, pos) in enumerate(zip(srcs, pos_embeds)):
            shapes.append((src.shape[-2], src.shape[-1]))
            src_flatten.append(src.flatten(2).transpose(1, 2))
            pos_flatten.append(pos.flatten(2).transpose(1, 2)
                               + self.level_embed[lvl].view(1, 1, -1))
        starts = [0]
        for h, w in shapes[:-1]:
            starts.append(starts[-1] + h * w)
        device = srcs[0].device
        spatial_shapes = torch.stack([_long_tensor(shape, device) for shape in shapes])
        level_start_index = _long_tensor(starts, device)
        memory = self.encoder(torch.cat(src_flatten, 1), torch.cat(pos_flatten, 1), spatial_shapes,
                              level_start_index, shapes=shapes)
        return memory, spatial_shapes, level_start_index


@PIXEL_DECODERS.register_module()
class MSDeformAttnPixelDecoder(nn.Module):
    """Deformable-attention encoder over res3-res5 plus FPN levels down to ``common_stride``.

    Args:
        input_shape: ``{'res2': {'channels': C, 'stride': 4}, ...}`` for every backbone output.
        transformer_dropout: dropout inside the encoder layers.
        transformer_nheads: deformable-attention heads.
        transformer_dim_feedforward: encoder FFN width.
        transformer_enc_layers: encoder layers.
        conv_dim: width of the projections and of the encoder.
        mask_dim: channels of ``mask_features``.
        norm: ``'GN'`` (GroupNorm(32)) or ``''``.
        transformer_in_features: backbone levels seen by the encoder.
        common_stride: stride of ``mask_features``.
        with_cp: activation checkpointing of every encoder layer in training (non-reentrant
            ``torch.utils.checkpoint``): less memory, the plain run's gradients.
    """

    def __init__(self, *, input_shape: Dict[str, Dict[str, int]], transformer_dropout: float = 0.0,
                 transformer_nheads: int = 8, transformer_dim_feedforward: int = 1024,
                 transformer_enc_layers: int = 6, conv_dim: int = 256, mask_dim: int = 256,
                 norm: str = 'GN',
                 transformer_in_features: Sequence[str] = ('res3', 'res4', 'res5'),
                 common_stride: int = 4, with_cp: bool = False) -> None:
        super().__init__()
        shapes = sorted(input_shape.items(), key=lambda kv: kv[1]['stride'])
        missing = [f for f in transformer_in_features if f not in input_shape]
        if missing:
            raise KeyError(f'transformer_in_features {missing} are not in input_shape '
                           f'{sorted(input_shape)}')
        self.in_features = [name for name, _ in shapes]
        # Encoder levels, coarse to fine (res5, res4, res3).
        trans = [(name, s) for name, s in shapes if name in transformer_in_features][::-1]
        self.transformer_in_features = [name for name, _ in trans]
        self.transformer_num_feature_levels = len(trans)
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(s['channels'], conv_dim, kernel_size=1),
                          nn.GroupNorm(32, conv_dim))
            for _, s in trans)
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.constant_(proj[0].bias, 0)
        self.transformer = MSDeformAttnTransformerEncoderOnly(
            d_model=conv_dim, dropout=transformer_dropout, nhead=transformer_nheads,
            dim_feedforward=transformer_dim_feedforward, num_encoder_layers=transformer_enc_layers,
            num_feature_levels=self.transformer_num_feature_levels, with_cp=with_cp)
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2, normalize=True)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, kernel_size=1)
        c2_xavier_fill(self.mask_features)
        self.maskformer_num_feature_levels = 3  # the decoders always see three scales
        min_stride = min(s['stride'] for _, s in trans)
        self.num_fpn_levels = int(math.log2(min_stride) - math.log2(common_stride))
        use_bias = norm == ''
        self.lateral_convs, self.output_convs = [], []
        for idx, (name, s) in enumerate(shapes[:self.num_fpn_levels]):
            lateral = ConvNormAct(s['channels'], conv_dim, kernel_size=1, bias=use_bias,
                                  norm=group_norm(norm, conv_dim))
            output = ConvNormAct(conv_dim, conv_dim, kernel_size=3, padding=1, bias=use_bias,
                                 norm=group_norm(norm, conv_dim), activation=F.relu)
            c2_xavier_fill(lateral)
            c2_xavier_fill(output)
            self.add_module(f'adapter_{idx + 1}', lateral)
            self.add_module(f'layer_{idx + 1}', output)
            self.lateral_convs.append(lateral)
            self.output_convs.append(output)
        # Top-down order (coarse first), as the original iterates.
        self.lateral_convs = self.lateral_convs[::-1]
        self.output_convs = self.output_convs[::-1]

    def forward_features(self, features: Dict[str, torch.Tensor]):
        """Return (mask_features, transformer_encoder_features, multi_scale_features).

        ``multi_scale_features`` is ordered 1/32, 1/16, 1/8. In reference mode
        (``mmseg.models.utils.reference_mode``) the deformable attention runs the PyTorch
        reference instead of the compiled kernel.
        """
        with torch.autocast(device_type=next(iter(features.values())).device.type, enabled=False):
            srcs, pos = [], []
            for idx, name in enumerate(self.transformer_in_features):
                x = features[name].float()
                srcs.append(self.input_proj[idx](x))
                pos.append(self.pe_layer(x))
            memory, _, _ = self.transformer(srcs, pos)
            batch = memory.shape[0]
            shapes = [(src.shape[-2], src.shape[-1]) for src in srcs]
            out = []
            for chunk, (h, w) in zip(memory.split([h * w for h, w in shapes], dim=1), shapes):
                out.append(chunk.transpose(1, 2).reshape(batch, -1, h, w))
            fpn_features = self.in_features[:self.num_fpn_levels][::-1]
            for name, lateral, output in zip(fpn_features, self.lateral_convs, self.output_convs):
                cur = lateral(features[name].float())
                y = cur + F.interpolate(out[-1], size=cur.shape[-2:], mode='bilinear',
                                        align_corners=False)
                out.append(output(y))
            multi_scale = out[:self.maskformer_num_feature_levels]
            return self.mask_features(out[-1]), out[0], multi_scale
