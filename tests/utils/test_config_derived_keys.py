"""--options data_root=DIR and num_classes=K reach the keys the base files set from them."""
import os

from mmseg.datasets import build_dataset
from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def test_data_root_override_makes_train_and_test_read_it(tmp_path, capsys):
    data = str(tmp_path / 'elsewhere')
    make_synthetic_vspw(data, videos=4, size=(32, 48), frames=(3, 4))
    cfg = load_config(CONFIG, {'data_root': data})
    assert cfg.data.train.dataset.data_root == cfg.data.val.data_root == cfg.data.test.data_root == data
    assert 'also sets data.train.dataset.data_root, data.val.data_root, data.test.data_root' in capsys.readouterr().err
    train, test = build_dataset(cfg.data.train), build_dataset(cfg.data.test)
    assert train.dataset.data_root == data and test.data_root == data
    assert train.dataset.frame_path(train.dataset.videos[0], 'x').startswith(data)


def test_explicit_keys_win_and_num_classes_sets_both_head_keys():
    cfg = load_config(CONFIG, {'data_root': '/a', 'data.test.data_root': '/b', 'num_classes': 3})
    assert cfg.data.val.data_root == '/a' and cfg.data.test.data_root == '/b'
    head = cfg.model.decode_head
    assert head.num_classes == 3 and head.transformer_decoder_cfg.num_classes == 3
