"""The dataset's classes and the head's num_classes must agree before training or testing."""
import numpy as np
import pytest
from PIL import Image
from torch import nn

from mmseg.apis.class_check import check_num_classes
from mmseg.core.evaluation import VideoSegEvaluator
from mmseg.utils.errors import ConfigError


class Model(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.decode_head = nn.Module()
        self.decode_head.num_classes = num_classes


class Dataset:
    CLASSES = ('a', 'b', 'c')


def test_mismatch_names_both_counts_and_the_keys():
    cfg = dict(model=dict(decode_head=dict(num_classes=124,
                                           transformer_decoder_cfg=dict(num_classes=124))))
    check_num_classes(Model(3), Dataset(), cfg)
    with pytest.raises(ConfigError) as err:
        check_num_classes(Model(124), Dataset(), cfg, what='data.test')
    message = str(err.value)
    assert 'data.test' in message and '3 classes' in message and 'num_classes=124' in message
    assert ('model.decode_head.num_classes=3 and '
            'model.decode_head.transformer_decoder_cfg.num_classes=3'
            in message)


def test_label_offset_writes_raw_ids(tmp_path):
    evaluator = VideoSegEvaluator(class_names=['a', 'b'], video_frames={'v': ['f']}, load_gt=None,
                                  metrics=[], imgfile_prefix=str(tmp_path),
                                  palette=[(1, 1, 1), (2, 2, 2)], label_offset=1)
    evaluator.process(np.array([[0, 1]]), dict(video='v', frame='f'))
    assert np.asarray(Image.open(tmp_path / 'v' / 'f.png')).tolist() == [[1, 2]]
