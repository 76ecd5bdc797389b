"""Every trainable parameter receives a gradient from one training step, in both stages.

This is the measurement behind ``find_unused_parameters`` (local_configs/_base_/default_runtime.py):
DDP only needs to search the autograd graph for unused parameters when some trainable parameter
gets no gradient. Stage 1 is checked before and after the warm-up (one-to-one, then two-round
matching), stage 2 with everything trainable and after ``--finetune-from``-style freezing (only
parameters whose name contains ``'predictor'`` train).
"""
import os

import pytest
import torch

from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')
STAGE2 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
WARMUP = 4


def build(config, num_frames):
    cfg = load_config(config)
    cfg.model.pretrained = None
    cfg.model.decode_head.transformer_decoder_cfg.num_frames = num_frames
    cfg.model.decode_head.loss_cfg.train_num_points = 256
    cfg.model.decode_head.loss_cfg.warmup_iters = WARMUP
    torch.manual_seed(0)
    return build_segmentor(cfg.model).train()


def clips(num_frames, clips=2, size=(64, 64)):
    """Random images and labels with three classes in vertical bands plus an ignored corner."""
    torch.manual_seed(1)
    img = torch.randn(clips, num_frames, 3, *size)
    labels = torch.zeros(clips, num_frames, 1, *size, dtype=torch.long)
    labels[..., size[1] // 3:] = 5
    labels[..., 2 * size[1] // 3:] = 17
    labels[..., :8, :8] = 255
    labels[1, :, :, size[0] // 2:] = 3  # the second clip has another class below
    return img, labels


def without_gradient(model, iteration):
    """Run one forward/backward; return (names of trainable parameters, those left without a
    grad)."""
    model.zero_grad(set_to_none=True)
    num_frames = model.decode_head.predictor.num_frames
    img, labels = clips(num_frames)
    losses = model.forward_train(img, [{}] * img.shape[0], labels, iteration=iteration)
    sum(losses.values()).backward()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    frozen_with_grad = [n for n, p in model.named_parameters() if not p.requires_grad
                        and p.grad is not None]
    assert frozen_with_grad == []
    return trainable, missing


@pytest.fixture(scope='module')
def stage1():
    return build(STAGE1, num_frames=1)


@pytest.mark.parametrize('iteration', [0, WARMUP], ids=['warmup', 'two_round'])
def test_stage1_every_trainable_parameter_gets_a_gradient(stage1, iteration):
    trainable, missing = without_gradient(stage1, iteration)
    assert len(trainable) == len(list(stage1.parameters()))
    assert missing == []


def test_stage2_every_trainable_parameter_gets_a_gradient():
    model = build(STAGE2, num_frames=2)
    trainable, missing = without_gradient(model, iteration=0)
    assert len(trainable) == len(list(model.parameters()))
    assert missing == []

    # --finetune-from: only the predictor trains (what mmseg.core.runner.finetune_from
    # leaves trainable)
    for name, param in model.named_parameters():
        param.requires_grad_('predictor' in name)
    trainable, missing = without_gradient(model, iteration=0)
    assert trainable and all('predictor' in n for n in trainable)
    assert missing == []
