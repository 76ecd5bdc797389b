"""The mmseg-0.x Python API: init_segmentor and inference_segmentor on files and on arrays."""
import os

import cv2
import numpy as np
import pytest
import torch

from mmseg.apis import inference_segmentor, init_segmentor
from mmseg.models import build_segmentor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from mmseg.utils.config import load_config
    cfg = load_config(CONFIG)
    cfg.model.pretrained = None
    torch.manual_seed(0)
    model = build_segmentor(cfg.model)
    path = tmp_path_factory.mktemp('api') / 'model.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path), model.state_dict()


@pytest.fixture(scope='module')
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp('frames')
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        image = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
        # lossless, so files and arrays are the same frames
        paths.append(str(folder / f'{i:05d}.png'))
        cv2.imwrite(paths[-1], image)
    return paths


def test_init_segmentor_loads_the_checkpoint(checkpoint):
    path, state = checkpoint
    model = init_segmentor(CONFIG, path, device='cpu')
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_inference_on_files_and_arrays_agrees(checkpoint, frames):
    model = init_segmentor(CONFIG, checkpoint[0])
    from_files = inference_segmentor(model, frames)
    from_arrays = inference_segmentor(model, [cv2.imread(p) for p in frames])
    assert len(from_files) == 2
    for a, b in zip(from_files, from_arrays):
        assert a.shape == (70, 90) and a.dtype == np.uint8 and a.max() < 124
        np.testing.assert_array_equal(a, b)


def test_inference_refuses_mixed_or_empty_clips(checkpoint, frames):
    model = init_segmentor(CONFIG, checkpoint[0])
    with pytest.raises(ValueError, match='at least one frame'):
        inference_segmentor(model, [])
    with pytest.raises(TypeError, match='all be file paths or all'):
        inference_segmentor(model, [frames[0], cv2.imread(frames[1])])
