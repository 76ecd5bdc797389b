"""Fault injection: every kind of bad data is reported, naming the file, by tools/check_dataset.py,
by training and by testing; nothing is skipped silently.

Each case corrupts a fresh copy of a tiny generated dataset (one train video and one val video)
and runs the three entry points in this process.
"""
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg.datasets import DataError
from mmseg.datasets.dataset_check import scan_dataset
from mmseg.models import build_segmentor
from mmseg.utils.config import load_config
from tool_runs import run_tool, tool_main

pytestmark = pytest.mark.slow  # training and testing on every kind of damaged data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')


@pytest.fixture(scope='module')
def clean_dataset(tmp_path_factory, synthetic_vspw):
    """The first video of each split of the session's synthetic dataset (one train video, so a
    damaged one is always drawn, and the 6-frame val video)."""
    root = tmp_path_factory.mktemp('faults') / 'clean'
    for split in ('train', 'val', 'test'):
        video = first_video(synthetic_vspw, split)
        shutil.copytree(synthetic_vspw / 'data' / video, root / 'data' / video)
        (root / f'{split}.txt').write_text(video + '\n')
    return root


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    cfg = load_config(CONFIG)
    cfg.model.pretrained = None
    path = tmp_path_factory.mktemp('faults_ckpt') / 'random.pth'
    torch.save({'state_dict': build_segmentor(cfg.model).state_dict()}, path)
    return str(path)


def first_video(root, split):
    return open(os.path.join(root, f'{split}.txt')).readline().strip()


def files(root, video, kind):
    folder = os.path.join(root, 'data', video, kind)
    return sorted(os.path.join(folder, n) for n in os.listdir(folder))


def save_png(path, array):
    Image.fromarray(array).save(path)


def corrupt(root, video, case):
    """Damage ``video`` as ``case`` says; return the paths an error may name."""
    frames, masks = files(root, video, 'origin'), files(root, video, 'mask')
    if case == 'missing_frame':
        os.remove(frames[0])
        return [frames[0][:-4]]  # named without extension: "frame .../origin/<name> is missing"
    if case == 'zero_byte_frame':
        for path in frames:
            open(path, 'wb').close()
        return frames
    if case == 'corrupt_jpeg':
        for path in frames:
            with open(path, 'wb') as f:
                f.write(b'\xff\xd8 not really a jpeg ' * 20)
        return frames
    if case == 'missing_mask':
        os.remove(masks[0])
        return [masks[0]]
    if case == 'mask_size':
        for path in masks:
            save_png(path, np.ones((20, 20), np.uint8))
        return masks
    if case == 'mask_values':
        for path in masks:
            label = np.asarray(Image.open(path)).copy()
            label[:2, :2] = 200
            save_png(path, label)
        return masks
    if case == 'colour_mask':
        for path in masks:
            # frame-sized RGB
            save_png(path, np.ones(np.asarray(Image.open(path)).shape + (3,), np.uint8))
        return masks
    if case == 'empty_video':
        for path in frames + masks:
            os.remove(path)
        return [os.path.join(root, 'data', video, 'origin')]
    if case == 'missing_video':
        split = 'train' if video == first_video(root, 'train') else 'val'
        with open(os.path.join(root, f'{split}.txt'), 'a') as f:
            f.write('ghost_video\n')
        return [os.path.join(root, 'data', 'ghost_video')]
    raise ValueError(case)


CASES = ['missing_frame', 'zero_byte_frame', 'corrupt_jpeg', 'missing_mask', 'mask_size',
         'mask_values', 'colour_mask', 'empty_video', 'missing_video']


def assert_names_one_of(message, paths):
    assert any(p in message for p in paths), f'{message!r} names none of {paths}'


@pytest.mark.parametrize('case', CASES)
def test_bad_data_is_reported_by_check_train_and_test(clean_dataset, random_checkpoint, tmp_path,
                                                      case):
    data = tmp_path / 'data'
    shutil.copytree(clean_dataset, data)
    options = [f'data.train.dataset.data_root={data}', f'data.val.data_root={data}',
               f'data.test.data_root={data}', 'data.workers_per_gpu=0', 'data.train.times=1',
               'model.decode_head.loss_cfg.train_num_points=64']
    bad_train = corrupt(data, first_video(data, 'train'), case)
    bad_val = (corrupt(data, first_video(data, 'val'), case) if case != 'missing_video'
               else bad_train)

    problems, _ = scan_dataset(str(data), progress=False)
    reported = ' '.join(p['problem'] for p in problems)
    for paths in (bad_train, bad_val):
        assert_names_one_of(reported, paths)

    with pytest.raises(DataError) as err:
        tool_main('train')([CONFIG, '--work-dir', str(tmp_path / 'work'), '--no-validate',
                            '--options', *options, 'runner.max_iters=2',
                            'checkpoint_config.interval=2'])
    assert_names_one_of(str(err.value), bad_train)
    assert not os.path.exists(tmp_path / 'work' / 'latest.pth')

    if case == 'missing_video':  # the val split is intact in this case
        return
    with pytest.raises(DataError) as err:
        tool_main('test')([CONFIG, random_checkpoint, '--eval', 'mIoU', '--options', *options])
    assert_names_one_of(str(err.value), bad_val)


def test_check_dataset_tool_exits_non_zero_and_lists_everything(clean_dataset, tmp_path, capsys):
    data = tmp_path / 'data'
    shutil.copytree(clean_dataset, data)
    bad = (corrupt(data, first_video(data, 'train'), 'corrupt_jpeg')
           + corrupt(data, first_video(data, 'val'), 'mask_values'))
    code, out, _ = run_tool('check_dataset', [str(data), '--workers', '0'], capsys)
    assert code == 1
    for path in bad:
        assert path in out
