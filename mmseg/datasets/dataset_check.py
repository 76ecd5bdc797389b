"""Scan a VSPW-layout dataset and list every problem (``tools/check_dataset.py``).

The checks are the ones the datasets make when they read (same functions, same messages), applied
to every file: split files, video folders, each frame (fully decoded, so truncated JPEGs are caught)
and each mask (present, single-channel, same size as its frame, values 0..124 and 255). Masks are
required for every split but ``test`` (VSPW publishes no test labels); a mask without a frame is
reported too.
"""
import os
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from .file_io import DataError, read_image, read_label
from .vspw import VSPW_CLASSES, has_mask_folder, list_video, read_split

__all__ = ['scan_dataset']

_Task = Tuple[str, Optional[str]]  # (frame path, mask path or None)


def _problem(path: str, message: str) -> Dict[str, str]:
    return dict(path=path, problem=message)


def _check_frame(task: _Task) -> List[Dict[str, str]]:
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
                       frame_path=frame_path)
        except DataError as err:
            problems.append(_problem(mask_path, str(err)))
    return problems


def _video_tasks(root: str, video: str, masks_required: bool, problems: List[Dict[str, str]]
                 ) -> List[_Task]:
    video_dir = os.path.join(root, 'data', video)
    try:
        frames = list_video(root, video)
    except DataError as err:
        problems.append(_problem(video_dir, str(err)))
        return []
    mask_dir = os.path.join(video_dir, 'mask')
    try:  # each frame's mask is checked on its own below
        has_masks = has_mask_folder(root, video, required=masks_required)
    except DataError as err:
        problems.append(_problem(mask_dir, str(err)))
        has_masks = False
    if has_masks:
        frame_set = set(frames)
        for name in sorted(os.listdir(mask_dir)):
            if name.endswith('.png') and name[:-4] not in frame_set:
                path = os.path.join(mask_dir, name)
                problems.append(_problem(path, f'mask {path} has no frame '
                                               f'{os.path.join(video_dir, "origin", name[:-4])}.jpg'))
    origin = os.path.join(video_dir, 'origin')
    return [(os.path.join(origin, f + '.jpg'), os.path.join(mask_dir, f + '.png') if has_masks else None)
            for f in frames]


def scan_dataset(root: str, splits: Sequence[str] = ('train', 'val', 'test'), workers: int = 0,
                 progress: bool = True) -> Tuple[List[Dict[str, str]], Dict[str, int]]:
    """Check every file of ``splits`` under ``root``.

    Args:
        root: the dataset root (holding ``<split>.txt`` and ``data/``).
        splits: the splits to check.
        workers: processes that read files (0: this process).
        progress: show a progress bar over the frames.

    Returns:
        (problems, counts): every problem as ``{'path', 'problem'}`` sorted by path, and the numbers
        of videos and frames checked.
    """
    problems: List[Dict[str, str]] = []
    tasks: List[_Task] = []
    num_videos = 0
    for split in splits:
        try:
            videos = read_split(root, split)
        except DataError as err:
            problems.append(_problem(os.path.join(root, f'{split}.txt'), str(err)))
            continue
        for video in videos:
            num_videos += 1
            before = len(problems)
            tasks.extend(_video_tasks(root, video, split != 'test', problems))
            for problem in problems[before:]:
                problem['problem'] += f' (video listed in {os.path.join(root, split)}.txt)'
    bar = tqdm(total=len(tasks), unit='frame', desc='checking', disable=not progress)
    if workers > 0:
        with Pool(workers) as pool:
            for found in pool.imap_unordered(_check_frame, tasks, chunksize=64):
                problems.extend(found)
                bar.update()
    else:
        for task in tasks:
            problems.extend(_check_frame(task))
            bar.update()
    bar.close()
    problems.sort(key=lambda p: (p['path'], p['problem']))
    return problems, dict(videos=num_videos, frames=len(tasks))
