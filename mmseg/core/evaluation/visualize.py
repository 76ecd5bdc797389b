"""Pictures of a prediction people can read: strong colours, class outlines and a legend.

    picture = show_result(frame, labels, model.CLASSES, model.PALETTE)            # BGR uint8
    show_result('f.jpg', labels, classes, palette, side_by_side=True, out_file='f_pred.png')

The legend is a panel right of the picture listing the classes present (largest first) with their
colours. Its width depends only on the frame size, so every frame of a video gets the same size.
"""
import os
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ...utils.errors import UsageError

__all__ = ['show_result', 'colour_labels', 'legend_panel', 'class_outlines']

Palette = Sequence[Sequence[int]]


def _frame(frame: Union[str, np.ndarray]) -> np.ndarray:
    if isinstance(frame, (str, os.PathLike)):
        image = cv2.imread(os.fspath(frame), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'cannot read the image {os.fspath(frame)}')
        return image
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise UsageError(f'expected an (H, W, 3) uint8 BGR array (as cv2.imread gives), got a '
                         f'{frame.dtype} array of shape {frame.shape}')
    return frame


def _labels(labels: np.ndarray, num_classes: int, shape: Tuple[int, int]) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != shape or not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f'labels must be an integer array of the frame size {shape}, got '
                         f'{labels.dtype} {labels.shape}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise UsageError(f'labels hold values outside 0..{num_classes - 1} (min {labels.min()}, '
                         f'max {labels.max()})')
    return labels


def colour_labels(labels: np.ndarray, palette: Palette) -> np.ndarray:
    """(H, W) labels painted in their RGB ``palette`` colours, as a BGR uint8 image."""
    return np.asarray(palette, dtype=np.uint8)[:, ::-1][labels]


def class_outlines(labels: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels whose right or lower neighbour has another class."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edge


def _present(labels: np.ndarray, num_classes: int) -> List[int]:
    counts = np.bincount(labels.ravel(), minlength=num_classes)
    return [int(c) for c in np.argsort(-counts, kind='stable') if counts[c] > 0]


def legend_panel(height: int, width: int, classes: Sequence[str], palette: Palette,
                 present: Sequence[int]) -> np.ndarray:
    """A (height, width) BGR panel: a colour swatch and the name of each class in ``present``."""
    panel = np.full((height, width, 3), 32, dtype=np.uint8)
    row = max(12, min(28, height // 12))
    scale = row / 32
    rows = max(1, height // row)
    shown = list(present) if len(present) <= rows else list(present[:rows - 1])
    for i, cls in enumerate(shown):
        y = i * row
        r, g, b = (int(v) for v in palette[cls])
        cv2.rectangle(panel, (3, y + 2), (3 + row - 4, y + row - 2), (b, g, r), thickness=-1)
        cv2.putText(panel, str(classes[cls]), (row + 2, y + int(row * 0.75)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    if len(shown) < len(present):
        cv2.putText(panel, f'+{len(present) - len(shown)} more',
                    (3, len(shown) * row + int(row * 0.75)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, (200, 200, 200), 1, cv2.LINE_AA)
    return panel


def legend_width(frame_width: int) -> int:
    """Width of the legend panel for frames ``frame_width`` wide."""
    return max(110, min(240, frame_width // 3))


def show_result(frame: Union[str, np.ndarray], labels: np.ndarray, classes: Sequence[str],
                palette: Palette, *, opacity: float = 0.6, outline: bool = True,
                legend: bool = True, side_by_side: bool = False,
                out_file: Optional[str] = None) -> np.ndarray:
    """The frame with its prediction painted over it, outlines and a legend; BGR uint8.

    Args:
        frame: a path or an (H, W, 3) uint8 BGR array.
        labels: (H, W) class indices 0..len(classes)-1.
        classes: class names; palette: an RGB colour per class (``model.CLASSES``,
            ``model.PALETTE``).
        opacity: weight of the class colours, in (0, 1].
        outline: draw class boundaries in black.
        legend: add a panel (right) naming the classes present, largest first.
        side_by_side: the frame, then the prediction at full opacity, instead of an overlay.
        out_file: also save the picture there (the extension picks the format).
    """
    if not 0 < opacity <= 1:
        raise UsageError(f'opacity must be in (0, 1], got {opacity!r}')
    if len(palette) < len(classes):
        raise UsageError(f'{len(classes)} classes but {len(palette)} palette colours')
    image = _frame(frame)
    labels = _labels(labels, len(classes), image.shape[:2])
    colours = colour_labels(labels, palette)
    if side_by_side:
        painted = colours.copy()
    else:
        painted = np.clip(image.astype(np.float32) * (1 - opacity) + colours * opacity + 0.5,
                          0, 255).astype(np.uint8)
    if outline:
        painted[class_outlines(labels)] = 0
    parts = [image, painted] if side_by_side else [painted]
    if legend:
        parts.append(legend_panel(image.shape[0], legend_width(image.shape[1]), classes, palette,
                                  _present(labels, len(classes))))
    picture = np.ascontiguousarray(np.concatenate(parts, axis=1))
    if out_file is not None:
        os.makedirs(os.path.dirname(out_file) or '.', exist_ok=True)
        if not cv2.imwrite(out_file, picture):
            raise UsageError(f'could not write {out_file}; use an image extension such as .png or '
                             f'.jpg')
    return picture
