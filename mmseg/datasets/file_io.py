"""Reading frames and label maps, with errors that name the file and say what was expected.

Every check on a single file lives here, so the datasets (which read lazily, one clip at a time) and
``tools/check_dataset.py`` (which reads everything) report the same problems with the same words.
"""
import os
import re
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
from PIL import Image

from ..utils.errors import DataError

__all__ = ['DataError', 'natural_sort_key', 'read_image', 'read_label', 'reduce_zero_label',
           'reduce_zero_label_table', 'IMAGE_BACKENDS']

IMAGE_BACKENDS = ('cv2', 'pillow')


def natural_sort_key(name: str) -> List[Union[int, str]]:
    """Sort key that orders the digit runs of ``name`` by value: ``'2.jpg'`` before ``'10.jpg'``."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def _read_bytes(path: str, what: str) -> bytes:
    if not os.path.isfile(path):
        raise DataError(f'{what} {path} does not exist')
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        raise DataError(f'{what} {path} is empty (0 bytes); expected an image file. (VSPW video '
                        f'988_f_Xvy_DCPt8 ships such frames: use the replacement archive.)')
    return data


def read_image(path: str, backend: str = 'cv2') -> np.ndarray:
    """Read an image file as a uint8 (H, W, 3) array in **BGR** channel order.

    Args:
        path: the image file.
        backend: ``'cv2'`` (fast) or ``'pillow'`` (also detects truncated JPEGs, which OpenCV
            decodes with a grey bottom and only a warning on stderr).
    """
    if backend not in IMAGE_BACKENDS:
        raise ValueError(f'image backend must be one of {IMAGE_BACKENDS}, got {backend!r}')
    data = _read_bytes(path, 'frame')
    if backend == 'cv2':
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f'frame {path} could not be decoded; expected a JPEG/PNG image')
        return img
    try:
        with Image.open(path) as pil:
            pil.load()
            rgb = np.asarray(pil.convert('RGB'))
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f'frame {path} could not be decoded ({err}); expected a complete '
                        f'JPEG/PNG image') from err
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _valid_label_table(num_classes: int, ignore_index: int) -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    table[:num_classes + 1] = 1
    table[ignore_index] = 1
    return table


def read_label(path: str, *, num_classes: int = 124, ignore_index: int = 255,
               expected_shape: Optional[Sequence[int]] = None, frame_path: Optional[str] = None
               ) -> np.ndarray:
    """Read a raw VSPW label map: a single-channel 8-bit PNG with values 0..num_classes and 255.

    Args:
        path: the mask file.
        num_classes: the largest valid class value (raw 0 is "others", 1..num_classes classes).
        ignore_index: the void value, also valid.
        expected_shape: (H, W) of the frame; a mask of another size is an error.
        frame_path: the frame the mask belongs to, named in the size error.

    Returns:
        the raw label map, uint8 (H, W).
    """
    _read_bytes(path, 'mask')
    try:
        with Image.open(path) as pil:
            pil.load()
            mode = pil.mode
            label = np.asarray(pil)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f'mask {path} could not be decoded ({err}); expected a PNG label map') from err
    if mode not in ('L', 'P'):
        kind = 'a colour' if mode in ('RGB', 'RGBA', 'LA', 'CMYK', 'YCbCr') else f'a {mode!r}-mode'
        raise DataError(f'mask {path} is {kind} image; expected a single-channel 8-bit index PNG '
                        f'(mode "P" or "L") whose pixel values are class ids')
    if expected_shape is not None and tuple(label.shape) != tuple(expected_shape[:2]):
        of = f' of frame {frame_path}' if frame_path else ''
        raise DataError(f'mask {path} has size {label.shape[0]}x{label.shape[1]} (HxW); expected '
                        f'the size{of}, {expected_shape[0]}x{expected_shape[1]}')
    valid = cv2.LUT(label, _valid_label_table(num_classes, ignore_index)).view(bool)
    if not valid.all():
        bad = np.unique(label[~valid])
        raise DataError(f'mask {path} holds values {bad.tolist()[:10]}; expected only 0..{num_classes} '
                        f'and {ignore_index}')
    return label




def reduce_zero_label_table(ignore_index: int = 255) -> np.ndarray:
    """The 256-entry uint8 table of VSPW's label shift (mmseg ``reduce_zero_label``): raw 0 and
    ``ignore_index`` map to ``ignore_index``, raw k (k >= 1) to k - 1."""
    table = np.arange(256, dtype=np.int64) - 1
    table[0] = ignore_index
    table[ignore_index] = ignore_index
    return table.astype(np.uint8)


def reduce_zero_label(label: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """Apply :func:`reduce_zero_label_table` to a uint8 label map."""
    return cv2.LUT(label, reduce_zero_label_table(ignore_index))
