import os

import pytest

from mmseg.utils.config import Config, ConfigError, apply_overrides, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B5_VIDEO = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b5.py')


def small_cfg():
    return Config(dict(runner=dict(type='IterBasedRunner', max_iters=10),
                       data=dict(test=dict(test_size=1), train=dict(dataset=dict(dilation=[0]))),
                       pipeline=[dict(type='A', size=3)], load_from=None, name='x'))


def test_seed_readme_overrides_have_the_right_types():
    cfg = load_config(B5_VIDEO, {'model.decode_head.transformer_decoder_cfg.num_frames': 2,
                                 'data.train.dataset.dilation': [-3],
                                 'runner.max_iters': 12000, 'checkpoint_config.interval': 500})
    assert cfg.model.decode_head.transformer_decoder_cfg.num_frames == 2
    assert type(cfg.model.decode_head.transformer_decoder_cfg.num_frames) is int
    assert list(cfg.data.train.dataset.dilation) == [-3]
    assert cfg.runner.max_iters == 12000 and cfg.checkpoint_config.interval == 500
    # untouched siblings survive
    assert cfg.runner.type == 'IterBasedRunner'
    assert cfg.model.decode_head.transformer_decoder_cfg.num_queries == 100


def test_misspelled_key_is_refused_with_the_nearest_key():
    with pytest.raises(ConfigError) as err:
        apply_overrides(small_cfg(), {'runner.max_iter': 5})
    assert ('runner.max_iter' in str(err.value)
            and 'did you mean runner.max_iters' in str(err.value).lower())


def test_missing_intermediate_key_is_refused():
    with pytest.raises(ConfigError, match="'tset' is not in data"):
        apply_overrides(small_cfg(), {'data.tset.test_size': 2})


def test_plus_adds_a_new_key_on_purpose():
    cfg = apply_overrides(small_cfg(), {'+model.foo': 1, '+runner.extra': 'y'})
    assert cfg.model.foo == 1 and cfg.runner.extra == 'y'


@pytest.mark.parametrize('key,value,expected', [
    ('data.test.test_size', 'two', 'expected int'),
    ('runner.max_iters', 2.5, 'expected int'),
    ('data.train.dataset.dilation', 3, 'expected list'),
    ('name', 3, 'expected str'),
])
def test_wrong_type_is_refused(key, value, expected):
    with pytest.raises(ConfigError, match=expected):
        apply_overrides(small_cfg(), {key: value})


def test_none_and_list_index():
    cfg = apply_overrides(small_cfg(), {'load_from': 'a.pth', 'pipeline.0.size': 5})
    assert cfg.load_from == 'a.pth' and cfg.pipeline[0].size == 5
    with pytest.raises(ConfigError, match='out of range'):
        apply_overrides(small_cfg(), {'pipeline.3.size': 5})


def test_missing_config_file():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        load_config('nope.py')
