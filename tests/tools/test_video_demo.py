"""tools/video_demo.py on a folder of frames and on an mp4 video, in both modes, and its errors."""
import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
from mmseg.models import build_segmentor
from mmseg.utils.config import load_config
from mmseg.utils.errors import DataError, UsageError
from tool_runs import run_tool, tool_main

pytestmark = pytest.mark.slow  # the demo tool on a video and a folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
LEGEND_GREY = 32


def demo_main():
    return tool_main('video_demo')


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """(root, checkpoint, frame folder, mp4 video) of 7 synthetic frames (64x96)."""
    root = tmp_path_factory.mktemp('demo')
    cfg = load_config(CONFIG)
    cfg.model.pretrained = None
    torch.manual_seed(0)
    torch.save({'state_dict': build_segmentor(cfg.model).state_dict()}, root / 'model.pth')
    make_synthetic_vspw(str(root / 'vspw'), videos=4, size=(64, 96), frames=(7, 7), seed=0)
    video_dir = sorted((root / 'vspw' / 'data').iterdir())[0] / 'origin'
    frames = [cv2.imread(str(p)) for p in sorted(video_dir.iterdir())]
    assert len(frames) == 7
    folder = root / 'frames'
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f'frame_{i + 8}.jpg'), frame)  # numeric, not string, order
    video = str(root / 'clip.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 10, (96, 64))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return root, str(root / 'model.pth'), str(folder), video


def video_frames(path):
    capture = cv2.VideoCapture(path)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    capture.release()
    return count, first if ok else None


@pytest.mark.parametrize('mode', ['online', 'clips'])
@pytest.mark.parametrize('source', ['folder', 'video'])
def test_demo_writes_an_overlay_video_with_a_legend_and_label_pngs(inputs, source, mode):
    root, checkpoint, folder, video = inputs
    out = root / f'out_{source}_{mode}'
    extra = (['--dilation', '-3'] if mode == 'online' and source == 'video'
             else ['--clip-len', '2', '--gap', '2'])
    assert demo_main()([CONFIG, checkpoint, folder if source == 'folder' else video, '--out',
                        str(out), '--mode', mode] + extra) == 0
    labels = sorted(os.listdir(out / 'labels'))
    expected = ([f'frame_{i}.png' for i in range(8, 15)] if source == 'folder'
                else [f'{i:06d}.png' for i in range(7)])
    assert sorted(labels) == sorted(expected)
    count, first = video_frames(str(out / 'overlay.mp4'))
    assert count == 7
    label = Image.open(out / 'labels' / labels[0])
    assert label.mode == 'P' and label.size == (96, 64) and np.asarray(label).max() < 124
    # the legend: a panel right of the 96-pixel overlay, with swatches and names on its grey
    assert first.shape[:2] == (64, 96 + 110)
    legend = first[:, 96:].astype(int)
    assert (np.abs(legend - LEGEND_GREY).max(axis=2) > 40).mean() > 0.05


def test_demo_side_by_side_and_no_legend(inputs):
    root, checkpoint, folder, _ = inputs
    main = demo_main()
    assert main([CONFIG, checkpoint, folder, '--out', str(root / 'sbs'), '--side-by-side',
                 '--max-frames', '3']) == 0
    count, first = video_frames(str(root / 'sbs' / 'overlay.mp4'))
    assert count == 3 and first.shape[:2] == (64, 96 + 96 + 110)
    assert len(os.listdir(root / 'sbs' / 'labels')) == 3
    assert main([CONFIG, checkpoint, folder, '--out', str(root / 'plain'), '--no-legend',
                 '--max-frames', '2']) == 0
    assert video_frames(str(root / 'plain' / 'overlay.mp4'))[1].shape[:2] == (64, 96)


def test_demo_user_errors(inputs, tmp_path):
    root, checkpoint, folder, _ = inputs
    main = demo_main()
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(UsageError, match='--out .* cannot be written'):
        main([CONFIG, checkpoint, folder, '--out', str(blocker / 'out')])
    with pytest.raises(DataError, match='holds no frames'):
        main([CONFIG, checkpoint, str(tmp_path), '--out', str(tmp_path / 'o1')])
    with pytest.raises(UsageError, match='--dilation'):
        main([CONFIG, checkpoint, folder, '--out', str(tmp_path / 'o2'), '--dilation', '3'])
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match='no CUDA device'):
            main([CONFIG, checkpoint, folder, '--out', str(tmp_path / 'o3'), '--device', 'cuda'])


def test_demo_on_a_non_video_file_exits_non_zero_with_one_line(inputs, tmp_path, capsys):
    _, checkpoint, _, _ = inputs
    bogus = tmp_path / 'notes.mp4'
    bogus.write_text('this is not a video\n')
    code, _, err = run_tool('video_demo', [CONFIG, checkpoint, str(bogus), '--out',
                                           str(tmp_path / 'out')], capsys)
    assert code != 0  # a traceback would have raised here
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('error: cannot read a frame from'), err
    assert not os.path.exists(tmp_path / 'out' / 'overlay.mp4')
