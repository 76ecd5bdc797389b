"""Write predictions per frame: VSPW-layout label PNGs and image/prediction overlays."""
import os
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

__all__ = ['palette_image', 'write_label_png', 'blend_overlay', 'write_overlay']


def _check_labels(labels: np.ndarray, num_colours: int, path: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'labels for {path} must be an integer (H, W) array, got {labels.dtype} '
                         f'{labels.shape}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_colours):
        raise ValueError(f'labels for {path} hold values outside 0..{num_colours - 1} '
                         f'(min {labels.min()}, max {labels.max()})')
    return labels.astype(np.uint8)


def palette_image(labels: np.ndarray, palette: Sequence[int]) -> Image.Image:
    """A palette ('P') image whose pixel values are the uint8 ``labels`` (H, W), with ``palette``
    (a flat list of up to 256 RGB triples) attached. Built from the raw bytes: PIL's
    ``fromarray(mode=...)`` is deprecated."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    image = Image.frombytes('P', (labels.shape[1], labels.shape[0]), labels.tobytes())
    image.putpalette(list(palette))
    return image


def write_label_png(path: str, labels: np.ndarray, palette: Sequence[Sequence[int]]) -> None:
    """Save ``labels`` (H, W), values 0..len(palette)-1, as a single-channel PNG with ``palette``
    (RGB triples) attached, creating the folder."""
    labels = _check_labels(labels, len(palette), path)
    flat = np.zeros((256, 3), dtype=np.uint8)
    flat[:len(palette)] = np.asarray(palette, dtype=np.uint8)
    image = palette_image(labels, flat.ravel().tolist())
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    image.save(path, format='PNG')


def blend_overlay(image_bgr: np.ndarray, labels: np.ndarray, palette: Sequence[Sequence[int]],
                  opacity: float = 0.5, name: str = 'overlay') -> np.ndarray:
    """The frame with ``labels`` painted over it in ``palette`` colours, uint8 (H, W, 3) BGR.

    Args:
        image_bgr: the frame, uint8 (H, W, 3) BGR.
        labels: (H, W) predicted labels, 0..len(palette)-1.
        palette: RGB colour per label.
        opacity: weight of the painted colour, in (0, 1].
        name: what to call the frame in error messages.
    """
    if not 0 < opacity <= 1:
        raise ValueError(f'opacity must be in (0, 1], got {opacity!r}')
    labels = _check_labels(labels, len(palette), name)
    if image_bgr.shape[:2] != labels.shape:
        raise ValueError(f'{name}: frame size {image_bgr.shape[:2]} differs from the prediction '
                         f'size {labels.shape}')
    colours_bgr = np.asarray(palette, dtype=np.float32)[:, ::-1]
    blended = image_bgr.astype(np.float32) * (1 - opacity) + colours_bgr[labels] * opacity
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def write_overlay(path: str, image_bgr: np.ndarray, labels: np.ndarray,
                  palette: Sequence[Sequence[int]], opacity: float = 0.5) -> None:
    """Save :func:`blend_overlay` to ``path`` (the extension picks the format, e.g. ``.jpg``)."""
    blended = blend_overlay(image_bgr, labels, palette, opacity, name=path)
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, blended):
        raise OSError(f'could not write the overlay {path}')
