"""A small synthetic dataset in the exact VSPW layout, generated deterministically.

Each video is a camera panning over a textured scene (sky or brick wall above a wavy horizon, road
and/or grass below, static trees and an "others" sign) while cars, people and bouncing balls move
and occlude each other. Labels are real VSPW raw ids; some pixels are raw 0 ("others", the sign)
and 255 (void outlines around some objects). Every class draws its colour from a shared pool, so
colour alone does not tell the classes apart: texture, shape and position do.

The same arguments give byte-identical files (PIL's JPEG and PNG encoders are deterministic for
fixed options); each video depends only on (seed, its index).
"""
import os
import string
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from ..core.evaluation.result_writers import palette_image
from .vspw import VSPW_CLASSES, VSPW_PALETTE

__all__ = ['SYNTHETIC_CLASSES', 'make_synthetic_vspw', 'render_video']

# raw VSPW id of each class the generator draws
SKY, WALL, ROAD, GRASS = 29, 1, 19, 16
CAR, PERSON, TREE, BALL = 49, 61, 67, 75
OTHERS, VOID = 0, 255
SYNTHETIC_CLASSES = {i: VSPW_CLASSES[i - 1]
                     for i in (WALL, GRASS, ROAD, SKY, CAR, PERSON, TREE, BALL)}

_POOL = np.array([(200, 200, 210), (110, 140, 200), (90, 150, 80), (150, 110, 80), (190, 70, 60),
                  (85, 85, 95), (215, 185, 90), (140, 90, 160)], dtype=np.float32)  # RGB
_LIGHT, _BLUE, _GREEN, _BROWN, _RED, _DARK, _YELLOW, _PURPLE = range(8)
_CLASS_COLOURS = {SKY: (_LIGHT, _BLUE, _YELLOW), WALL: (_LIGHT, _BROWN, _RED, _YELLOW),
                  ROAD: (_DARK, _LIGHT, _BROWN), GRASS: (_GREEN, _YELLOW, _BROWN),
                  CAR: (_RED, _BLUE, _DARK, _LIGHT), PERSON: (_PURPLE, _RED, _BROWN, _BLUE),
                  TREE: (_GREEN, _DARK, _BROWN), BALL: (_YELLOW, _RED, _LIGHT, _PURPLE),
                  OTHERS: (_RED, _BLUE, _YELLOW, _LIGHT)}
_NAME_CHARS = string.ascii_letters + string.digits + '-_'


def _px(value: float) -> int:
    """A length in pixels, at least 2."""
    return max(int(value), 2)


def _colour(rng: np.random.Generator, cls: int) -> np.ndarray:
    return _POOL[rng.choice(_CLASS_COLOURS[cls])] + rng.uniform(-15, 15, 3).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell_y: float,
                  cell_x: Optional[float] = None) -> np.ndarray:
    """Noise in [-1, 1] that varies over about ``cell_y`` rows and ``cell_x`` columns."""
    cell_y, cell_x = max(int(cell_y), 1), max(int(cell_y if cell_x is None else cell_x), 1)
    coarse = rng.uniform(-1, 1, (height // cell_y + 2, width // cell_x + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _paint(modulation: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return modulation[..., None] * colour


# ----------------------------------------------------------------------------------- background
def _background(rng: np.random.Generator, height: int, width: int, scale: float
                ) -> Tuple[np.ndarray, np.ndarray, int]:
    """World image (RGB float), raw labels and the mean horizon row."""
    image = np.zeros((height, width, 3), np.float32)
    label = np.zeros((height, width), np.uint8)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon_mean = int(height * rng.uniform(0.38, 0.55))
    horizon = horizon_mean + 4 * scale * np.sin(xs / (rng.uniform(25, 50) * scale)
                                                + rng.uniform(0, 6))
    top, bottom = ys < horizon, ys >= horizon

    bricks = _bricks(rng, height, width, scale)
    if rng.random() < 0.3:  # indoor: a wall above the horizon
        image[top], label[top] = bricks[top], WALL
    else:  # sky, with brick buildings standing on the horizon
        gradient = 1.1 - 0.3 * ys / height
        sky = _paint(gradient + 0.07 * _smooth_noise(rng, height, width, 24 * scale),
                     _colour(rng, SKY))
        image[top], label[top] = sky[top], SKY
        for _ in range(rng.integers(0, 3)):
            x0 = rng.uniform(0, width - 30 * scale)
            block = top & (xs >= x0) & (xs < x0 + rng.uniform(22, 45) * scale) & \
                (ys >= horizon_mean * rng.uniform(0.4, 0.75))
            image[block], label[block] = bricks[block], WALL

    # below the horizon: road, grass, or grass then road nearer the camera
    grass = _paint(1 + 0.22 * _smooth_noise(rng, height, width, 10 * scale, 2 * scale)  # blades
                   + 0.08 * _smooth_noise(rng, height, width, 12 * scale), _colour(rng, GRASS))
    road = _paint(1 + rng.normal(0, 0.06, (height, width)).astype(np.float32), _colour(rng, ROAD))
    lane_y = horizon_mean + (height - horizon_mean) * rng.uniform(0.6, 0.8)
    road[(np.abs(ys - lane_y) < max(1.5 * scale, 0.5)) & ((xs // _px(12 * scale)) % 2 == 0)] = 235
    layout = rng.integers(3)
    road_start = horizon if layout == 0 else height if layout == 1 else \
        horizon + (height - horizon_mean) * rng.uniform(0.3, 0.6)
    is_road = bottom & (ys >= road_start)
    is_grass = bottom & ~is_road
    image[is_road], label[is_road] = road[is_road], ROAD
    image[is_grass], label[is_grass] = grass[is_grass], GRASS
    return image, label, horizon_mean


def _bricks(rng: np.random.Generator, height: int, width: int, scale: float) -> np.ndarray:
    row_h, brick_w = max(int(7 * scale), 3), max(int(16 * scale), 6)
    ys, xs = np.mgrid[0:height, 0:width]
    shifted = xs + (ys // row_h % 2) * (brick_w // 2)
    mortar = (ys % row_h == 0) | (shifted % brick_w == 0)
    shade = 1 + 0.08 * _smooth_noise(rng, height, width, brick_w)
    return _paint(np.where(mortar, 0.6, shade).astype(np.float32), _colour(rng, WALL))


# ----------------------------------------------------------------------------------- objects
def _sprite(rng: np.random.Generator, cls: int, size: float) -> Tuple[np.ndarray, np.ndarray]:
    """An object's RGB float image and its mask, at ``size`` (pixels per unit)."""
    colour = _colour(rng, cls)
    if cls == CAR:
        h, w = _px(28 * size), _px(56 * size)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        body = (ys >= 0.3 * h) & (ys < 0.8 * h)
        cabin = (ys < 0.35 * h) & (xs >= 0.22 * w) & (xs < 0.75 * w)
        wheels = ((xs - 0.25 * w) ** 2 + (ys - 0.78 * h) ** 2 < (0.2 * h) ** 2) | \
                 ((xs - 0.75 * w) ** 2 + (ys - 0.78 * h) ** 2 < (0.2 * h) ** 2)
        image = _paint(np.where((ys // _px(3 * size)) % 2 == 0, 1.1, 0.88).astype(np.float32),
                       colour)
        image[cabin] *= 0.45
        image[wheels] = 35
        return image, body | cabin | wheels
    if cls == PERSON:
        h, w = _px(44 * size), _px(18 * size)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        head = (xs - w / 2) ** 2 + (ys - 0.12 * h) ** 2 < (0.12 * h) ** 2
        body = ((xs - w / 2) / (0.48 * w)) ** 2 + ((ys - 0.6 * h) / (0.38 * h)) ** 2 < 1
        cell = _px(3 * size)
        image = _paint(np.where((ys // cell + xs // cell) % 2 == 0, 1.2, 0.8).astype(np.float32),
                       colour)
        image[head] = (225, 190, 160)
        return image, head | body
    if cls == TREE:
        h, w = _px(60 * size), _px(40 * size)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        trunk = (xs >= 0.42 * w) & (xs < 0.58 * w) & (ys >= 0.5 * h)
        crown = ((xs - w / 2) / (0.48 * w)) ** 2 + ((ys - 0.33 * h) / (0.33 * h)) ** 2 < 1
        speckle = 1 + 0.3 * np.sign(rng.uniform(-1, 1, (h, w))) * (rng.random((h, w)) < 0.35)
        image = _paint(speckle.astype(np.float32), colour)
        image[trunk & ~crown] = colour * 0.5
        return image, trunk | crown
    if cls == BALL:
        d = _px(22 * size)
        ys, xs = np.mgrid[0:d, 0:d].astype(np.float32)
        radius = np.hypot(xs - d / 2 + 0.5, ys - d / 2 + 0.5) / (d / 2)
        return _paint((1.35 - 0.6 * radius).astype(np.float32), colour), radius < 1
    # OTHERS: a striped sign on a pole
    h, w = _px(40 * size), _px(22 * size)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    board = ys < 0.45 * h
    pole = (xs >= 0.45 * w) & (xs < 0.55 * w)
    image = _paint(np.where(((xs + ys) // _px(3 * size)) % 2 == 0, 1.2, 0.7).astype(np.float32),
                   colour)
    image[pole & ~board] = 60
    return image, board | pole


class _Object:
    """A sprite with a world position (its bottom-left corner) moving at a constant velocity."""

    def __init__(self, rng: np.random.Generator, cls: int, x: float, bottom: float, size: float,
                 speed: float) -> None:
        self.cls = cls
        self.image, self.mask = _sprite(rng, cls, size)
        self.x, self.bottom, self.speed = x, bottom, speed
        self.outlined = rng.random() < 0.5
        self.bounce = (rng.uniform(6, 14) * size, rng.uniform(0.25, 0.5)) if cls == BALL else None

    def top_left(self, t: int) -> Tuple[int, int]:
        lift = self.bounce[0] * abs(np.sin(self.bounce[1] * t)) if self.bounce else 0.0
        return (int(round(self.bottom - lift)) - self.mask.shape[0],
                int(round(self.x + self.speed * t)))


def _objects(rng: np.random.Generator, world_w: int, horizon: int, height: int, scale: float
             ) -> List[_Object]:
    specs = [(TREE, 1, 3, 0.0), (OTHERS, 0, 2, 0.0), (CAR, 1, 3, 2.5), (PERSON, 1, 4, 0.8),
             (BALL, 1, 3, 2.0)]
    objects = []
    for cls, low, high, speed in specs:
        for _ in range(rng.integers(low, high)):
            bottom = rng.uniform(horizon + 6 * scale, height - 2 * scale)
            depth = (bottom - horizon) / max(height - horizon, 1)
            size = scale * (0.75 + 0.5 * depth)
            velocity = speed * scale * rng.uniform(0.6, 1.4) * rng.choice([-1, 1])
            objects.append(_Object(rng, cls, rng.uniform(0, world_w - 20 * scale), bottom, size,
                                   velocity))
    if not any(o.speed for o in objects):
        objects.append(_Object(rng, PERSON, world_w / 2, horizon + (height - horizon) * 0.7, scale,
                               0.8 * scale))
    return sorted(objects, key=lambda o: o.bottom)  # far (higher up) first


def _composite(image: np.ndarray, label: np.ndarray, objects: List[_Object], t: int, cam_x: int,
               cam_y: int) -> None:
    height, width = label.shape
    for obj in objects:
        top, left = obj.top_left(t)
        top, left = top - cam_y, left - cam_x
        h, w = obj.mask.shape
        y0, y1, x0, x1 = max(top, 0), min(top + h, height), max(left, 0), min(left + w, width)
        if y0 >= y1 or x0 >= x1:
            continue
        mask = obj.mask[y0 - top:y1 - top, x0 - left:x1 - left]
        image[y0:y1, x0:x1][mask] = obj.image[y0 - top:y1 - top, x0 - left:x1 - left][mask]
        label[y0:y1, x0:x1][mask] = obj.cls
        if obj.outlined:
            ring = cv2.dilate(obj.mask.astype(np.uint8),
                              np.ones((3, 3), np.uint8)).astype(bool) & ~obj.mask
            label[y0:y1, x0:x1][ring[y0 - top:y1 - top, x0 - left:x1 - left]] = VOID


# ----------------------------------------------------------------------------------- videos
def render_video(rng: np.random.Generator, num_frames: int, height: int, width: int
                 ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """The RGB uint8 frames and raw VSPW label maps of one panning scene."""
    scale = height / 120
    pan = rng.uniform(-2.5, 2.5) * scale
    margin = int(4 * scale) + 1
    world_w = width + int(abs(pan) * num_frames) + 2 * margin
    world_h = height + 2 * margin
    background, bg_label, horizon = _background(rng, world_h, world_w, scale)
    objects = _objects(rng, world_w, horizon, world_h, scale)
    start_x = margin if pan >= 0 else world_w - width - margin
    frames, labels = [], []
    for t in range(num_frames):
        cam_x = int(round(start_x + pan * t))
        cam_y = margin + int(rng.integers(-1, 2) * scale)
        image = background[cam_y:cam_y + height, cam_x:cam_x + width].copy()
        label = bg_label[cam_y:cam_y + height, cam_x:cam_x + width].copy()
        _composite(image, label, objects, t, cam_x, cam_y)
        image = image * rng.uniform(0.97, 1.03) + rng.normal(0, 2.5, image.shape)
        frames.append(np.clip(image + 0.5, 0, 255).astype(np.uint8))
        labels.append(label)
    return frames, labels


def _label_palette() -> List[int]:
    palette = np.zeros((256, 3), np.uint8)
    palette[1:len(VSPW_PALETTE) + 1] = VSPW_PALETTE
    palette[VOID] = 255
    return palette.ravel().tolist()


def make_synthetic_vspw(out: str, *, videos: int = 24, seed: int = 0,
                        size: Sequence[int] = (120, 160), frames: Sequence[int] = (12, 30),
                        jpeg_quality: int = 90) -> Dict[str, List[str]]:
    """Write a synthetic VSPW-layout dataset to ``out`` and return the video names per split.

    Args:
        out: the dataset root (gets ``train.txt``, ``val.txt``, ``test.txt`` and ``data/``).
        videos: total number of videos: a quarter (at least 1) go to val, a twelfth (at least 1)
            to test (frames only, no masks, as VSPW's test split), the rest to train.
        seed: the random seed.
        size: (H, W) of the frames.
        frames: (min, max) frames per video; when min <= 16 < max the first val video has min
            frames and the second max, so VC skips one and scores the other.
        jpeg_quality: JPEG quality of the frames.
    """
    height, width = size
    min_frames, max_frames = frames
    if videos < 3 or not 1 <= min_frames <= max_frames or height < 32 or width < 32:
        raise ValueError(f'need videos >= 3, 1 <= min frames <= max frames and H, W >= 32; got '
                         f'videos={videos}, frames={frames}, size={size}')
    num_val, num_test = max(1, videos // 4), max(1, videos // 12)
    num_train = videos - num_val - num_test
    if num_train < 1:
        raise ValueError(f'videos={videos} leaves no training video')
    splits: Dict[str, List[str]] = {'train': [], 'val': [], 'test': []}
    palette = _label_palette()
    for index in range(videos):
        rng = np.random.default_rng([seed, index])
        split = 'train' if index < num_train else 'val' if index < num_train + num_val else 'test'
        name = f'{index}_' + ''.join(rng.choice(list(_NAME_CHARS), 11))
        length = int(rng.integers(min_frames, max_frames + 1))
        if split == 'val' and min_frames <= 16 < max_frames and index - num_train < 2:
            length = (min_frames, max_frames)[index - num_train]
        first, step = int(rng.integers(1, 500)), int(rng.integers(1, 4))
        images, labels = render_video(rng, length, height, width)
        origin = os.path.join(out, 'data', name, 'origin')
        mask_dir = os.path.join(out, 'data', name, 'mask')
        os.makedirs(origin, exist_ok=True)
        if split != 'test':
            os.makedirs(mask_dir, exist_ok=True)
        for t, (image, label) in enumerate(zip(images, labels)):
            frame = f'{first + step * t:08d}'
            Image.fromarray(image).save(os.path.join(origin, frame + '.jpg'), format='JPEG',
                                        quality=jpeg_quality)
            if split != 'test':
                palette_image(label, palette).save(os.path.join(mask_dir, frame + '.png'),
                                                   format='PNG')
        splits[split].append(name)
    for split, names in splits.items():
        with open(os.path.join(out, f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.write(''.join(name + '\n' for name in names))
    return splits
