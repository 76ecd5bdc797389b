"""Overrides keep the config's types: an integral float for an int key becomes an int and says
so."""
import argparse
import os

import pytest

from mmseg.utils.config import ConfigError, DictAction, apply_overrides, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')


def parse(*items):
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--options', *items]).options


def test_integral_float_becomes_int_with_a_log_line(mmseg_caplog):
    cfg = apply_overrides(load_config(CONFIG),
                          parse('runner.max_iters=1e3', 'checkpoint_config.interval=4.0'))
    assert cfg.runner.max_iters == 1000 and type(cfg.runner.max_iters) is int
    assert type(cfg.checkpoint_config.interval) is int
    assert ('runner.max_iters=1000.0: runner.max_iters is an integer, using 1000'
            in mmseg_caplog.text)


@pytest.mark.parametrize('item,fragment', [
    ('runner.max_iters=2.5', 'expected int (an integral value)'),
    ('runner.max_iters=true', 'expected int'),
    ('optimizer.lr=fast', 'expected float'),
    ('data.test.test_size=[1]', 'expected int'),
    ('model.decode_head.loss_cfg.warmup_iters=1e-3', 'expected int'),
])
def test_wrong_types_are_refused(item, fragment):
    with pytest.raises(ConfigError, match=fragment.replace('(', r'\(').replace(')', r'\)')):
        apply_overrides(load_config(CONFIG), parse(item))


def test_float_key_accepts_an_int():
    cfg = apply_overrides(load_config(CONFIG), parse('optimizer.lr=1'))
    assert cfg.optimizer.lr == 1


@pytest.mark.parametrize('item', ['runner.max_iters', '=3', 'a.b=[1,2'])
def test_malformed_items_are_argparse_errors_naming_the_flag(item, capsys):
    with pytest.raises(SystemExit) as info:
        parse(item)
    assert info.value.code == 2
    assert 'argument --options' in capsys.readouterr().err
