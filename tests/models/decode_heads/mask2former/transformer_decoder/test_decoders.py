"""Both masked transformer decoders on a tiny config: output shapes in training and at inference,
deep supervision, the attention-mask layout of each, and the clip layout checks."""
import contextlib

import pytest
import torch

from mmseg.models.decode_heads.mask2former.transformer_decoder import (
    MultiScaleMaskedTransformerDecoder,
    VideoMultiScaleMaskedTransformerDecoder,
)
from mmseg.models.utils import reference_mode

B, T, Q, K, C, MASK_DIM, LAYERS = 2, 2, 4, 3, 32, 16, 3
HM, WM = 16, 24  # mask features at stride 4 of a 64x96 frame
SIZES = [(2, 3), (4, 6), (8, 12)]  # strides 32, 16, 8


def build(cls, num_frames=T, nheads=2):
    torch.manual_seed(0)
    return cls(in_channels=C, num_classes=K, hidden_dim=C, num_queries=Q, nheads=nheads,
               dim_feedforward=64, dec_layers=LAYERS, mask_dim=MASK_DIM, num_frames=num_frames)


def inputs(clips=B, frames=T):
    torch.manual_seed(1)
    x = [torch.randn(clips * frames, C, h, w) for h, w in SIZES]
    return x, torch.randn(clips * frames, MASK_DIM, HM, WM)


def check_stage1(out, clips=B, frames=T):
    assert out['pred_logits'].shape == (clips, Q, K + 1)
    assert out['pred_masks'].shape == (clips, Q, frames, HM, WM)
    for aux in out['aux_outputs']:
        assert (aux['pred_logits'].shape == (clips, Q, K + 1)
                and aux['pred_masks'].shape == (clips, Q, frames, HM, WM))


def check_stage2(out, clips=B, frames=T):
    clip, frame = out
    assert clip['pred_logits'].shape == (clips, Q, K + 1)
    assert clip['pred_masks'].shape == (clips, Q, frames, HM, WM)
    assert frame['pred_logits'].shape == (clips * frames, Q, K + 1)
    assert frame['pred_masks'].shape == (clips * frames, Q, 1, HM, WM)
    assert len(clip['aux_outputs']) == len(frame['aux_outputs'])
    for a, b in zip(clip['aux_outputs'], frame['aux_outputs']):
        assert (a['pred_masks'].shape == clip['pred_masks'].shape
                and b['pred_masks'].shape == frame['pred_masks'].shape)


def aux_count(cls, out):
    return len(out['aux_outputs'] if cls is MultiScaleMaskedTransformerDecoder
               else out[0]['aux_outputs'])


@pytest.mark.parametrize('cls,check', [(MultiScaleMaskedTransformerDecoder, check_stage1),
                                       (VideoMultiScaleMaskedTransformerDecoder, check_stage2)])
def test_shapes_and_deep_supervision_in_training_and_inference(cls, check):
    decoder = build(cls).train()
    out = decoder(*inputs(), num_clips=B)
    check(out)
    assert aux_count(cls, out) == LAYERS  # one prediction before each decoder layer

    decoder.eval()
    with torch.no_grad():
        fast = decoder(*inputs(), num_clips=B)
        with reference_mode():
            reference = decoder(*inputs(), num_clips=B)
    check(fast)
    check(reference)
    assert aux_count(cls, fast) == 0  # fast inference: only the attention masks between layers
    assert aux_count(cls, reference) == LAYERS  # the original's path predicts after every layer
    final = ((lambda o: o['pred_masks']) if cls is MultiScaleMaskedTransformerDecoder
             else (lambda o: o[0]['pred_masks']))
    torch.testing.assert_close(final(fast), final(reference), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('cls', [MultiScaleMaskedTransformerDecoder,
                                 VideoMultiScaleMaskedTransformerDecoder])
def test_inference_accepts_clips_of_any_length(cls):
    decoder = build(cls, num_frames=2).eval()
    with torch.no_grad():
        out = decoder(*inputs(clips=1, frames=3), num_clips=1)
    (check_stage1 if cls is MultiScaleMaskedTransformerDecoder
     else check_stage2)(out, clips=1, frames=3)


# blocked positions (b=1, Q=2, t=2, h=1, w=2)
# query 0: frame 0 half, frame 1 fully blocked
BLOCKED = torch.tensor([[[[True, False]], [[True, True]]],
                        [[[False, False]], [[False, True]]]]).unsqueeze(0)  # query 1


def test_stage1_heads_mask_is_frame_major_and_the_same_for_every_head():
    decoder = build(MultiScaleMaskedTransformerDecoder, nheads=2)
    with reference_mode():  # the per-head form nn.MultiheadAttention takes
        mask = decoder.heads_mask(BLOCKED)
    expected_head = torch.tensor([[True, False, True, True],  # tokens t * h * w, frame 0 first
                                  [False, False, False, True]])
    assert mask.shape == (1 * 2, 2, 4)  # (b * heads, Q, t*h*w)
    # no row opened here: decoder_layer does it
    assert torch.equal(mask, expected_head.expand(2, 2, 4))


def test_stage2_heads_mask_is_per_frame_with_fully_blocked_rows_opened():
    decoder = build(VideoMultiScaleMaskedTransformerDecoder, nheads=2)
    with reference_mode():
        mask = decoder.heads_mask(BLOCKED)
    assert mask.shape == (2 * 1 * 2, 2, 2)  # (t * b * heads, Q, h*w)
    frame0 = torch.tensor([[True, False], [False, False]])
    frame1 = torch.tensor([[False, False], [False, True]])  # query 0 blocked everything: opened
    # index (tau * b + beta) * heads + head
    assert torch.equal(mask, torch.stack([frame0, frame0, frame1, frame1]))


@pytest.mark.parametrize('cls', [MultiScaleMaskedTransformerDecoder,
                                 VideoMultiScaleMaskedTransformerDecoder])
def test_heads_mask_batch_index_order(cls):
    """Two clips, four heads: stage 1 is (beta * heads + head), stage 2 ((tau * b + beta) * heads +
    head)."""
    b, t, heads = 2, 2, 4
    decoder = build(cls, nheads=heads)
    blocked = torch.rand(b, Q, t, 2, 2) < 0.5
    blocked[1, 0, 1] = True  # a fully blocked row in stage 2
    with reference_mode():
        mask = decoder.heads_mask(blocked)
    # fast mode: one mask for all heads, (clip or frame, Q, keys)
    shared = decoder.heads_mask(blocked)
    assert torch.equal(shared.repeat_interleave(heads, dim=0), mask)
    for beta in range(b):
        for head in range(heads):
            if cls is MultiScaleMaskedTransformerDecoder:
                assert torch.equal(mask[beta * heads + head], blocked[beta].flatten(1))
            else:
                for tau in range(t):
                    rows = blocked[beta, :, tau].flatten(1)
                    rows = rows & ~rows.all(-1, keepdim=True)
                    assert torch.equal(mask[(tau * b + beta) * heads + head], rows)


@pytest.mark.parametrize('cls', [MultiScaleMaskedTransformerDecoder,
                                 VideoMultiScaleMaskedTransformerDecoder])
def test_clip_layout(cls):
    decoder = build(cls, num_frames=2).train()
    assert decoder.clip_layout(6, 3) == (3, 2)
    with pytest.raises(ValueError, match='cannot be split into 4 clips'):
        decoder.clip_layout(6, 4)
    with pytest.raises(ValueError, match='cannot be split into 0 clips'):
        decoder.clip_layout(6, 0)
    with pytest.raises(ValueError, match='num_frames=3'):  # training clips must match the config
        decoder.clip_layout(6, 2)
    decoder.eval()
    assert decoder.clip_layout(6, 2) == (2, 3)  # any length at inference


@pytest.mark.parametrize('fast', [True, False], ids=['fast', 'reference'])
@pytest.mark.parametrize('cls', [MultiScaleMaskedTransformerDecoder,
                                 VideoMultiScaleMaskedTransformerDecoder])
def test_final_prediction_of_one_frame_equals_that_frame_of_the_full_prediction(cls, fast):
    """forward(frame=k): the online segmenter's call; the same numbers as frame k of the clip."""
    decoder = build(cls).eval()
    with torch.no_grad(), (contextlib.nullcontext() if fast else reference_mode()):
        full = decoder(*inputs(clips=1, frames=3), num_clips=1)
        if not fast:  # where every layer predicts, every frame is predicted
            with pytest.raises(ValueError, match='frame= is for fast inference'):
                decoder(*inputs(clips=1, frames=3), num_clips=1, frame=0)
            return
        for k in (0, 2, -1):
            one = decoder(*inputs(clips=1, frames=3), num_clips=1, frame=k)
            if cls is MultiScaleMaskedTransformerDecoder:
                torch.testing.assert_close(one['pred_logits'], full['pred_logits'])
                torch.testing.assert_close(one['pred_masks'], full['pred_masks'][:, :, [k]])
            else:
                torch.testing.assert_close(one[0]['pred_logits'], full[0]['pred_logits'])
                torch.testing.assert_close(one[0]['pred_masks'], full[0]['pred_masks'][:, :, [k]])
                torch.testing.assert_close(one[1]['pred_logits'], full[1]['pred_logits'][[k]])
                torch.testing.assert_close(one[1]['pred_masks'], full[1]['pred_masks'][[k]])
        with pytest.raises(ValueError, match='frame=3 is outside clips of 3 frames'):
            decoder(*inputs(clips=1, frames=3), num_clips=1, frame=3)


@pytest.mark.parametrize('cls', [MultiScaleMaskedTransformerDecoder,
                                 VideoMultiScaleMaskedTransformerDecoder])
def test_attention_features_made_frame_by_frame_give_the_same_prediction(cls):
    """The online segmenter's cached form: attention-size mask features made per frame, and the
    full-size features of the target frame alone, equal the clip call exactly."""
    decoder = build(cls).eval()
    x, mask_features = inputs(clips=1, frames=3)
    with torch.no_grad():
        expected = decoder(x, mask_features, num_clips=1, frame=1)
        per_frame = [decoder.attention_features(mask_features[[i]], SIZES) for i in range(3)]
        small = [torch.cat(level) for level in zip(*per_frame)]
        assert [tuple(s.shape) for s in small] == [(3, MASK_DIM, h, w) for h, w in SIZES]
        cached = decoder(x, mask_features[[1]], num_clips=1, frame=1, attention_features=small)
        for a, b in zip(torch.utils._pytree.tree_leaves(cached),
                        torch.utils._pytree.tree_leaves(expected)):
            assert torch.equal(a, b)
        with reference_mode():
            assert decoder.attention_features(mask_features, SIZES) is None  # every layer predicts


def test_stage2_is_equivariant_to_the_order_of_the_frames_and_stage1_is_not():
    """Stage 2 attends within one frame per attention row (the 3-D encoding's frame term cancels in
    the softmax) and aggregates frames by a weighted sum: permuting a clip's frames permutes the
    frame outputs and leaves the clip logits. Stage 1 attends across frames, where the order
    counts."""
    order = [2, 0, 1]
    x, mask_features = inputs(clips=1, frames=3)
    shuffled = [level[order] for level in x], mask_features[order]
    for fast in (True, False):
        with torch.no_grad(), (contextlib.nullcontext() if fast else reference_mode()):
            video = build(VideoMultiScaleMaskedTransformerDecoder, num_frames=3).eval()
            (clip, frame), (clip_p, frame_p) = video(x, mask_features, 1), video(*shuffled, 1)
            torch.testing.assert_close(clip_p['pred_logits'], clip['pred_logits'], rtol=1e-5,
                                       atol=1e-5)
            torch.testing.assert_close(clip_p['pred_masks'], clip['pred_masks'][:, :, order],
                                       rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(frame_p['pred_logits'], frame['pred_logits'][order],
                                       rtol=1e-5, atol=1e-5)
            stage1 = build(MultiScaleMaskedTransformerDecoder, num_frames=3).eval()
            a, b = stage1(x, mask_features, 1), stage1(*shuffled, 1)
            assert (a['pred_logits'] - b['pred_logits']).abs().max() > 1e-3
