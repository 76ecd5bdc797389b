"""The Cityscapes configs: CFFM's Cityscapes protocol, THE-Mask's head and objective with 19
classes; each builds its model and its datasets (on the session's synthetic Cityscapes copy)."""
import glob
import os

import pytest
import torch

from mmseg.datasets import (
    CityscapesDataset_clips,
    CityscapesDataset_multiFrameTest,
    RepeatDataset,
    build_dataset,
)
from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'local_configs', 'themask', '*_cityscapes*.py')))
REAL = [p for p in CONFIGS if p.endswith('_cityscapes.py')]


def step(pipeline, name):
    return next(t for t in pipeline if t['type'] == name)


def test_the_variants():
    names = {os.path.basename(p) for p in CONFIGS}
    stages = ('1f', 'video')
    variants = ('b0', 'b1', 'b2', 'b5')
    assert names == ({f'{s}_themask_mit_{v}_cityscapes.py' for s in stages for v in variants}
                     | {f'{s}_themask_mit_b0_cityscapes_synthetic.py' for s in stages})


@pytest.mark.parametrize('path', REAL, ids=os.path.basename)
def test_cffm_protocol_and_themask_recipe(path):
    cfg = load_config(path)
    stage, variant = os.path.basename(path)[:-len('_cityscapes.py')].split('_themask_mit_')
    vspw = load_config(path.replace('_cityscapes.py', '.py'))  # the same variant on VSPW
    train = cfg.data.train.dataset
    assert (cfg.data.train.type, cfg.data.train.times) == ('RepeatDataset', 500)
    assert cfg.data.samples_per_gpu == 2
    assert (train.type, train.data_root, train.split, list(train.dilation)) == (
        'CityscapesDataset_clips', 'data/cityscapes', 'train', [0])
    assert step(train.pipeline, 'LoadAnnotations_clips').reduce_zero_label is False
    resize = step(train.pipeline, 'Resize_clips')
    assert (tuple(resize.img_scale), tuple(resize.ratio_range)) == ((1024, 512), (0.5, 2.0))
    crop = step(train.pipeline, 'RandomCrop_clips')
    assert (tuple(crop.crop_size), crop.cat_max_ratio) == ((512, 1024), 0.75)
    assert tuple(step(train.pipeline, 'Pad_clips').size) == (512, 1024)
    for test in (cfg.data.val, cfg.data.test):
        assert (test.type, test.split) == ('CityscapesDataset_multiFrameTest', 'val')
        assert (test.test_size, test.test_gap) == (1, 3)
        aug = step(test.pipeline, 'MultiScaleFlipAug_clips')
        assert (tuple(aug.img_scale), aug.flip) == ((1024, 512), False)
    head = cfg.model.decode_head
    assert head.num_classes == 19 and head.transformer_decoder_cfg.num_classes == 19
    assert (head.type, cfg.model.backbone.type) == (vspw.model.decode_head.type, f'mit_{variant}')
    assert cfg.model.pretrained == f'pretrained/mit_{variant}.pth'
    # the head, objective and schedule are VSPW's
    for key in ('loss_cfg', 'pixel_decoder_cfg', 'input_shape'):
        assert head[key] == vspw.model.decode_head[key], key
    decoder = dict(head.transformer_decoder_cfg, num_classes=124)
    assert decoder == dict(vspw.model.decode_head.transformer_decoder_cfg)
    for key in ('optimizer', 'optimizer_config', 'lr_config', 'runner'):
        assert cfg[key] == vspw[key], key
    assert cfg.runner.max_iters == 160000 and list(cfg.evaluation.metric) == ['mIoU']


def state_shapes(cfg):
    cfg.model.pretrained = None
    with torch.device('meta'):  # the modules and their parameter shapes, without filling them
        model = build_segmentor(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_builds_its_model_and_datasets(path, synthetic_cityscapes):
    cfg = load_config(path, {'data_root': str(synthetic_cityscapes)})
    shapes = state_shapes(cfg)
    # the VSPW variant's model but for the class layers: 19 classes + "no object" instead of 124 + 1
    vspw = state_shapes(load_config(path.replace('_cityscapes', '')))
    assert shapes.keys() == vspw.keys()
    differ = {k for k in shapes if shapes[k] != vspw[k]}
    assert differ and all(shapes[k][0] == 20 and vspw[k] == (125, *shapes[k][1:]) for k in differ)
    assert {k.rsplit('.', 1)[0] for k in differ} <= {'decode_head.predictor.class_embed',
                                                     'decode_head.predictor.class_embed_aux',
                                                     'decode_head.criterion'}
    train = build_dataset(cfg.data.train)
    assert isinstance(train, RepeatDataset) and isinstance(train.dataset, CityscapesDataset_clips)
    assert len(train.dataset) == 4
    for name in ('val', 'test'):
        test = build_dataset(cfg.data[name])
        assert isinstance(test, CityscapesDataset_multiFrameTest)
        assert len(test) == 2 and test.num_classes == 19
