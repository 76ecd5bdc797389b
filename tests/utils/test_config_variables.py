"""An overridden top-level variable recomputes the keys the config files compute from it
(data_root, num_classes, dec_layers - 1, a tuple copied into a pipeline list), explicit keys win,
and an override that would change nothing is refused with the keys to set."""
import os

import pytest

from mmseg.datasets import build_dataset
from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
from mmseg.utils.config import load_config
from mmseg.utils.config_variables import variable_uses
from mmseg.utils.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def test_data_root_override_makes_train_and_test_read_it(tmp_path, capsys):
    data = str(tmp_path / 'elsewhere')
    make_synthetic_vspw(data, videos=4, size=(32, 48), frames=(3, 4))
    cfg = load_config(CONFIG, {'data_root': data})
    assert (cfg.data.train.dataset.data_root == cfg.data.val.data_root
            == cfg.data.test.data_root == data)
    err = capsys.readouterr().err
    assert (f"also sets data.train.dataset.data_root='{data}', data.val.data_root='{data}', "
            f"data.test.data_root" in err)
    train, test = build_dataset(cfg.data.train), build_dataset(cfg.data.test)
    assert train.dataset.data_root == data and test.data_root == data
    assert train.dataset.frame_path(train.dataset.videos[0], 'x').startswith(data)


def test_explicit_keys_win_and_num_classes_sets_both_head_keys():
    cfg = load_config(CONFIG, {'data_root': '/a', 'data.test.data_root': '/b', 'num_classes': 3})
    assert cfg.data.val.data_root == '/a' and cfg.data.test.data_root == '/b'
    head = cfg.model.decode_head
    assert head.num_classes == 3 and head.transformer_decoder_cfg.num_classes == 3


def write(path, text):
    path.write_text(text)
    return str(path)


def test_arithmetic_structures_and_bases(tmp_path):
    write(tmp_path / 'base.py', "width = 4\nsize = (8, 8)\n"
          "pipeline = [dict(type='Crop', crop_size=size), dict(type='Pad', size=size)]\n"
          "model = dict(head=dict(channels=width, hidden=width * 2 + 1, "
          "layers=[dict(dim=width)]))\n")
    # a dict or list variable copied into another key (pipeline=train_pipeline in the configs)
    config = write(tmp_path / 'one.py', "_base_ = ['./base.py']\nsize2 = (8, 8)\n"
                   "copy = [dict(type='Crop', crop_size=size2)]\n"
                   "data = dict(train=dict(pipeline=copy))\nmodel = dict(head=dict(hidden=99))\n")
    paths = {use.path for use in variable_uses(config)}
    assert {'model.head.channels', 'model.head.hidden', 'model.head.layers.0.dim',
            'pipeline.0.crop_size', 'copy.0.crop_size', 'data.train.pipeline.0.crop_size'} <= paths
    cfg = load_config(config, {'width': 16, 'size2': (4, 4)})
    assert cfg.model.head.channels == 16 and cfg.model.head.layers[0].dim == 16
    assert cfg.model.head.hidden == 99  # set directly by the child: left alone
    assert tuple(cfg.data.train.pipeline[0].crop_size) == (4, 4) == tuple(cfg['copy'][0].crop_size)


def test_an_override_that_would_change_nothing_is_refused(tmp_path):
    base = write(tmp_path / 'base.py', "layers = 10\n"
                                       "model = dict(decoder=dict(layers=layers - 1))\n")
    child = write(tmp_path / 'child.py', "_base_ = ['./base.py']\n"
                                         "model = dict(decoder=dict(layers=3))\n")
    assert load_config(base, {'layers': 6}).model.decoder.layers == 5
    with pytest.raises(ConfigError, match=r'layers=6 would change nothing: '
                                          r'.*model.decoder.layers=3\); override those keys '
                                          r'instead'):
        load_config(child, {'layers': 6})
    assert load_config(child, {'layers': 6, 'model.decoder.layers': 5}).model.decoder.layers == 5
