"""Segment a video (a folder of frames or a video file) and write an overlay video and label PNGs.

    python tools/video_demo.py CONFIG CHECKPOINT INPUT [--out DIR] [--clip-len 2] [--gap 3]
                               [--opacity 0.5] [--fps 15] [--device cpu]

INPUT is a folder of frames (ordered by the numbers in their names) or a video file. Frames are
cut into clips as the test set is (``--clip-len`` frames ``--gap`` apart inside blocks of
clip-len x gap frames, then consecutive chunks), read one block at a time, so a long video never
sits in memory. Writes ``DIR/overlay.mp4`` (frames with the prediction painted over them) and
``DIR/labels/<frame>.png`` (class indices 0..K-1, palette attached).
"""
import argparse
import os
import sys
from typing import Iterator, List, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from mmseg.apis import inference_segmentor, init_segmentor
from mmseg.core.evaluation import blend_overlay, write_label_png
from mmseg.datasets import VSPW_PALETTE, make_test_clips
from mmseg.datasets.file_io import natural_sort_key, read_image

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Segment a video with THE-Mask')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='a folder of frames or a video file')
    parser.add_argument('--out', default='work_dirs/video_demo', help='output folder')
    parser.add_argument('--clip-len', type=int, default=2, help='frames per clip')
    parser.add_argument('--gap', type=int, default=3, help='frame spacing inside a clip')
    parser.add_argument('--opacity', type=float, default=0.5, help='of the painted prediction, (0, 1]')
    parser.add_argument('--fps', type=float, help='of the output video (default: the input\'s, or 15)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def frame_source(path: str) -> Tuple[Iterator[Tuple[str, np.ndarray]], int, float]:
    """(iterator of (frame name, BGR frame), number of frames, fps or 0)."""
    if os.path.isdir(path):
        names = sorted((n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES)), key=natural_sort_key)
        if not names:
            raise SystemExit(f'error: {path} holds no frames ({", ".join(IMAGE_SUFFIXES)})')
        frames = ((os.path.splitext(n)[0], read_image(os.path.join(path, n))) for n in names)
        return frames, len(names), 0.0
    if not os.path.isfile(path):
        raise SystemExit(f'error: input {path!r} is neither a folder of frames nor a video file')
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise SystemExit(f'error: {path} cannot be opened as a video')
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def read() -> Iterator[Tuple[str, np.ndarray]]:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield f'{index:06d}', frame
            index += 1
        capture.release()

    return read(), count, capture.get(cv2.CAP_PROP_FPS) or 0.0


def blocks(frames: Iterator[Tuple[str, np.ndarray]], size: int) -> Iterator[List[Tuple[str, np.ndarray]]]:
    block = []
    for frame in frames:
        block.append(frame)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def main(argv=None):
    args = parse_args(argv)
    if args.clip_len < 1 or args.gap < 1:
        raise SystemExit('error: --clip-len and --gap must be positive')
    if not 0 < args.opacity <= 1:
        raise SystemExit(f'error: --opacity must be in (0, 1], got {args.opacity}')
    frames, count, fps = frame_source(args.input)
    model = init_segmentor(args.config, args.checkpoint, device=args.device)
    os.makedirs(os.path.join(args.out, 'labels'), exist_ok=True)
    video_path = os.path.join(args.out, 'overlay.mp4')
    writer = None
    bar = tqdm(total=count or None, desc='video_demo', unit='frame')
    for block in blocks(frames, args.clip_len * args.gap):
        labels = [None] * len(block)
        for clip in make_test_clips(len(block), args.clip_len, args.gap):
            for index, pred in zip(clip, inference_segmentor(model, [block[i][1] for i in clip])):
                labels[index] = pred
        for (name, image), pred in zip(block, labels):
            write_label_png(os.path.join(args.out, 'labels', f'{name}.png'), pred, VSPW_PALETTE)
            overlay = blend_overlay(image, pred, VSPW_PALETTE, args.opacity, name=name)
            if writer is None:
                height, width = overlay.shape[:2]
                writer = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*'mp4v'),
                                         args.fps or fps or 15.0, (width, height))
                if not writer.isOpened():
                    raise SystemExit(f'error: cannot write {video_path}')
            writer.write(overlay)
            bar.update(1)
    bar.close()
    if writer is not None:
        writer.release()
    print(f'wrote {video_path} and {os.path.join(args.out, "labels")}/<frame>.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
