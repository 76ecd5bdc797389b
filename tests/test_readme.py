"""Every Python block of the README runs as written, on the quickstart's outputs (a stage-2 model
trained two iterations as the quickstart trains it, the synthetic dataset), on the CPU."""
import os
import re

import pytest

pytestmark = pytest.mark.slow  # the quickstart's stage-2 model (trained once per session)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_blocks():
    text = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    return re.findall(r'```python\n(.*?)```', text, flags=re.S)


@pytest.fixture(scope='module')
def quickstart_folder(tmp_path_factory, synthetic_vspw, trained_stage2):
    """A folder laid out as the repository after the quickstart: configs, data, the stage-2
    model."""
    root = tmp_path_factory.mktemp('readme')
    os.symlink(os.path.join(ROOT, 'local_configs'), root / 'local_configs')
    (root / 'data').mkdir()
    os.symlink(synthetic_vspw, root / 'data' / 'vspw_synthetic')
    (root / 'work_dirs' / 'quickstart').mkdir(parents=True)
    os.symlink(trained_stage2.parent, root / 'work_dirs' / 'quickstart' / 'stage2')
    return root


def test_the_readme_has_python_blocks():
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize('index', range(len(python_blocks())))
def test_each_python_block_runs_as_written(index, quickstart_folder, monkeypatch):
    monkeypatch.chdir(quickstart_folder)
    namespace = {'__name__': f'readme_block_{index}'}
    exec(compile(python_blocks()[index], f'README.md python block {index}', 'exec'), namespace)
    if 'picture' in namespace:  # the API block: its outputs are what it says
        assert os.path.isfile('f3_pred.png') and namespace['picture'].ndim == 3
        assert (len(namespace['labels']) == 2
                and namespace['label'].shape == namespace['labels'][1].shape)
    if 'segmenter' in namespace:  # the online block: the checkpoint's dilation came with it
        assert namespace['segmenter'].dilation == [-3] and namespace['segmenter'].frame_index == -1
