"""ONNX export of a THE-Mask segmentor: the clip model, or the online pair.

The deformable attention is exported as its PyTorch reference (``F.grid_sample`` per level, ONNX
``GridSample``, opset :data:`OPSET`), so the files run in stock ONNX Runtime (or any runtime with
those standard operators) with no custom operator. The network is traced in fast mode with
``torch.export`` and symbolic sizes, then translated by ``torch.onnx.export(..., dynamo=True)``
(the maintained exporter; the TorchScript one is deprecated).

- **clip model** (:class:`ClipMaps`): ``clip`` (1, T, 3, H, W) normalised frames -> ``maps``
  (T, K, ceil(H/4), ceil(W/4)), the head's stride-4 class maps (``decode_clip`` of
  ``encode_frames``). T, H and W are dynamic (T >= 1; H, W >= :data:`MIN_SIZE`).
- **online pair**, what ``OnlineSegmenter`` runs: the per-frame encoder (:class:`FrameEncoder`,
  ``frames`` (N, 3, H, W) -> the seven :data:`~mmseg.apis.onnx_runtime.FEATURE_NAMES` tensors
  of ``FrameFeatures``, N, H, W dynamic) and the clip decoder (:class:`TargetDecoder`: those
  tensors for the T frames of one clip -> ``maps`` (1, K, ceil(H/4), ceil(W/4)) of its target
  frame; T and the target fixed by the training dilation, H, W dynamic).

The post-processing (resize to the input, then to the original size, softmax, argmax) stays in
Python (``ClipPredictor``), or is the caller's in another runtime (docs/deploy.md).
"""
import contextlib
import json
import logging
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..models.decode_heads.mask2former.pixel_decoder.ops import backend_forced
from ..models.decode_heads.themask_base_head import FrameFeatures
from ..models.utils import fast_mode
from ..utils.errors import UsageError
from ..version import __version__
from .online import OnlineSegmenter
from .onnx_runtime import CONFIG_KEY, FEATURE_NAMES, METADATA_KEY, onnx_session, require_packages
from .trained_config import config_dilation, config_num_frames, dataset_classes

__all__ = ['ClipMaps', 'FrameEncoder', 'TargetDecoder', 'export_clip_model', 'export_online_pair',
           'online_pair_paths', 'OPSET', 'MIN_SIZE']

OPSET = 18  # GridSample since 16, LayerNormalization since 17
MIN_SIZE = 64  # the smallest height and width the exported graphs accept
FEATURE_STRIDES = (32, 16, 8, 4)
QUIET_LOGGERS = ('torch.onnx', 'torch.export', 'onnxscript', 'onnx_ir')


class ClipMaps(nn.Module):
    """One normalised clip (1, T, 3, H, W) -> the head's stride-4 class maps (T, K, h, w)."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.segmentor.decode_clip(self.segmentor.encode_frames(clip.flatten(0, 1)))


class FrameEncoder(nn.Module):
    """Normalised frames (N, 3, H, W) -> their ``FrameFeatures`` as seven tensors."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, frames: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        features = self.segmentor.encode_frames(frames)
        return (*features.multi_scale, features.mask_features, *features.attention_features)


class TargetDecoder(nn.Module):
    """The seven feature tensors of one clip's frames -> the target frame's stride-4 maps."""

    def __init__(self, segmentor: nn.Module, target: int) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.target = target

    def forward(self, multi_scale_0: torch.Tensor, multi_scale_1: torch.Tensor,
                multi_scale_2: torch.Tensor, mask_features: torch.Tensor,
                attention_features_0: torch.Tensor, attention_features_1: torch.Tensor,
                attention_features_2: torch.Tensor) -> torch.Tensor:
        features = FrameFeatures([multi_scale_0, multi_scale_1, multi_scale_2], mask_features,
                                 [attention_features_0, attention_features_1, attention_features_2])
        return self.segmentor.decode_clip(features, target=self.target)


@contextlib.contextmanager
def _exporter_quiet() -> Iterator[None]:
    """The exporter's and optimiser's info lines off (one per folded Split...), restored after."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _check_exportable(model: nn.Module) -> None:
    require_packages('onnx', 'onnxruntime', 'onnxscript')
    if not fast_mode():
        raise UsageError('reference mode (THEMASK_MODE=reference) is not exported: the ONNX files '
                         'hold the fast inference path; unset THEMASK_MODE')
    if model.training:
        raise UsageError('export a model in eval mode (model.eval())')


def _metadata(model: nn.Module, role: str, **extra: Any) -> Dict[str, str]:
    """The metadata_props of an exported file: the training config and what inference needs."""
    cfg = getattr(model, 'cfg', None)
    classes, palette = ((model.CLASSES, model.PALETTE) if hasattr(model, 'CLASSES') else
                        dataset_classes(cfg) if cfg is not None else (None, None))
    meta = dict(role=role, num_classes=model.num_classes, align_corners=model.align_corners,
                classes=classes, palette=palette, num_frames=config_num_frames(cfg),
                dilation=config_dilation(cfg), min_size=MIN_SIZE, opset=OPSET,
                mmseg_version=__version__)
    meta.update(extra)
    props = {METADATA_KEY: json.dumps(meta)}
    if cfg is not None:
        props[CONFIG_KEY] = cfg.pretty_text
    return props


def _export(module: nn.Module, args: Tuple[torch.Tensor, ...], dynamic: Sequence[Dict[int, Any]],
            path: str, *, input_names: List[str], output_names: List[str],
            metadata: Dict[str, str]) -> None:
    """torch.export with symbolic sizes (the deformable attention on its reference), ONNX
    translation, metadata, ``onnx.checker``; one self-contained file."""
    import onnx
    with backend_forced('reference'), torch.no_grad(), _exporter_quiet():
        program = torch.export.export(module, args, dynamic_shapes=tuple(dynamic))
        onnx_program = torch.onnx.export(program, args, input_names=input_names,
                                         output_names=output_names, opset_version=OPSET,
                                         dynamo=True, external_data=False, optimize=True,
                                         verbose=False, report=False)
    proto = onnx_program.model_proto
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    onnx.save(proto, path)
    onnx.checker.check_model(path)


def _dims(model_dims: Dict[int, str]) -> Dict[int, Any]:
    """torch.export Dims for the named axes ('frames', 'height', 'width')."""
    Dim = torch.export.Dim
    made = {'frames': Dim('frames', min=1), 'height': Dim('height', min=MIN_SIZE),
            'width': Dim('width', min=MIN_SIZE)}
    return {axis: made[name] for axis, name in model_dims.items()}


def _random(shape: Sequence[int], seed: int, device: torch.device) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(device)


def _other_size(height: int, width: int) -> Tuple[int, int]:
    """A size unlike the traced one, to check that the sizes really are dynamic."""
    return height + 32, (width - 32 if width - 32 >= MIN_SIZE else width + 64)


def _compare(result: np.ndarray, expected: torch.Tensor, what: str, atol: float, *,
             maps: bool = True) -> Dict[str, float]:
    """Largest difference of ONNX Runtime's result vs eager's, and for class ``maps`` the
    fraction of pixels whose argmax (label) is equal."""
    expected = expected.detach().cpu().float()
    result = torch.from_numpy(result)
    if result.shape != expected.shape:
        raise RuntimeError(f'{what}: ONNX Runtime gives shape {tuple(result.shape)}, eager '
                           f'{tuple(expected.shape)}')
    error = (result - expected).abs().max().item()
    if not error <= atol:
        raise RuntimeError(f'{what}: ONNX Runtime differs from the eager model by {error:.3g} '
                           f'(allowed: {atol})')
    if not maps:
        return dict(max_abs_diff=error)
    equal = (result.argmax(1) == expected.argmax(1)).float().mean().item()
    return dict(max_abs_diff=error, labels_equal_fraction=equal)


def export_clip_model(model: nn.Module, path: str, *, clip_len: int = 2, height: int = 480,
                      width: int = 480, atol: float = 1e-4) -> Dict[str, Any]:
    """Export ``model`` (eval mode, from ``init_segmentor``) as the clip model ``path``, then run
    it once in ONNX Runtime on another clip length and size than the traced ones against the
    eager model.

    Returns:
        ``check``: the shapes compared, ``max_abs_diff`` of the maps and the fraction of equal
        per-pixel argmax.

    Raises:
        RuntimeError: ONNX Runtime's maps differ by more than ``atol``.
    """
    _check_exportable(model)
    device = next(model.parameters()).device
    example = _random((1, max(clip_len, 2), 3, height, width), 0, device)
    _export(ClipMaps(model).eval(), (example,), [_dims({1: 'frames', 3: 'height', 4: 'width'})],
            path, input_names=['clip'], output_names=['maps'],
            metadata=_metadata(model, 'clip', traced_clip_len=clip_len))
    h, w = _other_size(height, width)
    clip = _random((1, clip_len + 1, 3, h, w), 1, device)
    session = onnx_session(path)
    with torch.no_grad():
        expected = ClipMaps(model)(clip)
    result = session.run(['maps'], {'clip': clip.cpu().numpy()})[0]
    return dict(checked_shape=tuple(clip.shape), **_compare(result, expected, path, atol))


def online_pair_paths(path: str) -> Tuple[str, str]:
    """The files ``--online --out PATH`` writes: ``<stem>_frames.onnx``, ``<stem>_decoder.onnx``."""
    stem = path[:-len('.onnx')] if path.endswith('.onnx') else path
    return f'{stem}_frames.onnx', f'{stem}_decoder.onnx'


def export_online_pair(model: nn.Module, path: str, *, height: int = 480, width: int = 480,
                       dilation: Optional[Sequence[int]] = None,
                       atol: float = 1e-4) -> Dict[str, Any]:
    """Export the online pair of ``model`` (see the module docstring) to the two files of
    :func:`online_pair_paths`; the clip is the training one (``OnlineSegmenter``'s: the config's
    ``dilation`` unless given). Each half is then run once in ONNX Runtime on another size than
    the traced one against the eager model.

    Returns:
        ``frames``/``decoder`` paths, ``num_frames`` and ``target_index`` of the decoder's clip,
        and per half the ``max_abs_diff`` (and ``labels_equal_fraction`` of the maps).
    """
    _check_exportable(model)
    online = OnlineSegmenter(model, dilation=dilation)
    length, target = len(online.offsets), online.target_index
    frames_path, decoder_path = online_pair_paths(path)
    device = next(model.parameters()).device
    extra = dict(num_frames=length, target_index=target, dilation=online.dilation,
                 offsets=online.offsets)
    frames = _random((2, 3, height, width), 0, device)
    _export(FrameEncoder(model).eval(), (frames,), [_dims({0: 'frames', 2: 'height', 3: 'width'})],
            frames_path, input_names=['frames'], output_names=list(FEATURE_NAMES),
            metadata=_metadata(model, 'frames', **extra))
    with torch.no_grad():
        features = FrameEncoder(model)(_random((length, 3, height, width), 2, device))
    # one height and width per stride (ceil(H / s) relate to no one Dim); a level's multi-scale
    # map and its attention features share theirs
    Dim = torch.export.Dim
    level = {s: {2: Dim(f'height_{s}', min=MIN_SIZE // s), 3: Dim(f'width_{s}', min=MIN_SIZE // s)}
             for s in FEATURE_STRIDES}
    feature_dims = [level[s] for s in (32, 16, 8, 4, 32, 16, 8)]
    _export(TargetDecoder(model, target).eval(), tuple(features), feature_dims, decoder_path,
            input_names=list(FEATURE_NAMES), output_names=['maps'],
            metadata=_metadata(model, 'decoder', **extra))
    h, w = _other_size(height, width)
    check_frames = _random((1, 3, h, w), 3, device)
    with torch.no_grad():
        expected = FrameEncoder(model)(check_frames)
    outputs = onnx_session(frames_path).run(list(FEATURE_NAMES),
                                            {'frames': check_frames.cpu().numpy()})
    frames_check = max((_compare(r, e, frames_path, atol, maps=False)
                        for r, e in zip(outputs, expected)), key=lambda c: c['max_abs_diff'])
    with torch.no_grad():
        clip_features = FrameEncoder(model)(_random((length, 3, h, w), 4, device))
        expected_maps = TargetDecoder(model, target)(*clip_features)
    feed = {name: t.cpu().numpy() for name, t in zip(FEATURE_NAMES, clip_features)}
    result = onnx_session(decoder_path).run(['maps'], feed)[0]
    return dict(frames=frames_path, decoder=decoder_path, num_frames=length, target_index=target,
                frames_check=dict(frames_check, checked_shape=tuple(check_frames.shape)),
                decoder_check=_compare(result, expected_maps, decoder_path, atol))
