"""A small 3-class video dataset in a non-VSPW layout, for the custom-dataset tutorial
(``docs/custom_dataset.md``, ``tools/make_toy_dataset.py``).

Layout under ``out``::

    splits/train.txt, splits/val.txt      one video name per line
    videos/<name>/frames/<i>.png          RGB frames
    videos/<name>/labels/<i>.png          labels: 0 background, 1 ball, 2 box, 255 void (a thin
                                          ring around each ball, where the edge is ambiguous)
"""
import os
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

__all__ = ['TOY_CLASSES', 'TOY_PALETTE', 'make_toy_dataset']

TOY_CLASSES = ('background', 'ball', 'box')
TOY_PALETTE = ((150, 190, 120), (220, 60, 60), (60, 120, 220))


def _video(rng: np.random.Generator, num_frames: int, height: int, width: int):
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.uniform(60, 160, 3)
    tilt = rng.uniform(-40, 40, 3)
    background = base + tilt * (yy / height)[..., None]
    ball_r = rng.uniform(0.12, 0.2) * min(height, width)
    ball = np.array([rng.uniform(ball_r, height - ball_r), rng.uniform(ball_r, width - ball_r)])
    ball_v = rng.uniform(-3, 3, 2)
    box_hw = (rng.uniform(0.2, 0.35, 2) * (height, width)).astype(int)
    box = np.array([rng.uniform(0, height - box_hw[0]), rng.uniform(0, width - box_hw[1])])
    box_v = rng.uniform(-2, 2, 2)
    ball_colour, box_colour = (rng.uniform(150, 255, 3) * (1, 0.4, 0.4),
                               rng.uniform(150, 255, 3) * (0.4, 0.6, 1))
    for _ in range(num_frames):
        image = background + rng.normal(0, 6, (height, width, 3))
        label = np.zeros((height, width), np.uint8)
        top, left = box.astype(int)
        image[top:top + box_hw[0], left:left + box_hw[1]] = box_colour
        label[top:top + box_hw[0], left:left + box_hw[1]] = 2
        dist = np.hypot(yy - ball[0], xx - ball[1])
        image[dist <= ball_r] = ball_colour
        label[dist <= ball_r] = 1
        label[np.abs(dist - ball_r) < 1.0] = 255
        yield np.clip(image, 0, 255).astype(np.uint8), label
        ball = np.clip(ball + ball_v, ball_r, (height - ball_r, width - ball_r))
        box = np.clip(box + box_v, 0, (height - box_hw[0], width - box_hw[1]))


def make_toy_dataset(out: str, *, videos: int = 6, frames: Sequence[int] = (12, 24),
                     size: Sequence[int] = (64, 96), seed: int = 0) -> Dict[str, List[str]]:
    """Write the toy dataset to ``out`` (a third of the videos, at least 1, go to val) and return
    the video names per split."""
    height, width = size
    if videos < 2 or not 1 <= frames[0] <= frames[1] or min(height, width) < 32:
        raise ValueError(f'need videos >= 2, 1 <= min frames <= max frames and H, W >= 32; got '
                         f'videos={videos}, frames={frames}, size={size}')
    num_val = max(1, videos // 3)
    splits: Dict[str, List[str]] = {'train': [], 'val': []}
    for index in range(videos):
        rng = np.random.default_rng([seed, index])
        name = f'clip_{index:03d}'
        frame_dir = os.path.join(out, 'videos', name, 'frames')
        label_dir = os.path.join(out, 'videos', name, 'labels')
        os.makedirs(frame_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        length = int(rng.integers(frames[0], frames[1] + 1))
        for t, (image, label) in enumerate(_video(rng, length, height, width)):
            Image.fromarray(image).save(os.path.join(frame_dir, f'{t}.png'))
            Image.fromarray(label).save(os.path.join(label_dir, f'{t}.png'))
        splits['val' if index >= videos - num_val else 'train'].append(name)
    os.makedirs(os.path.join(out, 'splits'), exist_ok=True)
    for split, names in splits.items():
        with open(os.path.join(out, 'splits', f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.write(''.join(n + '\n' for n in names))
    return splits
