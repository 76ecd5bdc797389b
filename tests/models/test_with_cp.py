"""Activation checkpointing (``with_cp``) gives the plain run's losses and gradients.

The stage-2 synthetic config (MiT-b0, 2-frame clips, 64x64), trained with dropout and DropPath
active: the checkpointed blocks and layers are recomputed in the backward pass with the RNG state
of their first run, so the dropout masks, and the criterion's point draws after them, are the
plain run's.
"""
import torch

from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

CONFIG = 'local_configs/themask/video_themask_mit_b0_synthetic.py'


def _model(with_cp):
    cfg = load_config(CONFIG, {'model.pretrained': None,
                               'model.decode_head.transformer_decoder_cfg.num_frames': 2,
                               'model.backbone.with_cp': with_cp,
                               'model.decode_head.pixel_decoder_cfg.with_cp': with_cp,
                               'model.decode_head.transformer_decoder_cfg.with_cp': with_cp})
    cfg.model.backbone.drop_path_rate = 0.3  # make the RNG replay matter in the backbone too
    torch.manual_seed(0)
    return build_segmentor(cfg.model).train()


def _losses_and_grads(model):
    gen = torch.Generator().manual_seed(1)
    img = torch.randn(1, 2, 3, 64, 64, generator=gen)
    gt = torch.randint(0, 4, (1, 2, 1, 64, 64), generator=gen)
    torch.manual_seed(2)
    losses = model(img, None, gt_semantic_seg=gt, return_loss=True, iteration=0)
    model.zero_grad(set_to_none=True)
    sum(losses.values()).backward()
    return ({k: v.detach() for k, v in losses.items()},
            {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})


def test_with_cp_reaches_every_part():
    model = _model(True)
    assert model.backbone.with_cp
    assert model.decode_head.pixel_decoder.transformer.encoder.with_cp
    assert model.decode_head.predictor.with_cp
    assert not _model(False).backbone.with_cp


def test_with_cp_gradients_equal_plain_run():
    plain_losses, plain_grads = _losses_and_grads(_model(False))
    cp_model = _model(True)
    calls = []
    original = torch.utils.checkpoint.checkpoint

    def counting(*args, **kwargs):
        calls.append(kwargs.get('use_reentrant'))
        return original(*args, **kwargs)

    torch.utils.checkpoint.checkpoint = counting
    try:
        cp_losses, cp_grads = _losses_and_grads(cp_model)
    finally:
        torch.utils.checkpoint.checkpoint = original
    # MiT-b0: 8 blocks; the pixel decoder: 6 encoder layers; the decoder: dec_layers layers
    assert len(calls) == 8 + len(cp_model.decode_head.pixel_decoder.transformer.encoder.layers) \
        + cp_model.decode_head.predictor.num_layers
    assert set(calls) == {False}
    assert plain_losses.keys() == cp_losses.keys()
    for key in plain_losses:
        torch.testing.assert_close(cp_losses[key], plain_losses[key], rtol=1e-6, atol=0, msg=key)
    assert plain_grads.keys() == cp_grads.keys()
    for name in plain_grads:
        diff = (cp_grads[name] - plain_grads[name]).norm()
        assert diff <= 1e-6 * plain_grads[name].norm() + 1e-12, name


def test_with_cp_is_inactive_in_eval():
    model = _model(True).eval()
    calls = []
    original = torch.utils.checkpoint.checkpoint
    torch.utils.checkpoint.checkpoint = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        with torch.no_grad():
            model.simple_test(torch.randn(1, 2, 3, 64, 64), {'ori_shape': (64, 64, 3)})
    finally:
        torch.utils.checkpoint.checkpoint = original
    assert not calls
