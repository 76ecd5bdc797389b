"""Fixtures of the multi-scale deformable attention tests."""
import os

import pytest
import torch

from tests.conftest import GOLDEN_DIR

GOLDEN_FILE = 'themask_tiny_golden.pt'


@pytest.fixture(scope='session')
def golden_msda():
    """The ``msda`` entry of the golden file (skipped when the file is absent)."""
    path = os.path.join(GOLDEN_DIR, GOLDEN_FILE)
    if not os.path.isfile(path):
        pytest.skip(f'golden file {path} is absent (set THEMASK_GOLDEN_DIR)')
    return torch.load(path, weights_only=True)['msda']
