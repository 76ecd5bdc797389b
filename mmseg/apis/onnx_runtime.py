"""A THE-Mask model exported to ONNX (``tools/export.py --format onnx``), run by ONNX Runtime.

    model = init_onnx_segmentor('b1.onnx')                        # the clip model
    model = init_onnx_segmentor(['b1_frames.onnx', 'b1_decoder.onnx'])   # the online pair
    labels = inference_segmentor(model, ['f0.jpg', 'f3.jpg'])     # as with the PyTorch model
    seg = OnlineSegmenter(model)                                  # the pair keeps its frame cache

:class:`OnnxRuntimeSegmentor` is what ``init_segmentor`` gives, with ONNX Runtime in place of the
network: the test pipeline of its config prepares the frames, and everything after the network
(resizing, scores at the original size, flips, labels, test-time augmentation) is
:class:`~mmseg.models.segmentors.ClipPredictor`'s, the very code the PyTorch segmentor runs. So
``inference_on_dataset`` (``tools/deploy_test.py``), ``inference_segmentor``, ``OnlineSegmenter``
and ``tools/video_demo.py`` take it unchanged.

Each file carries its role (``clip``, ``frames``, ``decoder``), the training config and the
settings inference needs (classes, palette, frames per clip, training dilation) in its metadata
(:func:`read_metadata`), as a checkpoint carries its training config.
"""
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..models.decode_heads.themask_base_head import FrameFeatures
from ..models.segmentors import ClipPredictor
from ..utils.config import Config, load_config
from ..utils.errors import UsageError
from .trained_config import dataset_classes, reconcile_with_checkpoint

__all__ = ['OnnxRuntimeSegmentor', 'init_onnx_segmentor', 'read_metadata', 'require_packages',
           'onnx_session', 'FEATURE_NAMES', 'ROLES', 'METADATA_KEY', 'CONFIG_KEY']

METADATA_KEY = 'themask.meta'  # JSON: role, classes, palette, num_frames, dilation, ...
CONFIG_KEY = 'themask.config'  # the training config, as text
ROLES = {'clip': 'the clip model', 'frames': 'the online per-frame encoder',
         'decoder': 'the online clip decoder'}
# the per-frame features (FrameFeatures) as the online pair's tensors, in order
FEATURE_NAMES = ('multi_scale_0', 'multi_scale_1', 'multi_scale_2', 'mask_features',
                 'attention_features_0', 'attention_features_1', 'attention_features_2')
INSTALL_HINT = "pip install -e '.[deploy]' (tools/install.sh installs it)"


def require_packages(*names: str) -> None:
    """Raise a one-line :class:`UsageError` naming the missing deploy packages."""
    import importlib.util
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f'{", ".join(missing)} not installed: ONNX export and ONNX Runtime need '
                         f'the deploy extra: {INSTALL_HINT}')


def onnx_session(path: str, *, threads: Optional[int] = None):
    """An ONNX Runtime CPU session of ``path`` with ``threads`` intra-op threads (default: as
    many as torch uses), one inter-op thread and every graph optimisation."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'ONNX model {path!r} does not exist')
    require_packages('onnxruntime')
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    except Exception as err:  # ORT's exception types (InvalidProtobuf, Fail...) derive from it
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise UsageError(f'{path!r} is not an ONNX model ONNX Runtime can load '
                         f'({reason})') from None


def read_metadata(session, path: str) -> Tuple[Dict[str, Any], Optional[Config]]:
    """(the THE-Mask metadata, the training config or None) of a loaded model."""
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise UsageError(f'{path!r} is an ONNX model without THE-Mask metadata ({METADATA_KEY}); '
                         f'export it with tools/export.py --format onnx')
    meta = json.loads(props[METADATA_KEY])
    text = props.get(CONFIG_KEY, '')
    return meta, (Config.fromstring(text, '.py') if text.strip() else None)


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to('cpu', torch.float32).contiguous().numpy()


class OnnxRuntimeSegmentor(ClipPredictor):
    """The test-time contract of ``EncoderDecoder_clips`` on ONNX Runtime sessions.

    Args:
        cfg: the config (its test pipeline prepares the frames).
        meta: the models' metadata (:func:`read_metadata`): ``num_classes``, ``align_corners``,
            for the online pair ``num_frames`` (clip length) and ``target_index``.
        clip: session of the clip model: (1, T, 3, H, W) -> stride-4 maps (T, K, H/4, W/4).
        frames, decoder: sessions of the online pair: (N, 3, H, W) -> :data:`FEATURE_NAMES`, and
            the features of one clip's frames -> the target frame's stride-4 maps (1, K, ...).

    ``model(return_loss=False, img=..., img_metas=...)`` gives label maps as the PyTorch model
    does; ``encode_frames`` / ``decode_clip`` (the online pair) serve ``OnlineSegmenter``. The
    network runs on the CPU; ``parameters()`` yields one empty CPU tensor so that callers looking
    up a model's device find it.
    """

    training = False

    def __init__(self, *, cfg: Config, meta: Dict[str, Any], clip=None, frames=None,
                 decoder=None, paths: Sequence[str] = ()) -> None:
        self.cfg = cfg
        self.meta = meta
        self.num_classes = int(meta['num_classes'])
        self.align_corners = bool(meta['align_corners'])
        self.clip_session, self.frames_session, self.decoder_session = clip, frames, decoder
        self.paths = list(paths)
        self.CLASSES, self.PALETTE = dataset_classes(cfg)

    # the module-like surface inference_on_dataset and the APIs use
    def eval(self) -> 'OnnxRuntimeSegmentor':
        return self

    def train(self, mode: bool = True) -> 'OnnxRuntimeSegmentor':
        if mode:
            raise UsageError('an ONNX Runtime model cannot be trained')
        return self

    def parameters(self) -> Iterator[torch.Tensor]:
        yield torch.empty(0)

    def __call__(self, img, img_metas=None, return_loss: bool = False, rescale: bool = True,
                 **kwargs) -> List[np.ndarray]:
        if return_loss:
            raise UsageError('an ONNX Runtime model has no training losses (return_loss=False)')
        return self.forward_test(img, img_metas, rescale)

    # the network
    def clip_maps(self, img: torch.Tensor) -> torch.Tensor:
        """Stride-4 class maps (B*T, K, h, w) of clips (B, T, 3, H, W), clip by clip."""
        if self.clip_session is None:
            raise UsageError('the online pair predicts one frame per clip (OnlineSegmenter, '
                             'video_demo --mode online); whole clips need the clip model (export '
                             'without --online)')
        return torch.cat([_tensor(self.clip_session.run(['maps'], {'clip': _array(clip[None])})[0])
                          for clip in img])

    def encode_decode(self, img: torch.Tensor) -> torch.Tensor:
        """``EncoderDecoder_clips.encode_decode``: the maps resized to the input (B*T, K, H, W)."""
        if img.dim() != 5:
            raise ValueError(f'expected clips (B, T, 3, H, W), got a tensor of shape '
                             f'{tuple(img.shape)}')
        return self.resize_maps(self.clip_maps(img), img.shape[-2:])

    def encode_frames(self, img: torch.Tensor) -> FrameFeatures:
        """The online encoder on frames (N, 3, H, W)."""
        if self.frames_session is None:
            raise UsageError('encode_frames needs the online pair (tools/export.py --online)')
        out = [_tensor(a) for a in self.frames_session.run(list(FEATURE_NAMES),
                                                           {'frames': _array(img)})]
        return FrameFeatures(out[:3], out[3], out[4:])

    def decode_clip(self, frames: Union[FrameFeatures, Sequence[FrameFeatures]],
                    target: Optional[int] = None, num_clips: int = 1) -> torch.Tensor:
        """The online decoder on the features of one clip's frames: the target frame's stride-4
        maps (1, K, h, w). The clip length and the target are the export's."""
        if self.decoder_session is None:
            raise UsageError('decode_clip needs the online pair (tools/export.py --online)')
        features = frames if isinstance(frames, FrameFeatures) else FrameFeatures.cat(list(frames))
        length, index = self.meta['num_frames'], self.meta['target_index']
        if num_clips != 1 or target != index or features.mask_features.shape[0] != length:
            raise UsageError(f'the online decoder decodes one clip of {length} frames for frame '
                             f'{index} (as exported), got {num_clips} clip(s) of '
                             f'{features.mask_features.shape[0] // max(num_clips, 1)} frames, '
                             f'target {target}')
        tensors = [*features.multi_scale, features.mask_features, *features.attention_features]
        feed = {name: _array(t) for name, t in zip(FEATURE_NAMES, tensors)}
        return _tensor(self.decoder_session.run(['maps'], feed)[0])


def _sessions(paths: Sequence[str], threads: Optional[int]) -> Dict[str, Tuple[Any, dict, Any]]:
    """{role: (session, metadata, config)}; exactly the clip model or the online pair."""
    found: Dict[str, Tuple[Any, dict, Any]] = {}
    for path in paths:
        session = onnx_session(path, threads=threads)
        meta, saved = read_metadata(session, path)
        role = meta.get('role')
        if role not in ROLES:
            raise UsageError(f'{path!r}: unknown THE-Mask ONNX role {role!r}')
        if role in found:
            raise UsageError(f'{path!r} and {found[role][1]["path"]!r} are both {ROLES[role]}')
        found[role] = (session, dict(meta, path=path), saved)
    roles = set(found)
    if roles not in ({'clip'}, {'frames', 'decoder'}):
        given = ', '.join(f'{m["path"]} ({ROLES[r]})' for r, (_, m, _) in found.items())
        raise UsageError(f'expected the clip model, or the online pair (per-frame encoder and clip '
                         f'decoder); got {given}')
    return found


def init_onnx_segmentor(model_files: Union[str, Sequence[str]],
                        config: Union[None, str, Config] = None, *,
                        use_model_clip_settings: bool = True,
                        threads: Optional[int] = None) -> OnnxRuntimeSegmentor:
    """Load the clip model (one file) or the online pair (two files, any order) into ONNX Runtime.

    Args:
        model_files: the ``.onnx`` file(s) ``tools/export.py --format onnx`` wrote.
        config: the config (path or Config) whose test pipeline prepares the frames; default the
            training config the files carry. Where both exist they are compared as a checkpoint's
            (see :func:`~mmseg.apis.trained_config.reconcile_with_checkpoint`).
        use_model_clip_settings: take the files' clip settings (frames per clip, dilation,
            classes) over the config's, as ``init_segmentor`` does; False keeps the config's, as
            ``tools/test.py`` does.
        threads: ONNX Runtime intra-op threads (default: ``torch.get_num_threads()``).
    """
    paths = [model_files] if isinstance(model_files, (str, os.PathLike)) else list(model_files)
    paths = [os.fspath(p) for p in paths]
    found = _sessions(paths, threads)
    first = found.get('clip', found.get('frames'))
    saved, path = first[2], first[1]['path']
    if config is None:
        if saved is None:
            raise UsageError(f'{path!r} carries no training config; give the config too')
        cfg = saved
    else:
        cfg = load_config(config) if not isinstance(config, Config) else config
        if saved is not None:
            reason = ('what the model was trained with' if use_model_clip_settings else
                      'the config given decides, as in tools/test.py')
            reconcile_with_checkpoint(cfg, saved, path=path, use_checkpoint=use_model_clip_settings,
                                      reason=reason)
    meta = found['decoder'][1] if 'decoder' in found else first[1]
    model = OnnxRuntimeSegmentor(cfg=cfg, meta=meta, paths=paths,
                                 **{role: session for role, (session, _, _) in found.items()})
    model.CLASSES, model.PALETTE = dataset_classes(saved if saved is not None else cfg)
    return model
