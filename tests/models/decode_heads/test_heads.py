"""THEMask1fHead and THEMaskHead: the semantic map (hand-checked), the stage-2 average of the two
branches, the test-time output shape and the checks on in_index / in_features."""
import math
import os

import pytest
import torch

from mmseg.models import build_head
from mmseg.models.decode_heads.the_mask_1f_head import THEMask1fHead
from mmseg.models.decode_heads.the_mask_head import THEMaskHead
from mmseg.models.decode_heads.themask_base_head import semantic_inference
from mmseg.utils.config import load_config

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
    torch.testing.assert_close(semseg[3], semantic_inference(logits[1:], masks[1:, :, 1:]).squeeze(0))


def test_stage1_semantic_map_is_the_semantic_inference():
    logits, masks = torch.randn(1, 2, 3), torch.randn(1, 2, 1, 2, 2)
    out = THEMask1fHead.semantic_map(None, {'pred_logits': logits, 'pred_masks': masks, 'aux_outputs': []})
    torch.testing.assert_close(out, semantic_inference(logits, masks))


def test_stage2_semantic_map_averages_the_frame_and_clip_branches_by_hand():
    # one clip of two frames, one query, two classes
    clip = {'pred_logits': torch.tensor([[[LN2, 0.0, 0.0]]]),  # (1/2, 1/4)
            'pred_masks': torch.tensor([0.0, LN3]).view(1, 1, 2, 1, 1)}  # frame 0: 1/2, frame 1: 3/4
    frame = {'pred_logits': torch.tensor([[[0.0, LN2, 0.0]], [[0.0, 0.0, LN2]]]),  # (1/4, 1/2), (1/4, 1/4)
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
    inputs = [torch.randn(clips * frames, c, height // s, width // s) for c, s in zip(channels, (4, 8, 16, 32))]
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
    with pytest.raises(KeyError, match='res6'):
        build_head(head_cfg('1f', in_features=['res2', 'res3', 'res4', 'res6']))


def test_decoder_num_classes_must_match_the_head():
    cfg = head_cfg('1f')
    cfg.transformer_decoder_cfg.num_classes = 7
    with pytest.raises(ValueError, match='num_classes=7'):
        build_head(cfg)
