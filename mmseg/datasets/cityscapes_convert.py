"""Write the ``*_gtFine_labelTrainIds.png`` the Cityscapes datasets read from the official
``*_gtFine_labelIds.png`` (``tools/convert_datasets/cityscapes.py``).

Each labelId becomes its trainId by the official table
(:data:`~mmseg.datasets.cityscapes.CITYSCAPES_LABELS`): the 19 trained ids become 0..18, every
other id (and 255, the license plate's -1) becomes 255. A label holding another value is reported,
not converted. A trainIds file that exists and is not empty is kept; files are written to a
temporary name and renamed, so an interrupted run leaves no half-written label behind.
"""
import contextlib
import functools
import os
from multiprocessing import Pool
from typing import Any, Dict, List, Tuple

import cv2
from PIL import Image
from tqdm import tqdm

from .cityscapes import ANN_DIR, LABEL_IDS_SUFFIX, SEG_MAP_SUFFIX, label_id_table
from .file_io import DataError, read_label

__all__ = ['label_id_files', 'convert_label_ids', 'convert_label_file']


def label_id_files(root: str, ann_dir: str = ANN_DIR) -> List[str]:
    """Every ``*_gtFine_labelIds.png`` under ``root/ann_dir`` (any split and city), sorted."""
    found = []
    for folder, _, names in os.walk(os.path.join(root, ann_dir)):
        found += [os.path.join(folder, n) for n in names if n.endswith(LABEL_IDS_SUFFIX)]
    return sorted(found)


def convert_label_file(path: str, overwrite: bool = False) -> Tuple[str, str]:
    """Write the trainIds image of the labelIds image ``path``; return (``'written'``,
    ``'skipped'`` or ``'failed'``, the error message or '')."""
    out = path[:-len(LABEL_IDS_SUFFIX)] + SEG_MAP_SUFFIX
    if not overwrite and os.path.isfile(out) and os.path.getsize(out) > 0:
        return 'skipped', ''
    table, valid = label_id_table()
    try:
        label_ids = read_label(path, valid=valid)
    except DataError as err:
        return 'failed', f'{err} (official Cityscapes labelIds: 0..33, and 255 for -1)'
    part = out + '.part'
    Image.fromarray(cv2.LUT(label_ids, table)).save(part, format='PNG')
    os.replace(part, out)
    return 'written', ''


def convert_label_ids(root: str, *, workers: int = 0, progress: bool = True,
                      overwrite: bool = False, ann_dir: str = ANN_DIR) -> Dict[str, Any]:
    """Convert every labelIds image under ``root/ann_dir``.

    Args:
        root: the Cityscapes root (holding ``gtFine/``).
        workers: processes (0: this one).
        progress: show a progress bar.
        overwrite: rewrite trainIds images that exist.
        ann_dir: the label folder.

    Returns:
        ``labels`` (labelIds images found), ``written``, ``skipped`` (their trainIds image
        existed) and ``failed`` (one message per label that could not be converted).
    """
    files = label_id_files(root, ann_dir)
    if not files:
        raise DataError(f'no *{LABEL_IDS_SUFFIX} under {os.path.join(root, ann_dir)}; expected '
                        f'{ann_dir}/<split>/<city>/<city>_<seq>_<frame>{LABEL_IDS_SUFFIX} '
                        f'(from gtFine_trainvaltest.zip)')
    counts: Dict[str, Any] = dict(labels=len(files), written=0, skipped=0, failed=[])
    convert = functools.partial(convert_label_file, overwrite=overwrite)
    bar = tqdm(total=len(files), unit='label', desc='converting', disable=not progress)
    with Pool(workers) if workers > 0 else contextlib.nullcontext() as pool:
        results = pool.imap_unordered(convert, files, chunksize=16) if pool else map(convert, files)
        for status, message in results:
            if status == 'failed':
                counts['failed'].append(message)
            else:
                counts[status] += 1
            bar.update()
    bar.close()
    counts['failed'].sort()
    return counts

