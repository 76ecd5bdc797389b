"""MSDeformAttnPixelDecoder on a tiny config: output shapes, encoder reference points, FPN
levels."""
import pytest
import torch

from mmseg.models.decode_heads.mask2former.pixel_decoder.msdeformattn import (
    MSDeformAttnEncoder,
    MSDeformAttnPixelDecoder,
)

CHANNELS = {'res2': 8, 'res3': 16, 'res4': 24, 'res5': 40}
STRIDES = {'res2': 4, 'res3': 8, 'res4': 16, 'res5': 32}


def input_shape():
    return {name: dict(channels=CHANNELS[name], stride=STRIDES[name]) for name in CHANNELS}


def tiny_decoder(**kwargs):
    torch.manual_seed(0)
    cfg = dict(input_shape=input_shape(), conv_dim=32, mask_dim=16, transformer_nheads=2,
               transformer_dim_feedforward=64, transformer_enc_layers=1)
    cfg.update(kwargs)
    return MSDeformAttnPixelDecoder(**cfg)


def features(batch=2, height=64, width=96):
    torch.manual_seed(1)
    return {name: torch.randn(batch, CHANNELS[name], height // STRIDES[name],
                              width // STRIDES[name])
            for name in CHANNELS}


def test_output_shapes_of_mask_features_and_the_three_scales():
    decoder = tiny_decoder().eval()
    with torch.no_grad():
        mask_features, encoder_out, multi_scale = decoder.forward_features(features())
    assert mask_features.shape == (2, 16, 16, 24)  # mask_dim channels at stride 4
    assert encoder_out.shape == (2, 32, 2, 3)  # the encoder's coarsest level (res5)
    # 1/32, 1/16, 1/8
    assert [tuple(x.shape) for x in multi_scale] == [(2, 32, 2, 3), (2, 32, 4, 6), (2, 32, 8, 12)]
    assert torch.equal(multi_scale[0], encoder_out)
    assert decoder.transformer_in_features == ['res5', 'res4', 'res3']  # coarse to fine
    assert all(torch.isfinite(x).all() for x in (mask_features, *multi_scale))


def test_reference_points_are_the_pixel_centres_of_a_2x3_level():
    ref = MSDeformAttnEncoder.reference_points([(2, 3)], batch=1, device=torch.device('cpu'))
    assert ref.shape == (1, 6, 1, 2)
    # (x, y), row-major
    expected = torch.tensor([[(j + 0.5) / 3, (i + 0.5) / 2] for i in range(2) for j in range(3)])
    torch.testing.assert_close(ref[0, :, 0], expected, rtol=0, atol=1e-7)


def test_reference_points_equal_the_original_linspace():
    """``arange + 0.5`` (exportable with symbolic sizes) is the original's linspace, bit for bit."""
    for h, w in [(1, 1), (7, 3), (60, 107), (135, 240)]:
        ref = MSDeformAttnEncoder.reference_points([(h, w)], batch=1, device=torch.device('cpu'))
        ys, xs = torch.meshgrid(torch.linspace(0.5, h - 0.5, h), torch.linspace(0.5, w - 0.5, w),
                                indexing='ij')
        assert torch.equal(ref[0, :, 0], torch.stack((xs.reshape(-1) / w, ys.reshape(-1) / h), -1))


def test_encoder_passes_the_level_shapes_as_ints_to_the_attention(monkeypatch):
    """The encoder gives every MSDeformAttn its level shapes as ints (no read-back from a tensor),
    and the spatial_shapes / level_start_index tensors it returns hold the same values."""
    from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.modules import MSDeformAttn
    seen = []
    original = MSDeformAttn.forward

    def spy(self, *args, level_shapes=None, **kwargs):
        seen.append(level_shapes)
        return original(self, *args, level_shapes=level_shapes, **kwargs)

    monkeypatch.setattr(MSDeformAttn, 'forward', spy)
    decoder = tiny_decoder(transformer_enc_layers=2).eval()
    srcs = [torch.randn(1, 32, h, w) for h, w in [(2, 3), (4, 6), (8, 12)]]
    with torch.no_grad():
        _, shapes, starts = decoder.transformer(srcs, [torch.zeros_like(s) for s in srcs])
    assert seen == [[(2, 3), (4, 6), (8, 12)]] * 2
    assert shapes.tolist() == [[2, 3], [4, 6], [8, 12]] and starts.tolist() == [0, 6, 30]
    assert shapes.dtype == starts.dtype == torch.long


def test_reference_points_repeat_every_token_for_every_level():
    ref = MSDeformAttnEncoder.reference_points([(2, 3), (1, 1)], batch=2,
                                               device=torch.device('cpu'))
    assert ref.shape == (2, 7, 2, 2)
    assert torch.equal(ref[:, :, 0], ref[:, :, 1])  # one point per token, used on every level
    torch.testing.assert_close(ref[0, 6, 0], torch.tensor([0.5, 0.5]))  # the 1x1 level's centre


@pytest.mark.parametrize('in_features,common_stride,levels', [
    (('res3', 'res4', 'res5'), 4, 1),  # the released config: one FPN level, res2
    (('res3', 'res4', 'res5'), 8, 0),  # mask features straight from the encoder's 1/8 level
    (('res4', 'res5'), 4, 2),  # res3 and res2 through the FPN
])
def test_fpn_level_count_follows_the_strides(in_features, common_stride, levels):
    decoder = tiny_decoder(transformer_in_features=in_features, common_stride=common_stride)
    assert decoder.num_fpn_levels == levels
    assert len(decoder.lateral_convs) == len(decoder.output_convs) == levels
    assert [n for n, _ in decoder.named_children() if n.startswith('adapter_')] == \
        [f'adapter_{i + 1}' for i in range(levels)]


def test_unknown_transformer_in_features_are_rejected():
    with pytest.raises(KeyError, match='res6'):
        tiny_decoder(transformer_in_features=('res4', 'res5', 'res6'))
