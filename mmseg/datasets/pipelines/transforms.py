"""Clip-consistent augmentations: every geometric draw is made once per clip and applied to all of
its frames and label maps; the photometric distortion is drawn per frame, as in the original.

Frames are lists of (H, W, 3) arrays in ``results['img']``; label maps are lists of (H, W) arrays in
each key of ``results['seg_fields']``. All randomness comes from the global ``np.random`` functions,
so seeding them per sample (the training engine does) makes a sample reproducible.
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..builder import PIPELINES

__all__ = ['Resize_clips', 'AlignedResize_clips', 'RandomCrop_clips', 'RandomFlip_clips',
           'PhotoMetricDistortion_clips', 'Normalize_clips', 'Pad_clips']


def _pair(name: str, value: Sequence, kind: type = int) -> Tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise ValueError(f'{name} must be a pair of {kind.__name__}s, got {value!r}')
    return tuple(value)


def rescale_size(width: int, height: int, scale: Tuple[int, int]) -> Tuple[int, int]:
    """(new_w, new_h) of a keep-ratio resize that fits ``scale`` = (long edge, short edge) bounds:
    the factor is min(long / max(h, w), short / min(h, w)); sides are rounded to nearest."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def _resize_all(results: Dict[str, Any], size: Tuple[int, int]) -> None:
    """Resize every frame (bilinear) and label map (nearest) of the clip to ``size`` = (w, h)."""
    results['img'] = [cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
                      for img in results['img']]
    for key in results.get('seg_fields', []):
        results[key] = [cv2.resize(seg, size, interpolation=cv2.INTER_NEAREST)
                        for seg in results[key]]


@PIPELINES.register_module()
class Resize_clips:
    """Resize the clip, with one scale drawn per clip.

    The target scale is ``results['scale']`` when set (by ``MultiScaleFlipAug_clips``); otherwise
    ``img_scale``, multiplied by a ratio drawn uniformly from ``ratio_range`` when given.

    Args:
        img_scale: (w, h); with ``keep_ratio`` it bounds the long and the short edge.
        ratio_range: (min, max) ratio applied to ``img_scale``, one draw per clip.
        keep_ratio: keep the aspect ratio (else resize to exactly ``img_scale``).
    """

    def __init__(self, img_scale: Optional[Sequence[int]] = None,
                 ratio_range: Optional[Sequence[float]] = None, keep_ratio: bool = True) -> None:
        self.img_scale = None if img_scale is None else _pair('img_scale', img_scale)
        if ratio_range is not None:
            low, high = _pair('ratio_range', [float(r) for r in ratio_range], float)
            if not 0 < low <= high:
                raise ValueError(f'ratio_range must satisfy 0 < min <= max, got {ratio_range!r}')
            if self.img_scale is None:
                raise ValueError('ratio_range needs img_scale')
            self.ratio_range = (low, high)
        else:
            self.ratio_range = None
        self.keep_ratio = keep_ratio

    def _scale(self, results: Dict[str, Any]) -> Tuple[int, int]:
        if 'scale' in results:
            return tuple(results['scale'])
        if self.img_scale is None:
            raise KeyError(f'{self.__class__.__name__} has no img_scale and results has no "scale" '
                           f'(set by MultiScaleFlipAug_clips)')
        if self.ratio_range is None:
            return self.img_scale
        low, high = self.ratio_range
        ratio = np.random.random_sample() * (high - low) + low
        return int(self.img_scale[0] * ratio), int(self.img_scale[1] * ratio)

    def _target_size(self, width: int, height: int, scale: Tuple[int, int]) -> Tuple[int, int]:
        return rescale_size(width, height, scale) if self.keep_ratio else scale

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        scale = self._scale(results)
        height, width = results['img'][0].shape[:2]
        new_w, new_h = self._target_size(width, height, scale)
        _resize_all(results, (new_w, new_h))
        self._finish(results, width, height)
        results['scale'] = scale
        results['keep_ratio'] = self.keep_ratio
        return results

    @staticmethod
    def _finish(results: Dict[str, Any], width: int, height: int) -> None:
        new_h, new_w = results['img'][0].shape[:2]
        results['img_shape'] = results['img'][0].shape
        results['pad_shape'] = results['img'][0].shape
        results['scale_factor'] = np.array([new_w / width, new_h / height] * 2, dtype=np.float32)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(img_scale={self.img_scale}, '
                f'ratio_range={self.ratio_range}, keep_ratio={self.keep_ratio})')


@PIPELINES.register_module()
class AlignedResize_clips(Resize_clips):
    """``Resize_clips``, then a second resize that rounds both sides up to multiples of
    ``size_divisor`` (853x480 at scale (853, 480) -> 864x480), as the original does.

    Args:
        size_divisor: the multiple both sides are rounded up to.
        img_scale, ratio_range, keep_ratio: as ``Resize_clips``.
    """

    def __init__(self, img_scale: Optional[Sequence[int]] = None,
                 ratio_range: Optional[Sequence[float]] = None, keep_ratio: bool = True,
                 size_divisor: int = 32) -> None:
        super().__init__(img_scale=img_scale, ratio_range=ratio_range, keep_ratio=keep_ratio)
        if isinstance(size_divisor, bool) or not isinstance(size_divisor, int) or size_divisor < 1:
            raise ValueError(f'size_divisor must be a positive integer, got {size_divisor!r}')
        self.size_divisor = size_divisor

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        height, width = results['img'][0].shape[:2]
        results = super().__call__(results)
        mid_h, mid_w = results['img'][0].shape[:2]
        divisor = self.size_divisor
        aligned = (-(-mid_w // divisor) * divisor, -(-mid_h // divisor) * divisor)
        if aligned != (mid_w, mid_h):
            _resize_all(results, aligned)
        self._finish(results, width, height)
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', size_divisor={self.size_divisor})'


@PIPELINES.register_module()
class RandomCrop_clips:
    """Crop the same random box from every frame and label map of the clip.

    With ``cat_max_ratio`` < 1 the box is redrawn (up to 10 times) until, on the clip's **last**
    frame's label map, at least two classes are present and no class covers ``cat_max_ratio`` or
    more of the non-ignored pixels.

    Args:
        crop_size: (h, w).
        cat_max_ratio: the largest share of one class in the crop.
        ignore_index: the label value not counted.
    """

    max_retries = 10

    def __init__(self, crop_size: Sequence[int], cat_max_ratio: float = 1.0,
                 ignore_index: int = 255) -> None:
        self.crop_size = _pair('crop_size', crop_size)
        if min(self.crop_size) < 1:
            raise ValueError(f'crop_size must be positive, got {crop_size!r}')
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _draw_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        top = np.random.randint(0, max(height - self.crop_size[0], 0) + 1)
        left = np.random.randint(0, max(width - self.crop_size[1], 0) + 1)
        return top, min(top + self.crop_size[0], height), left, min(left + self.crop_size[1], width)

    def _balanced(self, seg: np.ndarray, box: Tuple[int, int, int, int]) -> bool:
        counts = np.bincount(seg[box[0]:box[1], box[2]:box[3]].ravel(),
                             minlength=self.ignore_index + 1)
        counts[self.ignore_index] = 0
        counts = counts[counts > 0]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        height, width = results['img'][0].shape[:2]
        box = self._draw_box(height, width)
        seg_fields = results.get('seg_fields', [])
        if self.cat_max_ratio < 1 and seg_fields:
            last_seg = results[seg_fields[0]][-1]
            for _ in range(self.max_retries):
                if self._balanced(last_seg, box):
                    break
                box = self._draw_box(height, width)
        top, bottom, left, right = box
        results['img'] = [img[top:bottom, left:right] for img in results['img']]
        for key in seg_fields:
            results[key] = [seg[top:bottom, left:right] for seg in results[key]]
        results['img_shape'] = results['img'][0].shape
        results['pad_shape'] = results['img'][0].shape
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio})')


@PIPELINES.register_module()
class RandomFlip_clips:
    """Flip every frame and label map of the clip, with one draw per clip.

    ``results['flip']`` (set by ``MultiScaleFlipAug_clips``) decides when present; otherwise the
    clip is flipped with probability ``prob``.

    Args:
        prob: the flip probability; None means the flip must come from ``results['flip']``.
        direction: ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, prob: Optional[float] = None, direction: str = 'horizontal') -> None:
        if prob is not None and not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob!r}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f'direction must be "horizontal" or "vertical", got {direction!r}')
        self.prob = prob
        self.direction = direction

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        if 'flip' not in results:
            if self.prob is None:
                raise KeyError('RandomFlip_clips without prob needs results["flip"] (set by '
                               'MultiScaleFlipAug_clips)')
            results['flip'] = bool(np.random.rand() < self.prob)
        results.setdefault('flip_direction', self.direction)
        if results['flip']:
            code = 1 if results['flip_direction'] == 'horizontal' else 0  # cv2.flip's axis code
            results['img'] = [cv2.flip(img, code) for img in results['img']]
            for key in results.get('seg_fields', []):
                results[key] = [cv2.flip(seg, code) for seg in results[key]]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, direction={self.direction!r})'


def _affine_uint8(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


@PIPELINES.register_module()
class PhotoMetricDistortion_clips:
    """mmseg's photometric distortion, drawn independently for each frame of the clip.

    Per frame, each step applied with probability 0.5: brightness (add U(-delta, delta)); contrast
    (scale by U(range)), either here or last (a coin decides); in HSV, saturation (scale by
    U(range)) and hue (add randint(-delta, delta) modulo 180). Frames are uint8 BGR.
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def _contrast(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _affine_uint8(img, alpha=np.random.uniform(self.contrast_lower,
                                                              self.contrast_upper))
        return img

    def _distort(self, img: np.ndarray) -> np.ndarray:
        if img.dtype != np.uint8:
            raise TypeError(f'PhotoMetricDistortion_clips expects uint8 frames, got {img.dtype}: '
                            f'put it before Normalize_clips')
        if np.random.randint(2):
            img = _affine_uint8(img, beta=np.random.uniform(-self.brightness_delta,
                                                            self.brightness_delta))
        contrast_first = np.random.randint(2)
        if contrast_first == 1:
            img = self._contrast(img)
        if np.random.randint(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            hsv[:, :, 1] = _affine_uint8(
                hsv[:, :, 1], alpha=np.random.uniform(self.saturation_lower, self.saturation_upper))
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        if np.random.randint(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            shift = np.random.randint(-self.hue_delta, self.hue_delta)
            hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int32) + shift) % 180).astype(np.uint8)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        if contrast_first == 0:
            img = self._contrast(img)
        return img

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        results['img'] = [self._distort(img) for img in results['img']]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range=({self.contrast_lower}, {self.contrast_upper}), saturation_range=('
                f'{self.saturation_lower}, {self.saturation_upper}), hue_delta={self.hue_delta})')


@PIPELINES.register_module()
class Normalize_clips:
    """Convert every frame to float32, BGR -> RGB when ``to_rgb``, then ``(img - mean) / std``.

    Args:
        mean, std: per channel, in the output channel order.
        to_rgb: the frames are BGR (as loaded) and are converted to RGB first.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True) -> None:
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)
        if self.mean.shape != (3,) or self.std.shape != (3,) or (self.std <= 0).any():
            raise ValueError(f'mean and std must be 3 values (std > 0), got {mean!r} and {std!r}')
        self.to_rgb = to_rgb

    def _normalize(self, img: np.ndarray) -> np.ndarray:
        # numpy broadcasting of the (3,) mean and std over (H, W, 3): one rule for every frame shape
        # (OpenCV's array-as-scalar arithmetic changed its broadcasting for small frames in 5.1)
        out = (img[..., ::-1] if self.to_rgb else img).astype(np.float32)  # a fresh array
        out -= self.mean
        out /= self.std
        return out

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        results['img'] = [self._normalize(img) for img in results['img']]
        results['img_norm_cfg'] = dict(mean=self.mean.copy(), std=self.std.copy(),
                                       to_rgb=self.to_rgb)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mean={self.mean.tolist()}, std={self.std.tolist()}, '
                f'to_rgb={self.to_rgb})')


@PIPELINES.register_module()
class Pad_clips:
    """Pad every frame and label map at the bottom and right, to ``size`` or to multiples of
    ``size_divisor`` (exactly one of the two).

    Args:
        size: (h, w) to pad to; a larger frame is an error.
        size_divisor: pad both sides up to a multiple of this.
        pad_val: the value for frames.
        seg_pad_val: the value for label maps (255: ignored).
    """

    def __init__(self, size: Optional[Sequence[int]] = None, size_divisor: Optional[int] = None,
                 pad_val: float = 0, seg_pad_val: int = 255) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError(f'Pad_clips needs exactly one of size and size_divisor, got '
                             f'size={size!r}, size_divisor={size_divisor!r}')
        self.size = None if size is None else _pair('size', size)
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _pad(self, array: np.ndarray, height: int, width: int, value: float) -> np.ndarray:
        pad = ([(0, height - array.shape[0]), (0, width - array.shape[1])]
               + [(0, 0)] * (array.ndim - 2))
        return np.pad(array, pad, mode='constant', constant_values=value)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        height, width = results['img'][0].shape[:2]
        if self.size is not None:
            target_h, target_w = self.size
            if height > target_h or width > target_w:
                raise ValueError(f'Pad_clips: frame size {height}x{width} exceeds the pad size '
                                 f'{target_h}x{target_w}; crop or resize first')
        else:
            divisor = self.size_divisor
            target_h, target_w = -(-height // divisor) * divisor, -(-width // divisor) * divisor
        results['img'] = [self._pad(img, target_h, target_w, self.pad_val)
                          for img in results['img']]
        for key in results.get('seg_fields', []):
            results[key] = [self._pad(seg, target_h, target_w, self.seg_pad_val)
                            for seg in results[key]]
        results['pad_shape'] = results['img'][0].shape
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, size_divisor={self.size_divisor}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')
