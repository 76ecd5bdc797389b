"""Attention-mask helpers of the masked decoders: ``unblock_full_rows`` and ``blocked_positions``."""
import torch

from mmseg.models.decode_heads.mask2former.transformer_decoder.layers import (blocked_positions,
                                                                                resize_mask_features,
                                                                                unblock_full_rows)

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
