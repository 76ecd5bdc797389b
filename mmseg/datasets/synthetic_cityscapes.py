"""A small synthetic dataset in the Cityscapes layout, generated deterministically (no download).

Each snippet is 30 frames of a moving scene (the synthetic VSPW scenes: sky or buildings above a
horizon, road and terrain below, trees, a sign, cars, people and bouncing balls; the bottom rows
are the ego vehicle's bonnet), written as
``leftImg8bit_sequence/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png``. Its 20th frame, and
only that one, has the official 34-id label image ``gtFine/<split>/<city>/..._gtFine_labelIds.png``
with ids that map to trainIds (road, building, terrain, vegetation, sky, person, car) and ids that
map to 255 (the sign "static", balls "dynamic", outlines "unlabeled", the bonnet "ego vehicle").
``tools/convert_datasets/cityscapes.py`` then writes the ``_gtFine_labelTrainIds.png`` the
datasets read, as for the real data.

Snippets come in pairs per sequence id (one starting at frame 0, one further on), as some
Cityscapes cities number several snippets in one sequence. The same arguments give byte-identical
files; each snippet depends only on (seed, split, city, its index).
"""
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from .cityscapes import ANN_DIR, IMG_DIR, IMG_SUFFIX, LABEL_IDS_SUFFIX, SNIPPET
from .synthetic_vspw import (
    BALL,
    CAR,
    GRASS,
    OTHERS,
    PERSON,
    ROAD,
    SKY,
    TREE,
    VOID,
    WALL,
    render_video,
)

__all__ = ['CITY_NAMES', 'make_synthetic_cityscapes']

CITY_NAMES = ('alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel')
EGO_VEHICLE = 1
# synthetic VSPW raw id -> Cityscapes labelId
_LABEL_IDS = {SKY: 23, WALL: 11, ROAD: 7, GRASS: 22, CAR: 26, PERSON: 24, TREE: 21,
              BALL: 5, OTHERS: 4, VOID: 0}


def _label_id_table() -> np.ndarray:
    table = np.zeros(256, np.uint8)
    for raw, label_id in _LABEL_IDS.items():
        table[raw] = label_id
    return table


def _snippet(rng: np.random.Generator, height: int, width: int, num_frames: int
             ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Frames (RGB uint8) and labelId maps of one snippet."""
    frames, raw = render_video(rng, num_frames, height, width)
    labels = [_label_id_table()[r] for r in raw]
    bonnet = max(height // 10, 1)
    shade = rng.uniform(40, 70)
    for frame, label in zip(frames, labels):
        noise = rng.normal(0, 2.5, (bonnet, width, 1))
        frame[-bonnet:] = np.clip(shade + noise, 0, 255).astype(np.uint8)
        label[-bonnet:] = EGO_VEHICLE
    return frames, labels


def make_synthetic_cityscapes(out: str, *, cities: Sequence[int] = (2, 1), snippets: int = 2,
                              seed: int = 0, size: Sequence[int] = (128, 256)
                              ) -> Dict[str, List[str]]:
    """Write a synthetic Cityscapes-layout dataset to ``out``; return the labelled frames (names
    without suffix) per split.

    Args:
        out: the dataset root (gets ``leftImg8bit_sequence/`` and ``gtFine/``).
        cities: the number of cities of train and of val (each city named once, from
            :data:`CITY_NAMES`).
        snippets: snippets per city (30 frames each, the 20th labelled).
        seed: the random seed.
        size: (H, W) of the frames.
    """
    height, width = size
    if len(cities) != 2 or min(cities) < 1 or sum(cities) > len(CITY_NAMES):
        raise ValueError(f'cities must give 1..{len(CITY_NAMES)} cities in all for train and val, '
                         f'at least one each, got {cities!r}')
    if snippets < 1 or height < 32 or width < 32:
        raise ValueError(f'need snippets >= 1 and H, W >= 32; got snippets={snippets}, size={size}')
    before, after = -SNIPPET[0], SNIPPET[1]
    names = iter(CITY_NAMES)
    labelled: Dict[str, List[str]] = {}
    for split_index, (split, count) in enumerate(zip(('train', 'val'), cities)):
        labelled[split] = []
        for city_index in range(count):
            city = next(names)
            frame_dir = os.path.join(out, IMG_DIR, split, city)
            label_dir = os.path.join(out, ANN_DIR, split, city)
            os.makedirs(frame_dir, exist_ok=True)
            os.makedirs(label_dir, exist_ok=True)
            for index in range(snippets):
                rng = np.random.default_rng([seed, split_index, city_index, index])
                number = before + (0 if index % 2 == 0 else 30 * int(rng.integers(3, 12)))
                stem = f'{city}_{index // 2:06d}_'
                frames, labels = _snippet(rng, height, width, before + 1 + after)
                for t, frame in enumerate(frames):
                    name = f'{stem}{number - before + t:06d}'
                    Image.fromarray(frame).save(os.path.join(frame_dir, name + IMG_SUFFIX),
                                                format='PNG')
                target = f'{stem}{number:06d}'
                Image.fromarray(labels[before]).save(  # uint8 (H, W): mode L
                    os.path.join(label_dir, target + LABEL_IDS_SUFFIX), format='PNG')
                labelled[split].append(target)
    return labelled
