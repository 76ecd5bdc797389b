"""docs/custom_dataset.md end to end on its 3-class toy dataset (non-VSPW layout): check, browse,
train 20 iterations, test with mIoU and mVC, demo; a class-count mismatch fails before training."""
import json
import os

import pytest

from mmseg.datasets.toy_dataset import make_toy_dataset
from mmseg.utils.errors import ConfigError
from tool_runs import ROOT, tool_main

CONFIG = 'local_configs/custom/themask_b0_3class_example.py'
TINY = ['data.workers_per_gpu=0', 'model.decode_head.loss_cfg.train_num_points=256',
        'log_config.interval=10']


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy3')
    make_toy_dataset(str(root / 'data'), videos=4, frames=(17, 18), size=(64, 96))
    return root


@pytest.mark.slow
def test_tutorial_commands(toy, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    data, work = str(toy / 'data'), str(toy / 'work')
    options = [f'data_root={data}', *TINY]
    assert tool_main('check_dataset')(['--config', CONFIG, '--options', f'data_root={data}',
                                       '--workers', '0']) == 0
    assert '0 problem(s)' in capsys.readouterr().out
    assert tool_main('browse_dataset')([CONFIG, '--out', str(toy / 'browse'), '--num', '2',
                                        '--options', f'data_root={data}']) == 0
    assert sorted(os.listdir(toy / 'browse')) == ['train_0000.png', 'train_0001.png']
    tool_main('train')([CONFIG, '--work-dir', work, '--no-validate', '--seed', '0', '--options',
                        *options, 'runner.max_iters=20', 'checkpoint_config.interval=20'])
    checkpoint = os.path.join(work, 'iter_20.pth')
    assert os.path.isfile(checkpoint)
    out = str(toy / 'results.json')
    tool_main('test')([CONFIG, checkpoint, '--eval', 'mIoU', 'mVC', '--out', out, '--options',
                       *options])
    results = json.load(open(out))
    assert results['classes'] == ['background', 'ball', 'box']
    assert len(results['IoU']) == 3 and 0 <= results['mIoU'] <= 1
    assert results['mVC8'] is not None  # the val video has more than 16 frames
    assert len(results['confusion_matrix']) == 3
    frames = os.path.join(data, 'videos', 'clip_003', 'frames')
    demo = str(toy / 'demo')
    assert tool_main('video_demo')([CONFIG, checkpoint, frames, '--out', demo]) in (None, 0)
    assert len(os.listdir(os.path.join(demo, 'labels'))) == len(os.listdir(frames))


@pytest.mark.slow
def test_class_count_mismatch_fails_before_the_first_iteration(toy, monkeypatch):
    monkeypatch.chdir(ROOT)
    data = str(toy / 'data')
    with pytest.raises(ConfigError) as err:
        tool_main('train')([CONFIG, '--work-dir', str(toy / 'bad'), '--no-validate', '--options',
                            f'data_root={data}', *TINY, 'num_classes=124'])
    message = str(err.value)
    assert '3 classes' in message and 'num_classes=124' in message
    assert 'model.decode_head.num_classes' in message
    assert not any(name.endswith('.pth') for name in os.listdir(toy / 'bad'))
