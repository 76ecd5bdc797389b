"""A config written in the original's style trains and tests unchanged, reading the same data.

The config is written here in the original's style: mmseg 0.x step names (``LoadImageFromFile``,
``LoadAnnotations``, ``Resize(process_clips=True)``, ``Collect(meta_keys=...)``,
``MultiScaleFlipAug``) and ``img_dir``/``ann_dir`` without ``{video}``, around the model of the
small synthetic config. Its samples must equal those of the synthetic config (our names), and both
configs must give the same metrics on the checkpoint it trained.
"""
import json
import os

import numpy as np
import pytest
import torch

from mmseg.datasets import build_dataset
from mmseg.datasets.dataset_check import scan_config
from mmseg.utils import logger as logger_module
from mmseg.utils.config import load_config
from tool_runs import run_tool

pytestmark = pytest.mark.slow  # trains 2 iterations and tests twice through the tools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS = 'local_configs/themask/1f_themask_mit_b0_synthetic.py'
BASE = os.path.join(ROOT, 'local_configs', '_base_')
OPTIONS = ['data.workers_per_gpu=0', 'model.decode_head.loss_cfg.train_num_points=256']

# The dataset part of a config in the original's style, at the synthetic config's sizes.
ORIGINAL_STYLE_DATA = '''
single_frame = True
train_dataset_type = 'VSPWDataset2'
test_dataset_type = 'VSPWDataset_multiFrameTest'
valandtest_size = 1
train_dilation = [0]
data_root = {data_root!r}
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', img_scale=(160, 120), ratio_range=(0.75, 1.5), process_clips=True),
    dict(type='RandomCrop_clips', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip_clips', prob=0.5),
    dict(type='PhotoMetricDistortion_clips'),
    dict(type='Normalize_clips', **img_norm_cfg),
    dict(type='Pad_clips', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle_clips'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(160, 120),
        flip=False,
        transforms=[
            dict(type='AlignedResize_clips', keep_ratio=True, size_divisor=32),
            dict(type='RandomFlip_clips'),
            dict(type='Normalize_clips', **img_norm_cfg),
            dict(type='ImageToTensor_clips', keys=['img']),
            dict(type='Collect', keys=['img'],
                 meta_keys=('filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape',
                            'scale_factor', 'flip', 'flip_direction', 'img_norm_cfg', 'all_names')),
        ])
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=1,
    train=dict(
        type='RepeatDataset',
        times=50,
        dataset=dict(type=train_dataset_type, data_root=data_root, img_dir='images/training',
                     ann_dir='annotations/training', split='train', pipeline=train_pipeline,
                     dilation=train_dilation)),
    val=dict(type=test_dataset_type, test_size=valandtest_size, data_root=data_root,
             img_dir='images/validation', ann_dir='annotations/validation', split='val',
             pipeline=test_pipeline),
    test=dict(type=test_dataset_type, test_size=valandtest_size, data_root=data_root,
              img_dir='images/validation', ann_dir='annotations/validation', split='val',
              pipeline=test_pipeline))
'''

NOTICES = {name: f"pipeline step {name!r} is the original's name for '{name}_clips'"
           for name in ('LoadImageFromFile', 'LoadAnnotations', 'Resize', 'Collect',
                        'MultiScaleFlipAug')}
NOTICES.update({name: "has no {video}: ignored, as the original did; reading the VSPW layout "
                      f"data/{{video}}/{folder}"
                for name, folder in (('img_dir', 'origin'), ('ann_dir', 'mask'))})


@pytest.fixture
def fresh_notices(monkeypatch):
    monkeypatch.setattr(logger_module, '_LOGGED_ONCE', set())


@pytest.fixture(scope='module')
def configs(tmp_path_factory, synthetic_vspw):
    """(the original-style config file, our config loaded with the synthetic data root)."""
    root = tmp_path_factory.mktemp('original_style')
    ours = load_config(os.path.join(ROOT, OURS))
    data = ORIGINAL_STYLE_DATA.format(data_root=str(synthetic_vspw))
    (root / 'vspw_original_style.py').write_text(data)
    # as the original's stage-1 configs: four bases, then the model and schedule settings
    bases = [os.path.join(BASE, 'models', 'themask_mit.py'), './vspw_original_style.py',
             os.path.join(BASE, 'default_runtime.py'),
             os.path.join(BASE, 'schedules', 'schedule_160k_adamw_mask2former.py')]
    top = [f'_base_ = {bases!r}']
    top += [f'{key} = {ours[key].to_dict()!r}'
            for key in ('model', 'optimizer', 'runner', 'evaluation')]
    original = root / '1f_themask_original_style.py'
    original.write_text('\n'.join(top) + '\n')
    for part in (ours.data.train.dataset, ours.data.val, ours.data.test):
        part.data_root = str(synthetic_vspw)
    # testing the shortest val video is enough to compare the two configs
    videos = (synthetic_vspw / 'val.txt').read_text().split()
    shortest = min(videos, key=lambda v: len(os.listdir(synthetic_vspw / 'data' / v / 'origin')))
    split = root / 'val_short.txt'
    split.write_text(shortest + '\n')
    return str(original), ours, str(split)


def same_sample(a, b):
    """Equal tensors, and every meta of ``b`` (ours) equal in ``a`` (which may hold more)."""
    assert a.keys() == b.keys()
    for key in a:
        if key == 'img_metas':
            continue
        first, second = (a[key], b[key]) if isinstance(a[key], list) else ([a[key]], [b[key]])
        assert all(torch.equal(x, y) for x, y in zip(first, second)), key
    metas_a = a['img_metas'] if isinstance(a['img'], list) else [a['img_metas']]
    metas_b = b['img_metas'] if isinstance(b['img'], list) else [b['img_metas']]
    for clip_a, clip_b in zip(metas_a, metas_b):
        for meta_a, meta_b in zip(clip_a, clip_b):
            for key, value in meta_b.items():
                assert str(meta_a[key]) == str(value), key


def test_original_style_reads_the_same_data(configs, fresh_notices):
    original_file, ours, _ = configs
    original = load_config(original_file)
    for name in ('train', 'test'):
        datasets = [build_dataset(cfg.data[name]) for cfg in (original, ours)]
        assert len(datasets[0]) == len(datasets[1])
        for index in (0, len(datasets[0]) - 1):
            samples = []
            for dataset in datasets:
                np.random.seed(index)
                samples.append(dataset[index])
            same_sample(*samples)
    # tools/check_dataset.py reads the same files
    problems, counts, _ = scan_config(original.data, workers=0, progress=False)
    assert problems == [] and counts == scan_config(ours.data, workers=0, progress=False)[1]
    assert counts['frames'] > 0
    test_metas = build_dataset(original.data.test)[0]['img_metas'][0]
    frame = test_metas[0]
    assert frame['ori_filename'] == frame['frame'] + '.jpg'
    assert frame['all_names'] == [m['filename'] for m in test_metas]
    assert frame['filename'].endswith(
        os.path.join('data', frame['video'], 'origin', frame['ori_filename']))


def test_original_style_config_trains_and_tests(configs, tmp_path, capsys, monkeypatch):
    original, ours, short_split = configs
    work = tmp_path / 'work'
    monkeypatch.setattr(logger_module, '_LOGGED_ONCE', set())
    code, out, err = run_tool('train', [
        original, '--work-dir', str(work), '--seed', '0', '--deterministic', '--options', *OPTIONS,
        'runner.max_iters=2', 'checkpoint_config.interval=2', 'log_config.interval=1'], capsys)
    assert code == 0, err[-5000:]
    log = [json.loads(line) for line in open(next(work.glob('*.log.json')))]
    assert [r['iter'] for r in log if r.get('mode') == 'train'] == [1, 2]
    for name, notice in NOTICES.items():
        assert (out + err).count(notice) == 1, (name, err[-5000:])

    metrics = {}
    test_options = OPTIONS + [f'data.test.split={short_split}']
    ours_options = test_options + [f'data_root={ours.data.test.data_root}']
    for which, config, options in (('original', original, test_options),
                                   ('ours', OURS, ours_options)):
        monkeypatch.setattr(logger_module, '_LOGGED_ONCE', set())
        path = tmp_path / f'{which}.json'
        code, out, err = run_tool('test', [config, str(work / 'latest.pth'), '--eval', 'mIoU',
                                           '--out', str(path), '--options', *options], capsys)
        assert code == 0, err[-5000:]
        metrics[which] = json.loads(path.read_text())
        if which == 'original':
            for name in ('LoadImageFromFile', 'Collect', 'MultiScaleFlipAug', 'img_dir', 'ann_dir'):
                assert (out + err).count(NOTICES[name]) == 1, (name, err[-5000:])
        else:
            assert "the original's name" not in out + err
    assert metrics['original']['num_frames'] == metrics['ours']['num_frames'] > 0
    for key in ('mIoU', 'aAcc', 'IoU', 'Acc'):
        assert metrics['original'][key] == metrics['ours'][key], key
