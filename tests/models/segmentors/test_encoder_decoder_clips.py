"""The b1 models: parameter counts, original checkpoints, a 480x480 clip, all variants build."""
import os

import pytest
import torch

from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KEYS_FILE = os.path.join(ROOT, 'tests', 'data', 'themask_b1_original_keys.txt')
# Parameters of the original that had no effect and are not built (reported when loading).
DROPPED = {'decode_head.conv_seg.weight': 124 * 256, 'decode_head.conv_seg.bias': 124,
           'decode_head.predictor.deformabel_transformer_cross_attention_layers.'
           'reference_points.weight': 512,
           'decode_head.predictor.deformabel_transformer_cross_attention_layers.'
           'reference_points.bias': 2}


def build(stage, variant='b1'):
    cfg = load_config(os.path.join(ROOT, f'local_configs/themask/{stage}_themask_mit_{variant}.py'))
    cfg.model.pretrained = None
    return build_segmentor(cfg.model)


def original_state_dict(stage):
    state = {}
    with open(KEYS_FILE) as f:
        for line in f:
            if line.startswith(stage + ' '):
                _, key, shape = line.split()
                state[key] = torch.randn(*[int(s) for s in shape.split(',')])
    return state


@pytest.fixture(scope='module')
def b1_models():
    return {'1f': build('1f'), 'video': build('video')}


@pytest.mark.parametrize('stage,original_total,original_keys', [('1f', 32_989_049, 471),
                                                                ('video', 36_179_961, 519)])
def test_b1_parameter_count_is_the_original_minus_dropped(b1_models, stage, original_total,
                                                          original_keys):
    model = b1_models[stage]
    dropped = {k: n for k, n in DROPPED.items() if stage == 'video' or 'conv_seg' in k}
    assert sum(p.numel() for p in model.parameters()) == original_total - sum(dropped.values())
    assert len(model.state_dict()) == original_keys - len(dropped)


@pytest.mark.parametrize('stage', ['1f', 'video'])
def test_original_checkpoint_loads_strictly(b1_models, stage, mmseg_caplog):
    model = b1_models[stage]
    state = original_state_dict('stage1' if stage == '1f' else 'stage2')
    assert len(state) == (471 if stage == '1f' else 519)
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert 'dropped 2 unused official parameters' in mmseg_caplog.text
    if stage == 'video':
        assert 'temporal_layer' in mmseg_caplog.text
        key = ('decode_head.predictor.deformabel_transformer_cross_attention_layers.'
               'time_attention.weight')
        assert torch.equal(model.decode_head.predictor.temporal_layer.time_attention.weight,
                           state[key])


def test_480x480_two_frame_clip_runs_on_cpu(b1_models):
    model = b1_models['video'].eval()
    x = torch.randn(1, 2, 3, 480, 480)
    with torch.no_grad():
        labels = model.simple_test(x, {'ori_shape': (480, 480, 3)})
    assert len(labels) == 1 and labels[0].shape == (2, 480, 480)
    assert labels[0].max() < 124


@pytest.mark.parametrize('variant', ['b0', 'b2', 'b3', 'b4', 'b5'])
def test_every_variant_builds_for_both_stages(variant):
    for stage in ('1f', 'video'):
        with torch.device('meta'):
            model = build(stage, variant)
        assert type(model.backbone).__name__ == f'mit_{variant}'
