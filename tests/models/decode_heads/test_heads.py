"""THEMask1fHead and THEMaskHead: the semantic map (hand-checked), the stage-2 average of the two
branches, the test-time output shape and the checks on in_index / in_features."""
import math
import os
import re

import pytest
import torch

from mmseg.models import build_head
from mmseg.models.decode_heads.the_mask_1f_head import THEMask1fHead
from mmseg.models.decode_heads.the_mask_head import THEMaskHead
from mmseg.models.decode_heads.themask_base_head import semantic_inference
from mmseg.utils.config import load_config
from mmseg.utils.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONFIGS = {'1f': 'local_configs/themask/1f_themask_mit_b0_synthetic.py',
           'video': 'local_configs/themask/video_themask_mit_b0_synthetic.py'}
LN2, LN3 = math.log(2.0), math.log(3.0)


def head_cfg(stage, **overrides):
    cfg = load_config(os.path.join(ROOT, CONFIGS[stage])).model.decode_head
    cfg.transformer_decoder_cfg.num_frames = 2 if stage == 'video' else 1
    cfg.update(overrides)
    return cfg


def test_semantic_inference_one_query_two_classes_by_hand():
    logits = torch.tensor([[[LN2, 0.0, 0.0]]])  # softmax (1/2, 1/4, 1/4); the last is "no object"
    masks = torch.tensor([0.0, LN3]).view(1, 1, 1, 1, 2)  # sigmoid (1/2, 3/4)
    semseg = semantic_inference(logits, masks)
    assert semseg.shape == (1, 2, 1, 2)  # (b*t, K, h, w)
    expected = torch.tensor([[[[0.5 * 0.5, 0.5 * 0.75]], [[0.25 * 0.5, 0.25 * 0.75]]]])
    torch.testing.assert_close(semseg, expected)


def test_semantic_inference_sums_queries_and_is_clip_major():
    torch.manual_seed(0)
    logits, masks = torch.randn(2, 3, 5), torch.randn(2, 3, 2, 4, 4)  # b=2, Q=3, K=4, t=2
    semseg = semantic_inference(logits, masks)
    assert semseg.shape == (4, 4, 4, 4)
    per_query = sum(semantic_inference(logits[:, q:q + 1], masks[:, q:q + 1]) for q in range(3))
    torch.testing.assert_close(semseg, per_query)
    # frame tau of clip beta is row beta * t + tau
    torch.testing.assert_close(semseg[3],
                               semantic_inference(logits[1:], masks[1:, :, 1:]).squeeze(0))


def test_stage1_semantic_map_is_the_semantic_inference():
    logits, masks = torch.randn(1, 2, 3), torch.randn(1, 2, 1, 2, 2)
    out = THEMask1fHead.semantic_map(None, {'pred_logits': logits, 'pred_masks': masks,
                                            'aux_outputs': []})
    torch.testing.assert_close(out, semantic_inference(logits, masks))


def test_stage2_semantic_map_averages_the_frame_and_clip_branches_by_hand():
    # one clip of two frames, one query, two classes
    clip = {'pred_logits': torch.tensor([[[LN2, 0.0, 0.0]]]),  # (1/2, 1/4)
            # frame 0: 1/2, frame 1: 3/4
            'pred_masks': torch.tensor([0.0, LN3]).view(1, 1, 2, 1, 1)}
    # (1/4, 1/2), (1/4, 1/4)
    frame = {'pred_logits': torch.tensor([[[0.0, LN2, 0.0]], [[0.0, 0.0, LN2]]]),
             'pred_masks': torch.tensor([0.0, LN3]).view(2, 1, 1, 1, 1)}  # 1/2, 3/4
    out = THEMaskHead.semantic_map(None, (clip, frame))
    # clip branch: frame 0 (1/4, 1/8), frame 1 (3/8, 3/16); frame branch: (1/8, 1/4), (3/16, 3/16)
    expected = torch.tensor([[0.1875, 0.1875], [0.28125, 0.1875]]).view(2, 2, 1, 1)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('stage', ['1f', 'video'])
def test_forward_test_gives_class_maps_at_stride_4(stage):
    head = build_head(head_cfg(stage)).eval()
    assert type(head) is (THEMask1fHead if stage == '1f' else THEMaskHead)
    clips, frames, height, width = 1, 2, 64, 96
    channels = [32, 64, 160, 256]
    torch.manual_seed(0)
    inputs = [torch.randn(clips * frames, c, height // s, width // s)
              for c, s in zip(channels, (4, 8, 16, 32))]
    with torch.no_grad():
        maps = head.forward_test(inputs, num_clips=clips)
    assert maps.shape == (clips * frames, head.num_classes, height // 4, width // 4)
    assert maps.min() >= 0 and torch.isfinite(maps).all()
    # each pixel's class scores are a sum over queries of probabilities <= 1
    num_queries = head.predictor.query_feat.num_embeddings
    assert maps.sum(1).max() <= num_queries + 1e-4


@pytest.mark.parametrize('in_index', [[0, 1, 2], [1, 2, 3, 0], [0, 1, 2, 3, 4]])
def test_in_index_must_list_the_four_outputs_in_order(in_index):
    with pytest.raises(ValueError, match='in_index'):
        build_head(head_cfg('1f', in_index=in_index))


def test_in_features_must_be_in_input_shape():
    with pytest.raises(ConfigError, match='res6'):
        build_head(head_cfg('1f', in_features=['res2', 'res3', 'res4', 'res6']))


def test_decoder_num_classes_must_match_the_head():
    cfg = head_cfg('1f')
    cfg.transformer_decoder_cfg.num_classes = 7
    with pytest.raises(ValueError, match='num_classes=7'):
        build_head(cfg)


@pytest.mark.parametrize('key,value,message', [
    ('pre_norm', True, 'pre_norm=True is not supported'),
    ('transformer_in_feature', 'res5', 'transformer_in_feature must be '
                                       '"multi_scale_pixel_decoder"'),
    ('CONVS_DIM', 256, 'CONVS_DIM=256 differs from pixel_decoder_cfg.conv_dim=64'),
    ('in_channels', 32, 'in_channels=32 differs from pixel_decoder_cfg.conv_dim=64'),
    ('MASK_DIM', 128, 'MASK_DIM=128 differs from pixel_decoder_cfg.mask_dim=64'),
    ('mask_dim', 32, 'mask_dim=32 differs from pixel_decoder_cfg.mask_dim=64'),
    ('dec_layers', 4, 'dec_layers=4 differs from loss_cfg.dec_layers - 1'),
])
def test_the_translation_checks_the_originals_compatibility_keys(key, value, message):
    """The head's from_config reads the original's decoder keys; the decoder never sees them."""
    cfg = head_cfg('1f')
    cfg.transformer_decoder_cfg[key] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_head(cfg)


def test_the_translation_gives_the_modules_plain_arguments():
    head = build_head(head_cfg('video'))
    predictor, pixel = head.predictor, head.pixel_decoder
    assert (predictor.input_proj[0].in_channels == 64 if len(predictor.input_proj[0]._modules)
            else True)
    assert predictor.mask_embed.layers[-1].out_features == 64 and predictor.num_classes == 124
    assert predictor.num_layers == 5 and head.criterion.dec_layers == 6
    assert sorted(pixel.in_features) == ['res2', 'res3', 'res4', 'res5']


def test_top_level_variables_overridden_on_the_command_line_take_effect():
    """dec_layers counts the predictions (one before the first decoder layer), as in the configs."""
    from mmseg.models import build_segmentor
    cfg = load_config(os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0.py'),
                      {'dec_layers': 6, 'MASK_DIM': 128, 'model.pretrained': None})
    model = build_segmentor(cfg.model)
    predictor = model.decode_head.predictor
    assert predictor.num_layers == 5 and model.decode_head.criterion.dec_layers == 6
    assert model.decode_head.pixel_decoder.mask_features.out_channels == 128
    assert predictor.mask_embed.layers[-1].out_features == 128
    model.eval()
    with torch.no_grad():
        features = model.encode_frames(torch.randn(2, 3, 64, 64))
        assert features.mask_features.shape == (2, 128, 16, 16)
        model.train()
        outputs = model.decode_head.decode(model.decode_head.encode_frames(model.backbone(
            torch.randn(2, 3, 64, 64))), num_clips=2)
    assert len(outputs[0]['aux_outputs']) + 1 == 6  # six predictions: 5 layers and the one before

