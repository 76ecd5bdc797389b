"""Reading frames and label maps, with errors that name the file and say what was expected.

Every check on a single file lives here, so the datasets (which read lazily, one clip at a time) and
``tools/check_dataset.py`` (which reads everything) report the same problems with the same words.
"""
import os
import re
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image

from ..utils.errors import DataError

__all__ = ['DataError', 'MissingFileError', 'UnreadableFileError', 'LabelValueError',
           'natural_sort_key', 'read_image', 'read_label', 'reduce_zero_label',
           'reduce_zero_label_table', 'label_tables', 'describe_values', 'IMAGE_BACKENDS']

IMAGE_BACKENDS = ('cv2', 'pillow')


class MissingFileError(DataError):
    """A frame or label file that does not exist."""


class UnreadableFileError(DataError):
    """A file that is empty (0 bytes) or cannot be decoded."""


class LabelValueError(DataError):
    """A label map holding values outside the dataset's labels."""


def natural_sort_key(name: str) -> List[Union[int, str]]:
    """Sort key that orders the digit runs of ``name`` by value: ``'2.jpg'`` before ``'10.jpg'``."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def _read_bytes(path: str, what: str) -> bytes:
    if not os.path.isfile(path):
        raise MissingFileError(f'{what} {path} does not exist')
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        hint = (' (VSPW video 988_f_Xvy_DCPt8 ships such frames: use the replacement archive.)'
                if path.endswith('.jpg') else '')
        raise UnreadableFileError(f'{what} {path} is empty (0 bytes); expected an image '
                                  f'file.{hint}')
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
            raise UnreadableFileError(f'frame {path} could not be decoded; expected a '
                                      f'JPEG/PNG image')
        return img
    try:
        with Image.open(path) as pil:
            pil.load()
            rgb = np.asarray(pil.convert('RGB'))
    except (OSError, SyntaxError, ValueError) as err:
        raise UnreadableFileError(f'frame {path} could not be decoded ({err}); expected a '
                                  f'complete JPEG/PNG image') from err
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _valid_label_table(num_classes: int, ignore_index: int) -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    table[:num_classes + 1] = 1
    table[ignore_index] = 1
    return table


def describe_values(valid: np.ndarray) -> str:
    """The values marked in a 256-entry table as ranges: ``'0..124 and 255'``."""
    values = np.flatnonzero(valid).tolist()
    runs: List[List[int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    parts = [f'{a}' if a == b else f'{a}..{b}' for a, b in runs]
    return ' and '.join([', '.join(parts[:-1]), parts[-1]]) if len(parts) > 1 else ''.join(parts)


def label_tables(num_classes: int, *, reduce_zero_label: bool = False,
                 label_map: Optional[Mapping[int, int]] = None, ignore_index: int = 255
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """The 256-entry tables of a dataset's labels: (raw -> training id, uint8; raw value valid,
    bool).

    ``label_map`` (raw -> id; unlisted values are kept) is applied first, then ``reduce_zero_label``
    (0 -> ignore, k -> k-1), as in mmseg. A raw value is valid when it ends as a training id
    0..num_classes-1 or as ``ignore_index``.
    """
    table = np.arange(256, dtype=np.int64)
    for raw, new in (label_map or {}).items():
        if not (0 <= int(raw) <= 255 and 0 <= int(new) <= 255):
            raise ValueError(f'label_map maps {raw!r} -> {new!r}; expected 8-bit label values '
                             f'0..255')
        table[int(raw)] = int(new)
    if reduce_zero_label:
        table = reduce_zero_label_table(ignore_index).astype(np.int64)[table]
    valid = (table < num_classes) | (table == ignore_index)
    return table.astype(np.uint8), valid


def read_label(path: str, *, num_classes: int = 124, ignore_index: int = 255,
               expected_shape: Optional[Sequence[int]] = None, frame_path: Optional[str] = None,
               valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Read a raw VSPW label map: a single-channel 8-bit PNG with values 0..num_classes and 255.

    Args:
        path: the mask file.
        num_classes: the largest valid class value (raw 0 is "others", 1..num_classes classes).
        ignore_index: the void value, also valid.
        expected_shape: (H, W) of the frame; a mask of another size is an error.
        frame_path: the frame the mask belongs to, named in the size error.
        valid: a 256-entry bool table of the valid values (see :func:`label_tables`); replaces the
            ``0..num_classes`` and ``ignore_index`` rule.

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
        raise UnreadableFileError(f'mask {path} could not be decoded ({err}); expected a PNG '
                                  f'label map') from err
    if mode not in ('L', 'P'):
        kind = 'a colour' if mode in ('RGB', 'RGBA', 'LA', 'CMYK', 'YCbCr') else f'a {mode!r}-mode'
        raise DataError(f'mask {path} is {kind} image; expected a single-channel 8-bit index PNG '
                        f'(mode "P" or "L") whose pixel values are class ids')
    if expected_shape is not None and tuple(label.shape) != tuple(expected_shape[:2]):
        of = f' of frame {frame_path}' if frame_path else ''
        raise DataError(f'mask {path} has size {label.shape[0]}x{label.shape[1]} (HxW); expected '
                        f'the size{of}, {expected_shape[0]}x{expected_shape[1]}')
    table = (_valid_label_table(num_classes, ignore_index) if valid is None
             else np.asarray(valid, dtype=np.uint8))
    ok = cv2.LUT(label, table).view(bool)
    if not ok.all():
        bad = np.unique(label[~ok])
        raise LabelValueError(f'mask {path} holds values {bad.tolist()[:10]}; expected only '
                        f'{describe_values(table)}')
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
