"""Scan a video dataset and list every problem (``tools/check_dataset.py``).

The checks are the ones the datasets make when they read (same functions, same messages), applied
to every file: split files, video folders, each frame (fully decoded, so truncated JPEGs are caught)
and each mask (present, single-channel, same size as its frame, values 0..124 and 255). Masks are
required for every split but ``test`` (VSPW publishes no test labels); a mask without a frame is
reported too. Other layouts, suffixes and label sets are given as the datasets take them
(``img_dir``, ``ann_dir``, ``img_suffix``, ``seg_map_suffix``, and ``valid`` from
:func:`~mmseg.datasets.file_io.label_tables`).
"""
import functools
import os
from multiprocessing import Pool
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from tqdm import tqdm

import numpy as np

from .file_io import DataError, read_image, read_label
from .vspw import (ANN_DIR, IMG_DIR, VSPW_CLASSES, dir_template, has_mask_folder, list_video,
                   read_split, split_path, video_folder)

__all__ = ['scan_dataset']

_Task = Tuple[str, Optional[str]]  # (frame path, mask path or None)


def _problem(path: str, message: str) -> Dict[str, str]:
    return dict(path=path, problem=message)


def _check_frame(task: _Task, valid: Optional[np.ndarray] = None) -> List[Dict[str, str]]:
    frame_path, mask_path = task
    problems = []
    shape = None
    try:
        shape = read_image(frame_path, backend='pillow').shape
    except DataError as err:
        problems.append(_problem(frame_path, str(err)))
    if mask_path is not None:
        try:
            read_label(mask_path, num_classes=len(VSPW_CLASSES), expected_shape=shape,
                       frame_path=frame_path, valid=valid)
        except DataError as err:
            problems.append(_problem(mask_path, str(err)))
    return problems


def _video_tasks(root: str, video: str, masks_required: bool, problems: List[Dict[str, str]],
                 layout: Dict[str, str]) -> List[_Task]:
    img_dir, ann_dir = layout['img_dir'], layout['ann_dir']
    img_suffix, seg_suffix = layout['img_suffix'], layout['seg_map_suffix']
    video_dir = video_folder(root, video, img_dir)
    try:
        frames = list_video(root, video, img_suffix, img_dir)
    except DataError as err:
        problems.append(_problem(video_dir, str(err)))
        return []
    mask_dir = os.path.join(root, ann_dir.format(video=video))
    try:  # each frame's mask is checked on its own below
        has_masks = has_mask_folder(root, video, seg_suffix, required=masks_required, ann_dir=ann_dir)
    except DataError as err:
        problems.append(_problem(mask_dir, str(err)))
        has_masks = False
    origin = os.path.join(root, img_dir.format(video=video))
    if has_masks:
        frame_set = set(frames)
        for name in sorted(os.listdir(mask_dir)):
            if name.endswith(seg_suffix) and name[:-len(seg_suffix)] not in frame_set:
                path = os.path.join(mask_dir, name)
                problems.append(_problem(path, f'mask {path} has no frame '
                                               f'{os.path.join(origin, name[:-len(seg_suffix)])}{img_suffix}'))
    return [(os.path.join(origin, f + img_suffix),
             os.path.join(mask_dir, f + seg_suffix) if has_masks else None) for f in frames]


def scan_dataset(root: str, splits: Sequence[str] = ('train', 'val', 'test'), workers: int = 0,
                 progress: bool = True, *, img_dir: str = IMG_DIR, ann_dir: str = ANN_DIR,
                 img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 valid: Optional[np.ndarray] = None, masks_optional: Sequence[str] = ('test',)
                 ) -> Tuple[List[Dict[str, str]], Dict[str, int]]:
    """Check every file of ``splits`` under ``root``.

    Args:
        root: the dataset root (holding ``<split>.txt`` and ``data/``).
        splits: the splits to check.
        workers: processes that read files (0: this process).
        progress: show a progress bar over the frames.
        img_dir, ann_dir, img_suffix, seg_map_suffix: the layout (see ``VSPWVideoDataset``).
        valid: 256-entry table of the valid mask values (default VSPW's 0..124 and 255).
        masks_optional: splits whose videos may lack masks.

    Returns:
        (problems, counts): every problem as ``{'path', 'problem'}`` sorted by path, and the numbers
        of videos and frames checked.
    """
    problems: List[Dict[str, str]] = []
    tasks: List[_Task] = []
    num_videos = 0
    layout = dict(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix)
    for split in splits:
        try:
            videos = read_split(root, split)
        except DataError as err:
            problems.append(_problem(split_path(root, split), str(err)))
            continue
        for video in videos:
            num_videos += 1
            before = len(problems)
            tasks.extend(_video_tasks(root, video, split not in masks_optional, problems, layout))
            for problem in problems[before:]:
                problem['problem'] += f' (video listed in {split_path(root, split)})'
    bar = tqdm(total=len(tasks), unit='frame', desc='checking', disable=not progress)
    if workers > 0:
        with Pool(workers) as pool:
            for found in pool.imap_unordered(functools.partial(_check_frame, valid=valid), tasks,
                                             chunksize=64):
                problems.extend(found)
                bar.update()
    else:
        for task in tasks:
            problems.extend(_check_frame(task, valid))
            bar.update()
    bar.close()
    problems.sort(key=lambda p: (p['path'], p['problem']))
    return problems, dict(videos=num_videos, frames=len(tasks))


def dataset_cfgs(data_cfg: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The configs of ``data.train`` (``RepeatDataset`` unwrapped), ``data.val`` and ``data.test``
    that are present, by name."""
    out = {}
    for name in ('train', 'val', 'test'):
        cfg = data_cfg.get(name)
        while isinstance(cfg, Mapping) and 'dataset' in cfg:
            cfg = cfg['dataset']
        if isinstance(cfg, Mapping):
            out[name] = dict(cfg)
    return out


def scan_config(data_cfg: Dict[str, Any], names: Sequence[str] = ('train', 'val', 'test'),
                workers: int = 0, progress: bool = True
                ) -> Tuple[List[Dict[str, str]], Dict[str, int], List[str]]:
    """:func:`scan_dataset` over the datasets of a config's ``data`` (layout, suffixes and labels as
    each dataset config gives them; masks required for train and val). Returns (problems, counts,
    the ``root:split`` pairs checked)."""
    from .vspw import check_classes
    from .file_io import label_tables
    problems: List[Dict[str, str]] = []
    counts = dict(videos=0, frames=0)
    checked: List[str] = []
    for name, cfg in dataset_cfgs(data_cfg).items():
        if name not in names:
            continue
        root, split = cfg['data_root'], cfg['split']
        if f'{root}:{split}' in checked:
            continue
        checked.append(f'{root}:{split}')
        classes, _ = check_classes(cfg.get('classes'), cfg.get('palette'))
        _, valid = label_tables(len(classes), reduce_zero_label=cfg.get('reduce_zero_label', True),
                                label_map=cfg.get('label_map'), ignore_index=cfg.get('ignore_index', 255))
        found, num = scan_dataset(
            root, [split], workers=workers, progress=progress,
            img_dir=dir_template('img_dir', cfg.get('img_dir', IMG_DIR), IMG_DIR),
            ann_dir=dir_template('ann_dir', cfg.get('ann_dir', ANN_DIR), ANN_DIR),
            img_suffix=cfg.get('img_suffix', '.jpg'),
            seg_map_suffix=cfg.get('seg_map_suffix', '.png'), valid=valid,
            masks_optional=[] if name != 'test' else [split])
        problems.extend(found)
        counts['videos'] += num['videos']
        counts['frames'] += num['frames']
    return problems, counts, checked
