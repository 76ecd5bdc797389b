import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO_ROOT), 'shared')
GOLDEN_DIR = os.environ.get('THEMASK_GOLDEN_DIR', os.path.join(SHARED, 'golden'))


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT
