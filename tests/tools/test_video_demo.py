"""tools/video_demo.py on a folder of frames and on a video file."""
import importlib.util
import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

pytestmark = pytest.mark.slow  # the demo tool on a video and a folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def demo_main():
    spec = importlib.util.spec_from_file_location('video_demo', os.path.join(ROOT, 'tools', 'video_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    cfg = load_config(CONFIG)
    cfg.model.pretrained = None
    torch.save({'state_dict': build_segmentor(cfg.model).state_dict()}, root / 'model.pth')
    folder = root / 'frames'
    folder.mkdir()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(7)]
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f'frame_{i + 8}.jpg'), frame)  # numeric, not string, order
    video = str(root / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 10, (96, 64))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return root, str(root / 'model.pth'), str(folder), video


def count_video_frames(path):
    capture = cv2.VideoCapture(path)
    count = 0
    while capture.read()[0]:
        count += 1
    return count


@pytest.mark.parametrize('source', ['folder', 'video'])
def test_demo_writes_an_overlay_video_and_label_pngs(inputs, source):
    root, checkpoint, folder, video = inputs
    out = root / f'out_{source}'
    assert demo_main()([CONFIG, checkpoint, folder if source == 'folder' else video, '--out', str(out),
                        '--clip-len', '2', '--gap', '2']) == 0
    labels = sorted(os.listdir(out / 'labels'))
    expected = [f'frame_{i}.png' for i in range(8, 15)] if source == 'folder' else [f'{i:06d}.png' for i in range(7)]
    assert sorted(labels) == sorted(expected)
    assert count_video_frames(str(out / 'overlay.mp4')) == 7
    label = Image.open(out / 'labels' / labels[0])
    assert label.mode == 'P' and label.size == (96, 64) and np.asarray(label).max() < 124
