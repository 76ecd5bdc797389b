"""Turn a clip's arrays into tensors and collect what the model gets.

After ``Collect_clips`` a training sample is ``dict(img=FloatTensor (T, 3, H, W),
gt_semantic_seg=LongTensor (T, 1, H, W), img_metas=list (T) of dict)``; the collate function of
``build_dataloader`` stacks samples into a batch.
"""
import os
from typing import Any, Dict, Sequence

import numpy as np
import torch

from ..builder import PIPELINES

__all__ = ['DefaultFormatBundle_clips', 'ImageToTensor_clips', 'Collect_clips', 'DEFAULT_META_KEYS']

DEFAULT_META_KEYS = ('video', 'frame', 'filename', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'img_norm_cfg')
# Meta keys whose value differs per frame: results holds a list, one entry per frame.
_PER_FRAME_KEYS = {'frame': 'frames', 'filename': 'filename'}
# Meta keys computed from the frame paths (results['filename']), under the original's names: a
# frame's file name without its folder, and the paths of all frames of the clip.
_FROM_PATHS = {'ori_filename': lambda paths, t: os.path.basename(paths[t]),
               'all_names': lambda paths, t: list(paths)}


def _meta_source(key: str) -> str:
    """The ``results`` key a meta key is read from."""
    return 'filename' if key in _FROM_PATHS else _PER_FRAME_KEYS.get(key, key)


def _meta_value(results: Dict[str, Any], key: str, t: int) -> Any:
    if key in _FROM_PATHS:
        return _FROM_PATHS[key](results['filename'], t)
    return results[_PER_FRAME_KEYS[key]][t] if key in _PER_FRAME_KEYS else results[key]


def frames_to_tensor(frames: Sequence[np.ndarray]) -> torch.Tensor:
    """Stack (H, W, C) frames into a float32 (T, C, H, W) tensor."""
    height, width, channels = frames[0].shape
    out = np.empty((len(frames), channels, height, width), dtype=np.float32)
    for t, frame in enumerate(frames):
        out[t] = frame.transpose(2, 0, 1)
    return torch.from_numpy(out)


@PIPELINES.register_module()
class DefaultFormatBundle_clips:
    """``img`` -> float32 (T, 3, H, W); each label field -> int64 (T, 1, H, W)."""

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        results['img'] = frames_to_tensor(results['img'])
        for key in results.get('seg_fields', []):
            results[key] = torch.from_numpy(np.stack(results[key])[:, None].astype(np.int64))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


@PIPELINES.register_module()
class ImageToTensor_clips:
    """Turn each of ``keys`` (lists of (H, W, C) frames) into a float32 (T, C, H, W) tensor."""

    def __init__(self, keys: Sequence[str] = ('img',)) -> None:
        self.keys = tuple(keys)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        for key in self.keys:
            results[key] = frames_to_tensor(results[key])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class Collect_clips:
    """Keep ``keys`` and gather one meta dict per frame into ``img_metas`` (a list, clip order).

    Args:
        keys: the data keys to keep, e.g. ``['img', 'gt_semantic_seg']``.
        meta_keys: the keys of each frame's meta dict; ``frame`` (the frame name without
            extension), ``filename`` and ``ori_filename`` (its file name without the folder) are
            per frame, ``all_names`` is the paths of the clip's frames, the others are the clip's.
    """

    def __init__(self, keys: Sequence[str], meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.keys = tuple(keys)
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        missing = [k for k in self.keys + tuple(_meta_source(k) for k in self.meta_keys)
                   if k not in results]
        if missing:
            raise KeyError(f'Collect_clips: results has no {missing}; the pipeline before it must '
                           f'set them (available: {sorted(results)})')
        num_frames = len(results['frames'])
        metas = []
        for t in range(num_frames):
            metas.append({key: _meta_value(results, key, t) for key in self.meta_keys})
        data = {key: results[key] for key in self.keys}
        data['img_metas'] = metas
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys}, meta_keys={self.meta_keys})'
