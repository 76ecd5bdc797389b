"""Attention-mask helpers of the masked decoders: ``unblock_full_rows`` and
``blocked_positions``."""
import torch

from mmseg.models.decode_heads.mask2former.transformer_decoder.layers import (
    blocked_positions,
    resize_mask_features,
    unblock_full_rows,
)

T, F = True, False


def test_unblock_full_rows_opens_only_rows_that_block_every_key():
    mask = torch.tensor([[[T, T, T], [T, F, T], [F, F, F]],
                         [[F, T, F], [T, T, T], [T, T, F]]])
    expected = torch.tensor([[[F, F, F], [T, F, T], [F, F, F]],
                             [[F, T, F], [F, F, F], [T, T, F]]])
    assert torch.equal(unblock_full_rows(mask), expected)


def test_blocked_positions_compares_the_sigmoid_with_a_half():
    logits = torch.tensor([-3.0, -1e-3, -1e-9, 0.0, 1e-9, 2.0]).view(1, 1, 1, 1, 6)
    blocked = blocked_positions(logits)
    # sigmoid(-1e-9) rounds to exactly 0.5 in float32: not blocked, although the logit is negative
    assert torch.sigmoid(torch.tensor(-1e-9)) == 0.5
    assert blocked.dtype == torch.bool and blocked.shape == logits.shape
    assert blocked.flatten().tolist() == [T, T, F, F, F, F]


def test_blocked_positions_resizes_each_frame_and_detaches():
    logits = torch.tensor([[-1.0, 1.0], [1.0, -1.0]]).view(1, 1, 1, 2, 2).repeat(2, 3, 2, 1, 1)
    logits[:, :, 1] *= -1  # the second frame is the opposite pattern
    logits.requires_grad_(True)
    blocked = blocked_positions(logits, size=(4, 4))
    assert blocked.shape == (2, 3, 2, 4, 4) and not blocked.requires_grad
    top_left = torch.tensor([[T, T, F, F], [T, T, F, F], [F, F, T, T], [F, F, T, T]])
    assert torch.equal(blocked[0, 0, 0], top_left)
    assert torch.equal(blocked[1, 2, 1], ~top_left)


def test_resize_mask_features_gives_one_map_per_size():
    features = torch.randn(2, 3, 4, 16, 24)
    small = resize_mask_features(features, [(2, 3), (4, 6)])
    assert [tuple(s.shape) for s in small] == [(2, 3, 4, 2, 3), (2, 3, 4, 4, 6)]


def test_attend_with_a_mask_shared_by_the_heads_equals_multihead_attention_with_it_repeated():
    from torch import nn

    from mmseg.models.decode_heads.mask2former.transformer_decoder.layers import attend, per_head
    from mmseg.models.utils import reference_mode
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(16, 4)
    nn.init.normal_(attn.in_proj_bias)
    query, key, value = torch.randn(5, 3, 16), torch.randn(7, 3, 16), torch.randn(7, 3, 16)
    blocked = torch.rand(3, 5, 7) < 0.5
    blocked[:, :, 0] = False  # every query may attend somewhere
    shared = attend(attn, query, key, value, per_head(blocked, 4))
    with reference_mode():
        repeated = per_head(blocked, 4)
        explicit = attend(attn, query, key, value, repeated)
    assert repeated.shape == (12, 5, 7) and torch.equal(repeated[4 * 2 + 3], blocked[2])
    torch.testing.assert_close(shared, explicit, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(shared,
                               attn(query, key, value, attn_mask=repeated, need_weights=False)[0],
                               rtol=1e-6, atol=1e-6)


def test_fused_attention_without_memory_biases_equals_multihead_attention():
    """Fast mode drops the key bias (the softmax cancels it) and adds the value bias to the output
    (the weights of a row sum to 1); with non-zero biases it still equals nn.MultiheadAttention."""
    from torch import nn

    from mmseg.models.decode_heads.mask2former.transformer_decoder.layers import attend
    torch.manual_seed(1)
    attn = nn.MultiheadAttention(16, 4).eval()
    nn.init.normal_(attn.in_proj_bias, std=3.0)
    nn.init.normal_(attn.out_proj.bias)
    query, key, value = torch.randn(5, 3, 16), torch.randn(9, 3, 16), torch.randn(9, 3, 16)
    expected = attn(query, key, value, need_weights=True)[0]  # the explicit softmax path
    torch.testing.assert_close(attend(attn, query, key, value), expected, rtol=1e-5, atol=1e-5)


def test_resize_mask_features_equals_bilinear_interpolation_for_even_and_other_factors():
    torch.manual_seed(0)
    features = torch.randn(1, 2, 3, 24, 40)
    sizes = [(3, 5), (6, 10), (12, 20), (5, 7), (24, 40)]  # factors 8, 4, 2, none, 1
    for size, small in zip(sizes, resize_mask_features(features, sizes)):
        expected = (torch.nn.functional.interpolate(features.flatten(0, 1), size=size,
                                                    mode='bilinear', align_corners=False)
                    .view(1, 2, 3, *size))
        torch.testing.assert_close(small, expected, rtol=1e-6, atol=1e-6)
