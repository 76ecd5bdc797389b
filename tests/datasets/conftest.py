"""A factory that writes tiny VSPW-layout datasets into tmp_path."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.core.evaluation.result_writers import palette_image


def save_index_png(path, label):
    """Save a palette PNG whose pixel values are ``label`` (PIL renumbers a P image without
    palette)."""
    palette_image(label, [v for i in range(256) for v in (i, i, i)]).save(path)


class TinyVSPW:
    """Writes videos, masks and split files under ``root`` (the VSPW layout)."""

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)

    def add_video(self, video, num_frames=5, size=(24, 32), names=None, labels=None, masks=True,
                  seed=0):
        """Write ``num_frames`` random frames (and masks: ``labels[t]`` or random raw labels
        1..3)."""
        rng = np.random.default_rng(seed)
        names = names or [f'{i:08d}' for i in range(num_frames)]
        origin = os.path.join(self.root, 'data', video, 'origin')
        mask_dir = os.path.join(self.root, 'data', video, 'mask')
        os.makedirs(origin, exist_ok=True)
        if masks:
            os.makedirs(mask_dir, exist_ok=True)
        for t, name in enumerate(names):
            img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(img).save(os.path.join(origin, name + '.jpg'), quality=95)
            if masks:
                label = (labels[t] if labels is not None
                         else rng.integers(1, 4, size, dtype=np.uint8))
                save_index_png(os.path.join(mask_dir, name + '.png'), label)
        return names

    def write_split(self, split, videos, text=None):
        with open(os.path.join(self.root, f'{split}.txt'), 'w') as f:
            f.write(text if text is not None else ''.join(v + '\n' for v in videos))

    def frame(self, video, name):
        return os.path.join(self.root, 'data', video, 'origin', name + '.jpg')

    def mask(self, video, name):
        return os.path.join(self.root, 'data', video, 'mask', name + '.png')


@pytest.fixture
def tiny_vspw(tmp_path):
    return TinyVSPW(tmp_path / 'vspw')
