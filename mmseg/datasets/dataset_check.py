"""Scan a video dataset and list every problem (``tools/check_dataset.py``).

The checks are the ones the datasets make when they read (same functions, same messages), applied
to every file: split files, video folders, each frame (fully decoded, so truncated JPEGs are caught)
and each mask (present, single-channel, same size as its frame, values within the labels). Two
layouts:

- ``vspw``: masks are required for every split but ``test`` (VSPW publishes no test labels); a
  mask without a frame is reported too. Other layouts, suffixes and label sets are given as the
  datasets take them (``img_dir``, ``ann_dir``, ``img_suffix``, ``seg_map_suffix``, and ``valid``
  from :func:`~mmseg.datasets.file_io.label_tables`).
- ``cityscapes``: every frame of ``leftImg8bit_sequence`` and every ``labelTrainIds`` label; each
  labelled frame's snippet must be complete (a missing frame is a missing reference frame), a label
  needs its frame, and a frame outside every labelled snippet has no label.

Each problem has a ``kind`` (:data:`KINDS`); :func:`summary_table` counts them per split.
"""
import functools
import os
from multiprocessing import Pool
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from ..utils.table import text_table
from . import cityscapes as cs
from .file_io import (
    DataError,
    LabelValueError,
    MissingFileError,
    UnreadableFileError,
    label_tables,
    natural_sort_key,
    read_image,
    read_label,
)
from .vspw import (
    ANN_DIR,
    IMG_DIR,
    VSPW_CLASSES,
    check_classes,
    dir_template,
    has_mask_folder,
    list_video,
    read_split,
    split_path,
    video_folder,
)

__all__ = ['KINDS', 'LAYOUTS', 'scan_dataset', 'scan_config', 'summary_table', 'dataset_cfgs',
           'detect_layout']

LAYOUTS = ('vspw', 'cityscapes')
# problem kind -> its column in the summary table
KINDS = {'missing_reference': 'missing ref. frames', 'frame_without_label': 'frames w/o label',
         'label_without_frame': 'labels w/o frame', 'unreadable': 'empty/undecodable',
         'label_values': 'bad label values', 'other': 'other'}
_Task = Tuple[str, Optional[str], str]  # (frame path, mask path or None, split)


def _problem(path: str, message: str, kind: str, split: str, count: int = 1) -> Dict[str, Any]:
    problem = dict(path=path, problem=message, kind=kind, split=split)
    if count != 1:
        problem['count'] = count  # files it stands for (a run of frames, a folder)
    return problem


def _read_kind(err: DataError, mask: bool) -> str:
    if isinstance(err, UnreadableFileError):
        return 'unreadable'
    if isinstance(err, LabelValueError):
        return 'label_values'
    if mask and isinstance(err, MissingFileError):
        return 'frame_without_label'
    return 'other'


def _check_frame(task: _Task, valid: Optional[np.ndarray] = None) -> List[Dict[str, Any]]:
    frame_path, mask_path, split = task
    problems = []
    shape = None
    try:
        shape = read_image(frame_path, backend='pillow').shape
    except DataError as err:
        problems.append(_problem(frame_path, str(err), _read_kind(err, mask=False), split))
    if mask_path is not None:
        try:
            read_label(mask_path, num_classes=len(VSPW_CLASSES), expected_shape=shape,
                       frame_path=frame_path, valid=valid)
        except DataError as err:
            problems.append(_problem(mask_path, str(err), _read_kind(err, mask=True), split))
    return problems


def _video_tasks(root: str, split: str, video: str, masks_required: bool,
                 problems: List[Dict[str, Any]], layout: Dict[str, str]) -> List[_Task]:
    img_dir, ann_dir = layout['img_dir'], layout['ann_dir']
    img_suffix, seg_suffix = layout['img_suffix'], layout['seg_map_suffix']
    video_dir = video_folder(root, video, img_dir)
    try:
        frames = list_video(root, video, img_suffix, img_dir)
    except DataError as err:
        problems.append(_problem(video_dir, str(err), 'other', split))
        return []
    mask_dir = os.path.join(root, ann_dir.format(video=video))
    try:  # each frame's mask is checked on its own below
        has_masks = has_mask_folder(root, video, seg_suffix, required=masks_required,
                                    ann_dir=ann_dir)
    except DataError as err:
        problems.append(_problem(mask_dir, str(err), 'frame_without_label', split, len(frames)))
        has_masks = False
    origin = os.path.join(root, img_dir.format(video=video))
    masks = set(_names(mask_dir, seg_suffix)) if has_masks else set()
    for name in sorted(masks - set(frames), key=natural_sort_key):
        path = os.path.join(mask_dir, name + seg_suffix)
        frame = os.path.join(origin, name + img_suffix)
        problems.append(_problem(path, f'mask {path} has no frame {frame}', 'label_without_frame',
                                 split))
    for name in frames if has_masks else []:
        if name not in masks:
            path = os.path.join(mask_dir, name + seg_suffix)
            problems.append(_problem(path, f'mask {path} does not exist', 'frame_without_label',
                                     split))
    return [(os.path.join(origin, f + img_suffix),
             os.path.join(mask_dir, f + seg_suffix) if f in masks else None, split) for f in frames]


def _vspw_split_tasks(root: str, split: str, masks_required: bool, problems: List[Dict[str, Any]],
                      layout: Dict[str, str]) -> Tuple[int, List[_Task]]:
    """(videos, tasks) of a VSPW-layout split."""
    try:
        videos = read_split(root, split)
    except DataError as err:
        problems.append(_problem(split_path(root, split), str(err), 'other', split))
        return 0, []
    tasks: List[_Task] = []
    for video in videos:
        before = len(problems)
        tasks.extend(_video_tasks(root, split, video, masks_required, problems, layout))
        for problem in problems[before:]:
            problem['problem'] += f' (video listed in {split_path(root, split)})'
    return len(videos), tasks


def _names(folder: str, suffix: str) -> List[str]:
    if not os.path.isdir(folder):
        return []
    return sorted((n[:-len(suffix)] for n in os.listdir(folder) if n.endswith(suffix)),
                  key=natural_sort_key)


def _frame_runs(names: List[str]) -> List[List[str]]:
    """Frames of consecutive numbers in one sequence, grouped (names in natural order)."""
    runs: List[List[str]] = []
    previous = None
    for name in names:
        prefix, _, number = name.rpartition('_')
        key = (prefix, int(number)) if number.isdigit() else None
        if key is not None and previous is not None and key == (previous[0], previous[1] + 1):
            runs[-1].append(name)
        else:
            runs.append([name])
        previous = key
    return runs


def _cityscapes_split_tasks(root: str, split: str, problems: List[Dict[str, Any]],
                            layout: Dict[str, Any]) -> Tuple[int, List[_Task]]:
    """(snippets, tasks) of a Cityscapes-layout split; the listing problems go to ``problems``."""
    frame_root = os.path.join(root, layout['img_dir'], split)
    label_root = os.path.join(root, layout['ann_dir'], split)
    img_suffix, seg_suffix = layout['img_suffix'], layout['seg_map_suffix']
    for folder, what in ((frame_root, 'frame'), (label_root, 'label')):
        if not os.path.isdir(folder):
            problems.append(_problem(folder, f'{what} folder {folder} does not exist', 'other',
                                     split))
    if not (os.path.isdir(frame_root) and os.path.isdir(label_root)):
        return 0, []
    cities = sorted({c for folder in (frame_root, label_root) for c in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, c))})
    tasks: List[_Task] = []
    snippets = 0
    unconverted: List[str] = []
    for city in cities:
        frame_dir, label_dir = os.path.join(frame_root, city), os.path.join(label_root, city)
        present = _names(frame_dir, img_suffix)
        present_set = set(present)
        converted = set(_names(label_dir, seg_suffix))
        ids = (set() if seg_suffix == cs.LABEL_IDS_SUFFIX
               else set(_names(label_dir, cs.LABEL_IDS_SUFFIX)))
        unconverted += [os.path.join(label_dir, n + cs.LABEL_IDS_SUFFIX)
                        for n in sorted(ids - converted)]
        covered = set()
        for target in sorted(converted | ids, key=natural_sort_key):
            suffix = seg_suffix if target in converted else cs.LABEL_IDS_SUFFIX
            label = os.path.join(label_dir, target + suffix)
            try:
                names = cs.snippet_names(target, layout['snippet'])
            except DataError as err:
                problems.append(_problem(label, str(err), 'other', split))
                continue
            snippets += 1
            covered.update(names)
            if target not in present_set:
                frame = os.path.join(frame_dir, target + img_suffix)
                problems.append(_problem(label, f'label {label} has no frame {frame}',
                                         'label_without_frame', split))
            for name in names:
                if name != target and name not in present_set:
                    path = os.path.join(frame_dir, name + img_suffix)
                    problems.append(_problem(path, f'reference frame {path} is missing (snippet '
                                                   f'of labelled frame {target})',
                                             'missing_reference', split))
        for run in _frame_runs([n for n in present if n not in covered]):
            first = os.path.join(frame_dir, run[0] + img_suffix)
            problems.append(_problem(
                first, f'{len(run)} frame(s) {run[0]} .. {run[-1]} in {frame_dir} belong to no '
                       f'labelled snippet (no label within {-layout["snippet"][0]} frames after or '
                       f'{layout["snippet"][1]} before them in {label_dir})',
                'frame_without_label', split, len(run)))
        tasks += [(os.path.join(frame_dir, n + img_suffix),
                   os.path.join(label_dir, n + seg_suffix) if n in converted else None, split)
                  for n in present]
    if unconverted:
        problems.append(_problem(
            unconverted[0], f'{len(unconverted)} label(s) of {label_root} have only '
                            f'{cs.LABEL_IDS_SUFFIX}, e.g. {unconverted[0]}; write the {seg_suffix} '
                            f'with: python tools/convert_datasets/cityscapes.py {root}',
            'other', split, len(unconverted)))
    return snippets, tasks


def detect_layout(root: str) -> str:
    """``'cityscapes'`` when ``root`` holds ``leftImg8bit_sequence/``, else ``'vspw'``."""
    return 'cityscapes' if os.path.isdir(os.path.join(root, cs.IMG_DIR)) else 'vspw'


def scan_dataset(root: str, splits: Optional[Sequence[str]] = None, workers: int = 0,
                 progress: bool = True, *, layout: str = 'vspw', img_dir: Optional[str] = None,
                 ann_dir: Optional[str] = None, img_suffix: Optional[str] = None,
                 seg_map_suffix: Optional[str] = None, valid: Optional[np.ndarray] = None,
                 masks_optional: Sequence[str] = ('test',), snippet: Sequence[int] = cs.SNIPPET
                 ) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Check every file of ``splits`` under ``root``.

    Args:
        root: the dataset root (VSPW: holding ``<split>.txt`` and ``data/``; Cityscapes: holding
            ``leftImg8bit_sequence/`` and ``gtFine/``).
        splits: the splits to check (default VSPW: train, val, test; Cityscapes: train, val).
        workers: processes that read files (0: this process).
        progress: show a progress bar over the frames.
        layout: ``'vspw'`` or ``'cityscapes'``.
        img_dir, ann_dir, img_suffix, seg_map_suffix: the layout's folders and file endings
            (default the layout's; see ``VSPWVideoDataset`` and ``CityscapesVideoDataset``).
        valid: 256-entry table of the valid mask values (default VSPW's 0..124 and 255, the
            Cityscapes trainIds 0..18 and 255).
        masks_optional: VSPW splits whose videos may lack masks.
        snippet: Cityscapes: a snippet's frames relative to its labelled frame.

    Returns:
        (problems, counts): every problem as ``{'path', 'problem', 'kind', 'split'}`` (and
        ``count`` when it stands for several files) sorted by path; the numbers of videos (or
        snippets), frames and labelled frames checked, in all and per split (``per_split``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    city = layout == 'cityscapes'
    splits = list(splits or (('train', 'val') if city else ('train', 'val', 'test')))
    defaults = ((cs.IMG_DIR, cs.ANN_DIR, cs.IMG_SUFFIX, cs.SEG_MAP_SUFFIX) if city
                else (IMG_DIR, ANN_DIR, '.jpg', '.png'))
    folders = dict(zip(('img_dir', 'ann_dir', 'img_suffix', 'seg_map_suffix'), defaults))
    given = dict(img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix,
                 seg_map_suffix=seg_map_suffix)
    folders.update({k: v for k, v in given.items() if v is not None})
    if city:
        folders['snippet'] = cs.check_snippet(snippet)
        if valid is None:
            valid = label_tables(len(cs.CITYSCAPES_CLASSES))[1]
    problems: List[Dict[str, Any]] = []
    tasks: List[_Task] = []
    per_split: Dict[str, Dict[str, int]] = {}
    for split in splits:
        if city:
            videos, found = _cityscapes_split_tasks(root, split, problems, folders)
        else:
            videos, found = _vspw_split_tasks(root, split, split not in masks_optional, problems,
                                              folders)
        tasks.extend(found)
        per_split[split] = dict(videos=videos, frames=len(found),
                                labelled=sum(t[1] is not None for t in found))
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
    counts: Dict[str, Any] = {key: sum(s[key] for s in per_split.values())
                              for key in ('videos', 'frames', 'labelled')}
    counts.update(layout=layout, per_split=per_split)
    return problems, counts


def summary_table(problems: Sequence[Mapping[str, Any]], counts: Mapping[str, Any]) -> str:
    """One row per split (and one for all when there are several): videos (or snippets), frames,
    labelled frames and the number of files with each kind of problem."""
    city = counts.get('layout') == 'cityscapes'
    header = ['split', 'snippets' if city else 'videos', 'frames', 'labelled', *KINDS.values()]
    names = list(counts['per_split']) + (['all'] if len(counts['per_split']) > 1 else [])
    rows = []
    for name in names:
        numbers = counts if name == 'all' else counts['per_split'][name]
        found = [p for p in problems if name == 'all' or p['split'] == name]
        row = [name, numbers['videos'], numbers['frames'], numbers['labelled']]
        for kind in KINDS:
            # VSPW labels every frame, so a lost frame shows as a label without its frame
            row.append('-' if kind == 'missing_reference' and not city else
                       sum(p.get('count', 1) for p in found if p['kind'] == kind))
        rows.append(row)
    return text_table(header, rows)


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


def _config_layout(cfg: Mapping[str, Any]) -> str:
    from .builder import DATASETS
    dataset_type = DATASETS.get(cfg.get('type')) if isinstance(cfg.get('type'), str) else None
    return 'cityscapes' if isinstance(dataset_type, type) and issubclass(
        dataset_type, cs.CityscapesVideoDataset) else 'vspw'


def scan_config(data_cfg: Dict[str, Any], names: Sequence[str] = ('train', 'val', 'test'),
                workers: int = 0, progress: bool = True
                ) -> Tuple[List[Dict[str, Any]], Dict[str, Any], List[str]]:
    """:func:`scan_dataset` over the datasets of a config's ``data`` (layout, suffixes and labels as
    each dataset config gives them; masks required for train and val). Returns (problems, counts,
    the ``root:split`` pairs checked); the per-split counts are keyed ``root:split``."""
    problems: List[Dict[str, Any]] = []
    counts: Dict[str, Any] = dict(videos=0, frames=0, labelled=0, per_split={})
    checked: List[str] = []
    for name, cfg in dataset_cfgs(data_cfg).items():
        if name not in names:
            continue
        root, split = cfg['data_root'], cfg['split']
        if f'{root}:{split}' in checked:
            continue
        checked.append(f'{root}:{split}')
        layout = _config_layout(cfg)
        city = layout == 'cityscapes'
        classes, _ = check_classes(cfg.get('classes', cs.CITYSCAPES_CLASSES if city else None),
                                   cfg.get('palette'))
        _, valid = label_tables(len(classes), label_map=cfg.get('label_map'),
                                reduce_zero_label=cfg.get('reduce_zero_label', not city),
                                ignore_index=cfg.get('ignore_index', 255))
        dirs = {key: cfg.get(key) for key in ('img_dir', 'ann_dir')}
        if not city:  # the original's img_dir/ann_dir without {video} mean the VSPW layout
            dirs = {key: dir_template(key, cfg.get(key, default), default)
                    for key, default in (('img_dir', IMG_DIR), ('ann_dir', ANN_DIR))}
        found, num = scan_dataset(
            root, [split], workers=workers, progress=progress, layout=layout, **dirs,
            img_suffix=cfg.get('img_suffix'), seg_map_suffix=cfg.get('seg_map_suffix'), valid=valid,
            masks_optional=[] if name != 'test' else [split],
            snippet=cfg.get('snippet', cs.SNIPPET))
        for problem in found:
            problem['split'] = f'{root}:{split}'
        problems.extend(found)
        counts['layout'] = layout
        counts['per_split'][f'{root}:{split}'] = num['per_split'][split]
        for key in ('videos', 'frames', 'labelled'):
            counts[key] += num[key]
    return problems, counts, checked
