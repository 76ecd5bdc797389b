"""Load the frames and label maps of a clip.

A clip's ``results`` dict, as the datasets start it:

- ``video`` (str), ``frames`` (list of frame names without extension), ``img_paths`` (list of
  frame files) and, for training, ``seg_paths`` (list of mask files), all in clip order.

The loaders add ``img`` (list of (H, W, 3) uint8 BGR arrays), ``gt_semantic_seg`` (list of (H, W)
uint8 arrays) and the clip-level meta ``filename``, ``ori_shape``, ``img_shape``, ``pad_shape``,
``scale_factor``, ``img_norm_cfg``. Every frame of a clip has the same size.
"""
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from ..builder import PIPELINES
from ..file_io import DataError, label_tables, read_image, read_label, reduce_zero_label

__all__ = ['LoadImageFromFile_clips', 'LoadAnnotations_clips']


@PIPELINES.register_module()
class LoadImageFromFile_clips:
    """Read every frame of the clip in BGR order (``Normalize_clips(to_rgb=True)`` makes it RGB).

    Frames already in ``results['img']`` (arrays given to ``inference_segmentor``) are not read
    again; the clip's meta is set the same way.

    Args:
        to_float32: convert the frames to float32.
        backend: ``'cv2'`` or ``'pillow'``; both give BGR.
    """

    def __init__(self, to_float32: bool = False, backend: str = 'cv2') -> None:
        self.to_float32 = to_float32
        self.backend = backend

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        paths = results['img_paths']
        if 'img' in results:  # frames given in memory (inference on arrays): only the meta is set
            imgs = [img.astype(np.float32) if self.to_float32 else img for img in results['img']]
        else:
            imgs = [self._read(path) for path in paths]
        for path, img in zip(paths, imgs):
            if img.shape != imgs[0].shape:
                raise DataError(f'frame {path} has size {img.shape[0]}x{img.shape[1]} (HxW); '
                                f'expected the size of the other frames of its clip, '
                                f'{imgs[0].shape[0]}x{imgs[0].shape[1]} ({paths[0]})')
        results['img'] = imgs
        results['filename'] = list(paths)
        results['ori_shape'] = imgs[0].shape
        results['img_shape'] = imgs[0].shape
        results['pad_shape'] = imgs[0].shape
        results['scale_factor'] = np.ones(4, dtype=np.float32)
        results['img_norm_cfg'] = dict(mean=np.zeros(3, dtype=np.float32),
                                       std=np.ones(3, dtype=np.float32), to_rgb=False)
        results.setdefault('seg_fields', [])
        return results

    def _read(self, path: str) -> np.ndarray:
        img = read_image(path, backend=self.backend)
        return img.astype(np.float32) if self.to_float32 else img

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(to_float32={self.to_float32}, backend={self.backend!r})'


@PIPELINES.register_module()
class LoadAnnotations_clips:
    """Read the clip's label maps (``results['seg_paths']``) into ``gt_semantic_seg``.

    When the dataset starts ``results`` with ``num_classes`` (its class count K) and ``label_map``,
    the labels are mapped as the dataset maps them (``label_map``, then this step's
    ``reduce_zero_label``) and a raw value is valid when it ends as 0..K-1 or ``ignore_index``.

    Args:
        reduce_zero_label: apply VSPW's shift (raw 0 and 255 -> 255, raw k -> k-1).
        num_classes: the largest valid raw class value when the dataset does not say.
        ignore_index: the void value.
    """

    def __init__(self, reduce_zero_label: bool = True, num_classes: int = 124,
                 ignore_index: int = 255) -> None:
        self.reduce_zero_label = reduce_zero_label
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self._tables: Dict[Any, Tuple[np.ndarray, np.ndarray]] = {}

    def _dataset_tables(self, results: Dict[str, Any]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        if results.get('num_classes') is None:
            return None
        label_map = results.get('label_map') or {}
        key = (results['num_classes'], tuple(sorted(label_map.items())))
        if key not in self._tables:
            self._tables[key] = label_tables(results['num_classes'],
                                             reduce_zero_label=self.reduce_zero_label,
                                             label_map=label_map, ignore_index=self.ignore_index)
        return self._tables[key]

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        if 'img' not in results:
            raise KeyError('LoadAnnotations_clips needs the frames loaded first: put '
                           'LoadImageFromFile_clips before it in the pipeline')
        tables = self._dataset_tables(results)
        labels = []
        for seg_path, img_path in zip(results['seg_paths'], results['img_paths']):
            label = read_label(seg_path, num_classes=self.num_classes,
                               ignore_index=self.ignore_index, expected_shape=results['ori_shape'],
                               frame_path=img_path, valid=None if tables is None else tables[1])
            if tables is not None:
                labels.append(cv2.LUT(label, tables[0]))
            else:
                labels.append(reduce_zero_label(label, self.ignore_index) if self.reduce_zero_label
                              else label)
        results['gt_semantic_seg'] = labels
        results.setdefault('seg_fields', [])
        if 'gt_semantic_seg' not in results['seg_fields']:
            results['seg_fields'].append('gt_semantic_seg')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(reduce_zero_label={self.reduce_zero_label})'
