"""Segment a video (a file, a folder of frames or a camera) and write an overlay video and
label PNGs.

    python tools/video_demo.py [CONFIG] CHECKPOINT INPUT [--out DIR] [--mode online|clips]
        [--dilation -9 -6 -3] [--clip-len 2] [--gap 3] [--side-by-side] [--no-legend]
        [--opacity 0.6] [--fps 15] [--max-frames N] [--device cpu]
    python tools/video_demo.py [CONFIG] INPUT --backend onnxruntime --model MODEL.onnx [...]

Without CONFIG the model is built from the training config the checkpoint carries; with it, the
checkpoint's clip settings (training dilation, frames per clip, classes) still win, with a notice
(see ``mmseg.apis.init_segmentor``).

INPUT is a video file, a folder of frames (ordered by the numbers in their names) or a camera
index (``0``). ``--mode online`` (default) runs :class:`mmseg.apis.OnlineSegmenter`: the backbone
and pixel decoder once per frame, each frame predicted from the clip training uses (the config's
``dilation``, or ``--dilation``; the target frame last). ``--mode clips`` cuts the video into the
test protocol's clips (``--clip-len`` frames ``--gap`` apart, see ``make_test_clips``) one block at
a time and predicts each clip whole. Writes ``DIR/overlay.mp4`` (the prediction over the frames,
class outlines and a legend of the classes present; ``--side-by-side``: frame | prediction) and
``DIR/labels/<frame>.png`` (class indices 0..K-1, palette attached).

``--backend onnxruntime --model`` runs files ``tools/export.py --format onnx`` wrote in ONNX Runtime
(CPU) instead of a checkpoint: the online pair (``--model OUT_frames.onnx OUT_decoder.onnx``,
``--mode online``) or the clip model (``--model OUT.onnx``, ``--mode clips``); without CONFIG, the
training config the files carry. The pre- and post-processing are the PyTorch model's.
"""
import argparse
import contextlib
import os
import sys
import time
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from tqdm import tqdm

from mmseg.apis import OnlineSegmenter, inference_segmentor, init_segmentor, show_result
from mmseg.core.evaluation import write_label_png
from mmseg.datasets import make_test_clips
from mmseg.datasets.file_io import natural_sort_key, read_image
from mmseg.utils.cli import run_cli
from mmseg.utils.errors import DataError, UsageError
from mmseg.utils.paths import check_writable_output

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
Frames = Iterator[Tuple[str, np.ndarray]]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Segment a video with THE-Mask')
    parser.add_argument('sources', nargs='+', metavar='[CONFIG] CHECKPOINT INPUT',
                        help='the config (optional: by default the one the checkpoint was '
                             'trained with), the checkpoint (a file, a work directory or a '
                             'published folder; not with --backend onnxruntime), and a video file, '
                             'a folder of frames or a camera index (0, 1, ...)')
    parser.add_argument('--backend', choices=['pytorch', 'onnxruntime'], default='pytorch',
                        help='onnxruntime: run the ONNX files of --model (default: pytorch)')
    parser.add_argument('--model', nargs='+', metavar='ONNX',
                        help='onnxruntime: the online pair (OUT_frames.onnx OUT_decoder.onnx) or '
                             'the clip model (OUT.onnx)')
    parser.add_argument('--out', default='work_dirs/video_demo', help='output folder')
    parser.add_argument('--mode', choices=['online', 'clips'],
                        help='online: one frame at a time with cached features (default; the '
                             'online pair); clips: the test protocol\'s clips (the clip model)')
    parser.add_argument('--dilation', type=int, nargs='+',
                        help='online: reference-frame offsets (<= 0), default the config\'s '
                             'training dilation')
    parser.add_argument('--clip-len', type=int, default=2, help='clips: frames per clip')
    parser.add_argument('--gap', type=int, default=3, help='clips: frame spacing inside a clip')
    parser.add_argument('--opacity', type=float, default=0.6,
                        help='of the painted prediction, (0, 1]')
    parser.add_argument('--side-by-side', action='store_true',
                        help='frame | prediction instead of an overlay')
    parser.add_argument('--no-legend', action='store_true', help='no legend panel')
    parser.add_argument('--fps', type=float,
                        help='of the output video (default: the input\'s, or 15)')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames (e.g. for a camera)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    onnx = args.backend == 'onnxruntime'
    expected = '[CONFIG] INPUT' if onnx else '[CONFIG] CHECKPOINT INPUT'
    if len(args.sources) not in ((1, 2) if onnx else (2, 3)):
        parser.error(f'expected {expected}{" (the model is --model)" if onnx else ""}, got '
                     f'{len(args.sources)} positional arguments: {" ".join(args.sources)}')
    if onnx:
        args.config, args.input = ([None] * (2 - len(args.sources))) + args.sources
        args.checkpoint = None
    else:
        args.config, args.checkpoint, args.input = ([None] * (3 - len(args.sources))) + args.sources
    return args


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence what native code (FFmpeg) prints on stderr, e.g. 'moov atom not found' for a
    non-video."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2: nothing to silence
        yield
        return
    try:
        with open(os.devnull, 'w') as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _capture_frames(capture: 'cv2.VideoCapture', first: np.ndarray) -> Frames:
    index, frame = 0, first
    try:
        while frame is not None:
            yield f'{index:06d}', frame
            ok, frame = capture.read()
            frame = frame if ok else None
            index += 1
    finally:
        capture.release()


def frame_source(path: str) -> Tuple[Frames, int, float]:
    """(iterator of (frame name, BGR frame), number of frames or 0 if unknown, fps or 0).

    The first frame is read here, so an input that yields no frame fails before any work.
    """
    if os.path.isdir(path):
        names = sorted((n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES)),
                       key=natural_sort_key)
        if not names:
            raise DataError(f'{path} holds no frames ({", ".join(IMAGE_SUFFIXES)})')
        first = read_image(os.path.join(path, names[0]))
        rest = ((os.path.splitext(n)[0], read_image(os.path.join(path, n))) for n in names[1:])
        frames = iter([(os.path.splitext(names[0])[0], first)])
        return (f for part in (frames, rest) for f in part), len(names), 0.0
    camera = path.isdigit() and not os.path.exists(path)
    if not camera and not os.path.isfile(path):
        raise DataError(f'input {path!r} is neither a video file, a folder of frames nor a camera '
                        f'index')
    with _native_stderr_silenced():  # our one-line error below says it
        capture = cv2.VideoCapture(int(path) if camera else path)
        ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        what = f'camera {path}' if camera else f'{path}'
        raise DataError(f'cannot read a frame from {what}: not a video OpenCV can decode'
                        if not camera else f'cannot read a frame from {what}')
    count = 0 if camera else max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    return _capture_frames(capture, first), count, capture.get(cv2.CAP_PROP_FPS) or 0.0


def check_output_dir(out: str) -> str:
    """Create ``out/labels`` and make sure files can be written there."""
    check_writable_output(out, '--out', directory=True)
    labels = os.path.join(out, 'labels')
    check_writable_output(labels, '--out', directory=True)
    return labels


def check_args(args) -> None:
    if args.backend == 'onnxruntime':
        if not args.model or len(args.model) > 2:
            raise UsageError('--backend onnxruntime needs --model: the online pair '
                             '(OUT_frames.onnx OUT_decoder.onnx) or the clip model (OUT.onnx)')
        if args.device != 'cpu':
            raise UsageError(f'--device {args.device}: --backend onnxruntime runs on the CPU')
        args.mode = args.mode or ('online' if len(args.model) == 2 else 'clips')
        if args.mode == 'online' and len(args.model) != 2:
            raise UsageError('--mode online needs the online pair (--model OUT_frames.onnx '
                             'OUT_decoder.onnx, from tools/export.py --format onnx --online)')
        if args.mode == 'clips' and len(args.model) != 1:
            raise UsageError('--mode clips needs the clip model (--model OUT.onnx, from '
                             'tools/export.py --format onnx)')
    elif args.model:
        raise UsageError('--model is for --backend onnxruntime; give a checkpoint instead')
    args.mode = args.mode or 'online'
    if args.clip_len < 1 or args.gap < 1:
        raise UsageError('--clip-len and --gap must be positive')
    if not 0 < args.opacity <= 1:
        raise UsageError(f'--opacity must be in (0, 1], got {args.opacity}')
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f'--max-frames must be positive, got {args.max_frames}')
    if args.dilation is not None and any(d > 0 for d in args.dilation):
        raise UsageError(f'--dilation takes offsets <= 0 (past frames), got {args.dilation}')
    if args.dilation is not None and args.mode != 'online':
        raise UsageError('--dilation is for --mode online; --mode clips uses --clip-len and --gap')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise UsageError(f'--device {args.device}: no CUDA device is available (use --device cpu)')


def blocks(frames: Frames, size: int) -> Iterator[List[Tuple[str, np.ndarray]]]:
    block = []
    for frame in frames:
        block.append(frame)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def predictions(model, frames: Frames, args) -> Iterator[Tuple[str, np.ndarray, np.ndarray]]:
    """(name, frame, labels) in frame order."""
    if args.mode == 'online':
        segmenter = OnlineSegmenter(model, dilation=args.dilation)
        for name, image in frames:
            yield name, image, segmenter(image)
        return
    for block in blocks(frames, args.clip_len * args.gap):
        labels = [None] * len(block)
        for clip in make_test_clips(len(block), args.clip_len, args.gap):
            for index, pred in zip(clip, inference_segmentor(model, [block[i][1] for i in clip])):
                labels[index] = pred
        for (name, image), pred in zip(block, labels):
            yield name, image, pred


def limited(frames: Frames, limit: Optional[int]) -> Frames:
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            return
        yield frame


def load_model(args):
    """The PyTorch segmentor, or the ONNX Runtime one (``--backend onnxruntime``)."""
    if args.backend == 'onnxruntime':
        from mmseg.apis.onnx_runtime import init_onnx_segmentor
        return init_onnx_segmentor(args.model, args.config)
    if args.config is None:
        return init_segmentor(args.checkpoint, device=args.device)
    return init_segmentor(args.config, args.checkpoint, device=args.device)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    check_args(args)
    labels_dir = check_output_dir(args.out)
    frames, count, fps = frame_source(args.input)
    if args.max_frames:
        count = min(count, args.max_frames) if count else args.max_frames
    model = load_model(args)
    video_path = os.path.join(args.out, 'overlay.mp4')
    writer, written = None, 0
    start = time.perf_counter()
    with tqdm(total=count or None, desc=f'video_demo ({args.mode})', unit='frame') as bar:
        try:
            for name, image, pred in predictions(model, limited(frames, args.max_frames), args):
                write_label_png(os.path.join(labels_dir, f'{name}.png'), pred, model.PALETTE)
                picture = show_result(image, pred, model.CLASSES, model.PALETTE,
                                      opacity=args.opacity, legend=not args.no_legend,
                                      side_by_side=args.side_by_side)
                if writer is None:
                    height, width = picture.shape[:2]
                    writer = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*'mp4v'),
                                             args.fps or fps or 15.0, (width, height))
                    if not writer.isOpened():
                        raise DataError(f'cannot write {video_path} (OpenCV has no mp4v encoder?)')
                if picture.shape[:2] != (height, width):
                    raise DataError(f'frame {name} has size {image.shape[:2]}, unlike the first '
                                    f'frame; a video needs one frame size')
                writer.write(picture)
                written += 1
                bar.update(1)
        except KeyboardInterrupt:  # a camera runs until Ctrl-C: keep what was written
            print('interrupted: closing the files written so far', file=sys.stderr)
    if writer is not None:
        writer.release()
    if not written or not os.path.isfile(video_path) or os.path.getsize(video_path) == 0:
        raise DataError(f'no frame was written from {args.input}')
    seconds = time.perf_counter() - start
    print(f'wrote {written} frames ({written / seconds:.2f} frames/s, --mode {args.mode}) to '
          f'{video_path} and {labels_dir}/<frame>.png')
    return 0


if __name__ == '__main__':
    run_cli(main)
