"""Pretrained MiT weights in the forms researchers have them (``model.pretrained``).

Accepted:

* SegFormer's flat ImageNet file ``mit_bX.pth`` (our key names; its ``head.*`` classifier is
  ignored);
* a Hugging Face folder (``huggingface-cli download nvidia/mit-b1 --local-dir pretrained/mit-b1``)
  holding ``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``;
* a ``.safetensors`` file (a ``config.json`` beside it is checked too).

transformers' key names are mapped onto ours: the hub layout (``segformer.encoder.block.0.0.
attention.self.query.weight``, what ``save_pretrained`` writes) and transformers 5's module names
(``segformer.stages.0.blocks.0.attention.q_proj.weight``). The separate key and value projections
become our fused ``kv`` (key rows first). ``classifier.*`` is the ImageNet head, ignored like
``head.*``; transformers' per-stage ``encoder.layer_norm.{0-3}`` are our ``norm1``-``norm4``.

Every tensor of the backbone must come from the file and every tensor of the file must map: a key
that does not is an error that names it and says what the file looks like. safetensors files are
read with the ``safetensors`` package (no pickle); ``.pth``/``.bin`` with ``torch.load(...,
weights_only=True)``. Nothing is downloaded.

Numerics: transformers' SegFormer uses LayerNorm eps 1e-5 everywhere (its ``layer_norm_eps`` is
unused); ours keeps the original SegFormer's 1e-6 in the blocks and stage norms, so the four feature
maps differ from transformers' hidden states by ~5e-6 relative (random weights; 1e-7 with equal
eps), far below training noise.
"""
import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import nn

from ...utils.checkpoint import extract_state_dict, read_checkpoint
from ...utils.errors import CheckpointError
from ...utils.logger import get_root_logger

__all__ = ['PretrainedWeightsError', 'MiTArch', 'SEGFORMER_WEIGHTS_URL', 'HF_DOWNLOAD_COMMAND',
           'load_mit_pretrained', 'read_mit_state_dict', 'resolve_mit_weights',
           'hf_to_mit_state_dict', 'is_hf_segformer_state_dict', 'mit_arch_of']

SEGFORMER_WEIGHTS_URL = 'https://github.com/NVlabs/SegFormer#training'
HF_DOWNLOAD_COMMAND = 'huggingface-cli download nvidia/mit-{b} --local-dir pretrained/mit-{b}'
HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
HF_CONFIG = 'config.json'
HEAD_PREFIX = 'head.'
# (hidden sizes, depths) of the SegFormer variants, to name what a config.json describes
VARIANTS = {((32, 64, 160, 256), (2, 2, 2, 2)): 'mit_b0',
            ((64, 128, 320, 512), (2, 2, 2, 2)): 'mit_b1',
            ((64, 128, 320, 512), (3, 4, 6, 3)): 'mit_b2',
            ((64, 128, 320, 512), (3, 4, 18, 3)): 'mit_b3',
            ((64, 128, 320, 512), (3, 8, 27, 3)): 'mit_b4',
            ((64, 128, 320, 512), (3, 6, 40, 3)): 'mit_b5'}


class PretrainedWeightsError(CheckpointError):
    """``model.pretrained`` names weights that do not fit the backbone (a ``ValueError``)."""


@dataclass(frozen=True)
class MiTArch:
    """The shape of a Mix Transformer, as transformers' SegformerConfig names it."""

    hidden_sizes: Tuple[int, ...]
    depths: Tuple[int, ...]
    num_attention_heads: Tuple[int, ...]
    sr_ratios: Tuple[int, ...]
    mlp_ratios: Tuple[int, ...]
    patch_sizes: Tuple[int, ...]
    strides: Tuple[int, ...]
    num_channels: int

    def describe(self) -> str:
        name = VARIANTS.get((self.hidden_sizes, self.depths), 'a custom MiT')
        return f'{name} (hidden_sizes {list(self.hidden_sizes)}, depths {list(self.depths)})'


# ----------------------------------------------------------------------------- the backbone's shape


def mit_arch_of(backbone: nn.Module) -> MiTArch:
    """The :class:`MiTArch` of a built ``MixVisionTransformer`` (read from its modules)."""
    embeds = [getattr(backbone, f'patch_embed{s}') for s in range(1, 5)]
    firsts = [getattr(backbone, f'block{s}')[0] for s in range(1, 5)]
    return MiTArch(
        hidden_sizes=tuple(e.proj.out_channels for e in embeds),
        depths=tuple(len(getattr(backbone, f'block{s}')) for s in range(1, 5)),
        num_attention_heads=tuple(b.attn.num_heads for b in firsts),
        sr_ratios=tuple(b.attn.sr_ratio for b in firsts),
        mlp_ratios=tuple(b.mlp.fc1.out_features // b.mlp.fc1.in_features for b in firsts),
        patch_sizes=tuple(e.proj.kernel_size[0] for e in embeds),
        strides=tuple(e.proj.stride[0] for e in embeds),
        num_channels=embeds[0].proj.in_channels)


# ----------------------------------------------------------------------------- finding the file


def _not_found(path: str, source: str, detail: str) -> FileNotFoundError:
    is_key = '.' in source  # a config key (model.pretrained) rather than a tool's name
    then = (f', then set --options {source}=/path/to/mit_bX.pth or =/path/to/mit-bX ({source}=None '
            f'trains from scratch)' if is_key else '')
    return FileNotFoundError(
        f'pretrained backbone weights {path!r} ({"config key " if is_key else ""}{source}) '
        f'{detail}. Download the SegFormer ImageNet-1k file for this variant (mit_b0.pth ... '
        f'mit_b5.pth, linked from {SEGFORMER_WEIGHTS_URL}) into pretrained/, or the Hugging Face '
        f'folder with `{HF_DOWNLOAD_COMMAND.format(b="b1")}` (b0 ... b5; `hf download` in '
        f'huggingface_hub >= 1.0){then}.')


def resolve_mit_weights(path: str, *,
                        source: str = 'model.pretrained') -> Tuple[str, Optional[str]]:
    """``(weights file, config.json or None)`` for a file or a Hugging Face folder.

    Raises:
        FileNotFoundError: ``path`` does not exist, or is a folder without a weights file.
    """
    if os.path.isdir(path):
        found = [os.path.join(path, name) for name in HF_WEIGHT_FILES
                 if os.path.isfile(os.path.join(path, name))]
        if not found:
            names = sorted(os.listdir(path))
            raise _not_found(path, source, f'is a folder without {" or ".join(HF_WEIGHT_FILES)} '
                                           f'(it holds {names[:8]}'
                                           f'{" ..." if len(names) > 8 else ""})')
        weights = found[0]
    elif os.path.isfile(path):
        weights = path
    else:
        raise _not_found(path, source, 'not found')
    config = os.path.join(os.path.dirname(weights), HF_CONFIG)
    hub_file = weights.endswith('.safetensors') or os.path.basename(weights) in HF_WEIGHT_FILES
    return weights, (config if hub_file and os.path.isfile(config) else None)


# ----------------------------------------------------------------------------- reading tensors


def _read_safetensors(path: str, source: str) -> Dict[str, torch.Tensor]:
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:  # pragma: no cover - safetensors is in install_requires
        raise ImportError(f'{source}: reading {path!r} needs the safetensors package: '
                          f'pip install safetensors') from None
    try:
        return load_file(path, device='cpu')
    except (SafetensorError, OSError, ValueError) as err:
        raise PretrainedWeightsError(f'{source}: {path!r} cannot be read as a safetensors file '
                                     f'({type(err).__name__}: {err})') from err


def _read_tensors(path: str, source: str) -> Dict[str, torch.Tensor]:
    """The name -> tensor dict of a ``.safetensors`` file or a ``weights_only`` torch file."""
    if path.endswith('.safetensors'):
        return _read_safetensors(path, source)
    return extract_state_dict(read_checkpoint(path, source=source), path, source)


# ----------------------------------------------------------------------------- transformers' names

_KEY, _VALUE = 'attn.kv:key', 'attn.kv:value'  # the halves of our fused kv
_HF_BLOCK_PARTS = {
    'layer_norm_1': 'norm1', 'layernorm_before': 'norm1',
    'attention.self.query': 'attn.q', 'attention.q_proj': 'attn.q',
    'attention.self.key': _KEY, 'attention.k_proj': _KEY,
    'attention.self.value': _VALUE, 'attention.v_proj': _VALUE,
    'attention.self.sr': 'attn.sr', 'attention.sequence_reduction.sequence_reduction': 'attn.sr',
    'attention.self.layer_norm': 'attn.norm',
    'attention.sequence_reduction.layer_norm': 'attn.norm',
    'attention.output.dense': 'attn.proj', 'attention.o_proj': 'attn.proj',
    'layer_norm_2': 'norm2', 'layernorm_after': 'norm2',
    'mlp.dense1': 'mlp.fc1', 'mlp.fc1': 'mlp.fc1',
    'mlp.dwconv.dwconv': 'mlp.dwconv.dwconv',
    'mlp.dense2': 'mlp.fc2', 'mlp.fc2': 'mlp.fc2',
}
# hub layout (save_pretrained) | transformers >= 5 module names; the prefix 'segformer.' is optional
_HF_BLOCK = re.compile(r'^(?:segformer\.)?'
                       r'(?:encoder\.block\.(\d+)\.(\d+)|stages\.(\d+)\.blocks\.(\d+))\.'
                       r'(.+)\.(weight|bias)$')
_HF_EMBED = re.compile(r'^(?:segformer\.)?'
                       r'(?:encoder\.patch_embeddings\.(\d+)|stages\.(\d+)\.patch_embeddings)\.'
                       r'(proj|layer_norm)\.(weight|bias)$')
_HF_NORM = re.compile(r'^(?:segformer\.)?(?:encoder\.layer_norm\.(\d+)|stages\.(\d+)\.layer_norm)\.'
                      r'(weight|bias)$')
_HF_HEAD = re.compile(r'^classifier\.(weight|bias)$')
_HF_MARK = re.compile(r'^(?:segformer\.|encoder\.(?:block|patch_embeddings|layer_norm)\.'
                      r'|stages\.\d+\.)')


def is_hf_segformer_state_dict(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` uses transformers' SegFormer key names."""
    return any(_HF_MARK.match(key) for key in state)


def _hf_name(key: str) -> Optional[str]:
    """Our name for one transformers key (kv halves as ``...attn.kv:key.weight``), or None."""
    if match := _HF_BLOCK.match(key):
        s0, i0, s1, i1, part, kind = match.groups()
        ours = _HF_BLOCK_PARTS.get(part)
        return None if ours is None else f'block{int(s0 or s1) + 1}.{i0 or i1}.{ours}.{kind}'
    if match := _HF_EMBED.match(key):
        s0, s1, part, kind = match.groups()
        return f'patch_embed{int(s0 or s1) + 1}.{"proj" if part == "proj" else "norm"}.{kind}'
    if match := _HF_NORM.match(key):
        s0, s1, kind = match.groups()
        return f'norm{int(s0 or s1) + 1}.{kind}'
    if match := _HF_HEAD.match(key):
        return f'{HEAD_PREFIX}{match.group(1)}'
    return None


def hf_to_mit_state_dict(state: Mapping[str, torch.Tensor], *, path: str,
                         source: str = 'model.pretrained') -> Dict[str, torch.Tensor]:
    """transformers' SegFormer tensors under our names; ``classifier.*`` becomes ``head.*``.

    Raises:
        PretrainedWeightsError: a key does not map (it is named), or a key/value half is missing.
    """
    out: Dict[str, torch.Tensor] = OrderedDict()
    halves: Dict[str, Dict[str, Tuple[str, torch.Tensor]]] = OrderedDict()
    for key, value in state.items():
        ours = _hf_name(key)
        if ours is None:
            raise _unmapped(key, state, path, source)
        if ':' in ours:  # block1.0.attn.kv:key.weight -> halves['block1.0.attn.kv.weight']['key']
            head, rest = ours.split(':')
            half, kind = rest.split('.')
            halves.setdefault(f'{head}.{kind}', {})[half] = (key, value)
        else:
            out[ours] = value
    for name, parts in halves.items():
        if set(parts) != {'key', 'value'}:
            (have, (key, _)), = parts.items()
            lacking = 'value' if have == 'key' else 'key'
            raise PretrainedWeightsError(f'{source}: {path!r} has {key!r} but not its {lacking} '
                                         f'counterpart; both are needed for {name}')
        out[name] = torch.cat([parts['key'][1], parts['value'][1]], dim=0)
    return out


# ----------------------------------------------------------------------------- what a file holds


def _flat_mit_shape(state: Mapping[str, Any]) -> Optional[str]:
    """``mit_b2 (hidden_sizes [...], depths [...])`` for a state dict with our names, else None."""
    try:
        dims = tuple(int(state[f'patch_embed{s}.proj.weight'].shape[0]) for s in range(1, 5))
    except (KeyError, AttributeError):
        return None
    blocks = {tuple(key.split('.')[:2]) for key in state if re.match(r'^block[1-4]\.\d+\.', key)}
    depths = tuple(sum(1 for b, _ in blocks if b == f'block{s}') for s in range(1, 5))
    name = VARIANTS.get((dims, depths), 'a custom MiT')
    return f'{name} (hidden_sizes {list(dims)}, depths {list(depths)})'


def _describe(state: Mapping[str, Any]) -> str:
    """What a state dict looks like, for error messages."""
    keys = list(state)
    has = lambda prefix: any(k.startswith(prefix) for k in keys)  # noqa: E731
    if has('backbone.') and has('decode_head.'):
        return ('a THE-Mask (mmseg) segmentor checkpoint (backbone.* and decode_head.* keys); '
                'start from one with --load-from or --finetune-from, not model.pretrained')
    if has('backbone.'):
        return 'a whole-model checkpoint (backbone.* keys), not backbone weights'
    if has('decode_head.') and is_hf_segformer_state_dict(keys):
        return 'a transformers SegformerForSemanticSegmentation checkpoint (decode_head.* keys)'
    if is_hf_segformer_state_dict(keys):
        return "transformers' SegFormer weights with a key this loader does not know"
    shape = _flat_mit_shape(state)
    if shape is not None:
        return f'SegFormer MiT weights of {shape}'
    return f'weights of another architecture (first keys: {", ".join(keys[:4])})'


def _unmapped(key: str, state: Mapping[str, Any], path: str, source: str) -> PretrainedWeightsError:
    return PretrainedWeightsError(
        f'{source}: {path!r}: key {key!r} does not map onto the MiT (SegFormer) backbone; the file '
        f'holds {_describe(state)}. {source} expects SegFormer ImageNet weights of the configured '
        f'variant: mit_bX.pth or the Hugging Face nvidia/mit-bX folder')


# ----------------------------------------------------------------------------- config.json


def _read_hf_config(config_path: str, *, source: str) -> MiTArch:
    try:
        with open(config_path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as err:
        raise PretrainedWeightsError(f'{source}: {config_path!r} cannot be read as JSON '
                                     f'({err})') from err
    model_type = config.get('model_type') if isinstance(config, dict) else None
    if model_type != 'segformer':
        found = (config.get('architectures', model_type) if isinstance(config, dict)
                 else type(config).__name__)
        raise PretrainedWeightsError(f'{source}: {config_path!r} describes {found!r} (model_type '
                                     f'{model_type!r}), not SegFormer\'s MiT (model_type '
                                     f'"segformer")')
    try:
        return MiTArch(**{field: tuple(config[field]) for field in
                          ('hidden_sizes', 'depths', 'num_attention_heads', 'sr_ratios',
                           'mlp_ratios', 'patch_sizes', 'strides')},
                       num_channels=int(config.get('num_channels', 3)))
    except (KeyError, TypeError) as err:
        raise PretrainedWeightsError(f'{source}: {config_path!r} lacks or garbles the SegFormer '
                                     f'field {err}') from err


def _show(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_arch(found: MiTArch, expected: MiTArch, *, config_path: str, variant_name: str,
                source: str) -> None:
    wrong = [f'{field} {_show(getattr(found, field))} vs {_show(getattr(expected, field))}'
             for field in MiTArch.__dataclass_fields__
             if getattr(found, field) != getattr(expected, field)]
    if wrong:
        raise PretrainedWeightsError(
            f'{source}: {config_path!r} describes {found.describe()} but the backbone is '
            f'{variant_name} (hidden_sizes {list(expected.hidden_sizes)}, depths '
            f'{list(expected.depths)}); differing: {"; ".join(wrong)} (file vs backbone). Use the '
            f'weights of {variant_name} or change model.backbone.type')


# ----------------------------------------------------------------------------- public entry points


def _read_mit(path: str, *, expected: Optional[MiTArch], variant_name: str,
              source: str) -> Tuple[str, Dict[str, torch.Tensor], bool]:
    """``(weights file, state dict under our names, whether the file used transformers' names)``."""
    weights, config = resolve_mit_weights(path, source=source)
    if config is not None:
        found = _read_hf_config(config, source=source)
        if expected is not None:
            _check_arch(found, expected, config_path=config, variant_name=variant_name,
                        source=source)
    state = _read_tensors(weights, source)
    if is_hf_segformer_state_dict(state):
        return weights, hf_to_mit_state_dict(state, path=weights, source=source), True
    return weights, OrderedDict(state), False


def read_mit_state_dict(path: str, *, expected: Optional[MiTArch] = None, variant_name: str = 'MiT',
                        source: str = 'model.pretrained') -> Dict[str, torch.Tensor]:
    """Our flat SegFormer state dict (``head.*`` included when present) from any accepted form.

    Args:
        path: a ``mit_bX.pth``, a ``.safetensors`` / ``.bin`` file, or a Hugging Face folder.
        expected: the backbone's shape; a ``config.json`` next to the weights is checked against it.
        variant_name: the backbone's name in messages (``mit_b1``).
        source: the config key or flag that named ``path``, quoted in messages.

    Raises:
        FileNotFoundError: ``path`` (or the weights file of a folder) does not exist.
        PretrainedWeightsError: the config or a key does not fit (see :func:`load_mit_pretrained`).
    """
    return _read_mit(path, expected=expected, variant_name=variant_name, source=source)[1]


def _check_fits(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor], *, path: str,
                variant_name: str, source: str, renamed: bool) -> None:
    unknown = [key for key in state if key not in own]
    if unknown:
        named = ' (renamed from transformers\' name)' if renamed else ''
        raise PretrainedWeightsError(
            f'{source}: {path!r} holds {_describe(state)}; its key {unknown[0]!r}{named} has no '
            f'place in the backbone {variant_name} ({len(unknown)} such keys). {source} expects '
            f'SegFormer ImageNet weights of {variant_name}: mit_bX.pth or the Hugging Face '
            f'nvidia/mit-bX folder')
    wrong_shape = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                   for k, v in state.items() if own[k].shape != v.shape]
    if wrong_shape:
        raise PretrainedWeightsError(
            f'{source}: {path!r} holds {_describe(state)}, which does not fit this backbone '
            f'({variant_name}); shape mismatches: '
            f'{"; ".join(wrong_shape[:5])}{" ..." if len(wrong_shape) > 5 else ""}. '
            f'Is it the file of another MiT variant?')
    missing = [key for key in own if key not in state]
    if missing:
        raise PretrainedWeightsError(
            f'{source}: {path!r} lacks {len(missing)} of the {len(own)} tensors of {variant_name} '
            f'(first: {", ".join(missing[:3])}); is it the file of another MiT variant?')


def load_mit_pretrained(backbone: nn.Module, path: str, *, variant_name: str,
                        source: str = 'model.pretrained') -> None:
    """Load pretrained weights in any accepted form into a built ``MixVisionTransformer``.

    The ImageNet classifier (``head.*`` / ``classifier.*``) is ignored with one log line; every
    other tensor must map onto the backbone and every backbone tensor must be in the file.

    Raises:
        FileNotFoundError: ``path`` (or the weights file of a folder) does not exist.
        PretrainedWeightsError: (a ``ValueError``) the weights do not fit; the message names the
            key or the config values and what was expected.
    """
    logger = get_root_logger()
    weights, state, from_hf = _read_mit(path, expected=mit_arch_of(backbone),
                                        variant_name=variant_name, source=source)
    head = [key for key in state if key.startswith(HEAD_PREFIX)]
    if head:
        names = [f'classifier.{key[len(HEAD_PREFIX):]}' if from_hf else key for key in head]
        logger.info(f'{weights}: ignoring the ImageNet classifier keys {", ".join(names)}')
    state = OrderedDict((k, v) for k, v in state.items() if not k.startswith(HEAD_PREFIX))
    _check_fits(state, backbone.state_dict(), path=weights, variant_name=variant_name,
                source=source, renamed=from_hf)
    backbone.load_state_dict(state, strict=True)
    logger.info(f'loaded {len(state)} backbone tensors from {weights}')
