"""The original's pipeline step names: each builds our step with its arguments mapped, says so once,
and refuses what ours cannot do with one line."""
import numpy as np
import pytest

from mmseg.datasets import PIPELINES
from mmseg.datasets.pipelines import (
    Collect_clips,
    LoadAnnotations_clips,
    LoadImageFromFile_clips,
    MultiScaleFlipAug_clips,
    Resize_clips,
)
from mmseg.datasets.pipelines.formatting import DEFAULT_META_KEYS
from mmseg.utils import logger as logger_module
from mmseg.utils.errors import ConfigError

ORIGINAL_DEFAULT_METAS = ('filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape',
                          'scale_factor', 'flip', 'flip_direction', 'img_norm_cfg')


@pytest.fixture
def fresh_notices(monkeypatch):
    """Every notice not yet logged in this process (other tests may have used the aliases)."""
    monkeypatch.setattr(logger_module, '_LOGGED_ONCE', set())


def resolve(**cfg):
    return PIPELINES.resolve(cfg)


def test_load_image_from_file():
    assert resolve(type='LoadImageFromFile') == dict(type='LoadImageFromFile_clips',
                                                     to_float32=False, backend='cv2')
    assert resolve(type='LoadImageFromFile', to_float32=True, imdecode_backend='pillow',
                   color_type='color', file_client_args=dict(backend='disk')) == dict(
        type='LoadImageFromFile_clips', to_float32=True, backend='pillow')
    step = PIPELINES.build(dict(type='LoadImageFromFile', imdecode_backend='pillow'))
    assert type(step) is LoadImageFromFile_clips and step.backend == 'pillow'
    with pytest.raises(ConfigError, match="color_type='grayscale'"):
        resolve(type='LoadImageFromFile', color_type='grayscale')
    with pytest.raises(ConfigError, match='file_client_args.*local disk'):
        resolve(type='LoadImageFromFile', file_client_args=dict(backend='petrel'))
    with pytest.raises(ConfigError, match="imdecode_backend='turbojpeg'"):
        resolve(type='LoadImageFromFile', imdecode_backend='turbojpeg')


def test_load_annotations_keeps_the_original_default():
    # mmseg's LoadAnnotations does not shift labels unless told; ours shifts by default
    ours = dict(type='LoadAnnotations_clips', reduce_zero_label=False)
    assert resolve(type='LoadAnnotations') == ours
    assert resolve(type='LoadAnnotations', reduce_zero_label=True,
                   imdecode_backend='pillow') == dict(ours, reduce_zero_label=True)
    step = PIPELINES.build(dict(type='LoadAnnotations', reduce_zero_label=True))
    assert type(step) is LoadAnnotations_clips and step.reduce_zero_label is True


def test_resize_with_process_clips():
    assert resolve(type='Resize', img_scale=(853, 480), ratio_range=(0.5, 2.0),
                   process_clips=True) == dict(type='Resize_clips', img_scale=(853, 480),
                                               ratio_range=(0.5, 2.0))
    # a one-scale list and multiscale_mode (no effect with one scale) are accepted
    assert resolve(type='Resize', img_scale=[(160, 120)], multiscale_mode='value',
                   keep_ratio=False, process_clips=True) == dict(
        type='Resize_clips', img_scale=(160, 120), keep_ratio=False)
    step = PIPELINES.build(dict(type='Resize', img_scale=(160, 120), ratio_range=(0.75, 1.5),
                                process_clips=True))
    assert type(step) is Resize_clips
    assert (step.img_scale, step.ratio_range) == ((160, 120), (0.75, 1.5))
    with pytest.raises(ConfigError, match='process_clips=True'):
        resolve(type='Resize', img_scale=(853, 480))
    with pytest.raises(ConfigError, match='several scales'):
        resolve(type='Resize', img_scale=[(853, 480), (640, 360)], process_clips=True)
    with pytest.raises(ConfigError, match="multiscale_mode='nearest'"):
        resolve(type='Resize', img_scale=(853, 480), multiscale_mode='nearest', process_clips=True)
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) \['size'\]"):
        resolve(type='Resize', size=(4, 4), process_clips=True)


def clip_results():
    return dict(video='v', frames=['7', '9'], filename=['r/v/7.jpg', 'r/v/9.jpg'],
                img=[np.zeros((4, 5, 3), np.float32)] * 2, ori_shape=(4, 5, 3),
                img_shape=(4, 5, 3), pad_shape=(4, 5, 3), scale_factor=np.ones(4), flip=False,
                flip_direction='horizontal', img_norm_cfg={})


def test_collect_takes_the_listed_metas_and_ours():
    # the original test config lists its metas, with THE-Mask's all_names
    listed = ORIGINAL_DEFAULT_METAS + ('all_names',)
    ours = resolve(type='Collect', keys=['img'], meta_keys=listed)
    assert ours['type'] == 'Collect_clips' and ours['keys'] == ['img']
    assert ours['meta_keys'] == listed + ('video', 'frame')
    out = PIPELINES.build(dict(type='Collect', keys=['img'], meta_keys=listed))(clip_results())
    assert [m['ori_filename'] for m in out['img_metas']] == ['7.jpg', '9.jpg']
    assert [m['all_names'] for m in out['img_metas']] == [['r/v/7.jpg', 'r/v/9.jpg']] * 2
    assert [(m['video'], m['frame'], m['filename']) for m in out['img_metas']] == [
        ('v', '7', 'r/v/7.jpg'), ('v', '9', 'r/v/9.jpg')]
    # without meta_keys: mmseg 0.x's default list, then ours
    default = resolve(type='Collect', keys=['img', 'gt_semantic_seg'])['meta_keys']
    assert default == ORIGINAL_DEFAULT_METAS + ('video', 'frame')
    assert set(default) >= set(DEFAULT_META_KEYS)
    assert type(PIPELINES.build(dict(type='Collect', keys=['img']))) is Collect_clips
    with pytest.raises(ConfigError, match='needs keys'):
        resolve(type='Collect')


def test_multi_scale_flip_aug():
    transforms = [dict(type='Collect', keys=['img'])]
    args = dict(img_scale=(853, 480), flip=False, transforms=transforms)
    assert resolve(type='MultiScaleFlipAug', **args) == dict(type='MultiScaleFlipAug_clips', **args)
    assert resolve(type='MultiScaleFlipAug', img_scale=(100, 50), img_ratios=0.5, flip=True,
                   flip_direction=['vertical'], transforms=transforms) == dict(
        type='MultiScaleFlipAug_clips', img_scale=(100, 50), img_ratios=[0.5], flip=True,
        flip_direction='vertical', transforms=transforms)
    aug = PIPELINES.build(dict(type='MultiScaleFlipAug', img_scale=(100, 50), img_ratios=[0.5, 1.0],
                               transforms=transforms))
    assert type(aug) is MultiScaleFlipAug_clips and aug.img_scale == [(50, 25), (100, 50)]
    assert type(aug.transforms.transforms[0]) is Collect_clips  # the nested old name too
    with pytest.raises(ConfigError, match='needs img_scale'):
        resolve(type='MultiScaleFlipAug', img_ratios=[1.0], transforms=transforms)
    with pytest.raises(ConfigError, match='several directions'):
        resolve(type='MultiScaleFlipAug', img_scale=(1, 1), transforms=transforms,
                flip_direction=['horizontal', 'vertical'])


def test_our_names_pass_unchanged():
    cfg = dict(type='Resize_clips', img_scale=(8, 8))
    assert resolve(**cfg) == cfg


def test_one_notice_per_name_and_process(fresh_notices, mmseg_caplog):
    for _ in range(3):
        PIPELINES.build(dict(type='LoadImageFromFile'))
        PIPELINES.build(dict(type='Resize', img_scale=(8, 8), process_clips=True))
        PIPELINES.build(dict(type='LoadImageFromFile_clips'))
    lines = [r.getMessage() for r in mmseg_caplog.records]
    assert lines == [
        "pipeline step 'LoadImageFromFile' is the original's name for 'LoadImageFromFile_clips'; "
        "using it",
        "pipeline step 'Resize' is the original's name for 'Resize_clips' (process_clips=True: one "
        "scale per clip); using it"]
