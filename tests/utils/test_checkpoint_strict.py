"""Strict loading for testing and inference: a checkpoint that does not fit the model is refused
with the count, a few names and the likely cause; a partial load needs an explicit flag."""
import os

import pytest
import torch

from mmseg.apis import init_segmentor
from mmseg.models import build_segmentor
from mmseg.utils.checkpoint import load_checkpoint
from mmseg.utils.config import load_config
from mmseg.utils.errors import CheckpointError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')
STAGE2 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def build(config):
    cfg = load_config(config)
    cfg.model.pretrained = None
    torch.manual_seed(0)
    return build_segmentor(cfg.model)


@pytest.fixture(scope='module')
def stage1_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('strict') / 'stage1.pth'
    torch.save({'state_dict': build(STAGE1).state_dict()}, path)
    return str(path)


def test_init_segmentor_refuses_a_stage1_checkpoint_for_a_stage2_config(stage1_checkpoint):
    with pytest.raises(CheckpointError) as info:
        init_segmentor(STAGE2, stage1_checkpoint)
    message = str(info.value)
    assert '\n' not in message
    assert '48 of 395 model tensors are not in it and would stay uninitialised' in message
    assert 'decode_head.predictor.temporal_layer.' in message
    assert 'stage-1 (1f_*) checkpoint used with a stage-2 (video_*) config' in message
    assert 'init_segmentor(..., strict=False) loads it anyway' in message


def test_partial_load_only_with_strict_false(stage1_checkpoint, mmseg_caplog):
    model = init_segmentor(STAGE2, stage1_checkpoint, strict=False)
    source = torch.load(stage1_checkpoint, weights_only=True)['state_dict']
    key = 'backbone.block1.0.attn.q.weight'
    assert torch.equal(model.state_dict()[key], source[key])
    assert 'loaded 347 of 395 tensors' in mmseg_caplog.text


def test_stage2_checkpoint_with_stage1_config_names_the_cause(tmp_path):
    path = tmp_path / 'stage2.pth'
    torch.save(build(STAGE2).state_dict(), path)
    with pytest.raises(CheckpointError, match=r'stage-2 \(video_\*\) checkpoint used with a '
                                              r'stage-1'):
        load_checkpoint(build(STAGE1), str(path), strict=True, source='x')


def test_a_fitting_checkpoint_and_the_official_mapping_load_strictly(tmp_path):
    model = build(STAGE2)
    state = model.state_dict()
    renamed = {k.replace('.temporal_layer.', '.deformabel_transformer_cross_attention_layers.'): v
               for k, v in state.items()}
    renamed['decode_head.conv_seg.weight'] = torch.zeros(3)  # known unused in the original: dropped
    torch.save({'state_dict': renamed}, tmp_path / 'official.pth')
    fresh = init_segmentor(STAGE2, str(tmp_path / 'official.pth'))
    for key, value in state.items():
        assert torch.equal(fresh.state_dict()[key], value), key
