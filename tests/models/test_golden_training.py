"""Forward + loss from the golden weights reproduce the original's training objective.

The models are built from the golden configs with the file's two changes (1024 points; stage 2
trains two-frame clips), put in train mode with every dropout disabled, and the recorded random
draws are injected into the criterion. Tolerances from the golden README: losses and total
rtol 1e-4, gradient norms rtol 1e-4.
"""
import copy

import pytest
import torch
from torch import nn

from mmseg.models import build_segmentor
from mmseg.models.utils import DropPath
from tests.conftest import unpack_golden_state_dict

pytestmark = pytest.mark.slow  # training steps of the tiny golden models


class Replay:
    def __init__(self, draws):
        self.draws = list(draws)

    def __call__(self, *size, dtype=None, device=None):
        draw = self.draws.pop(0)
        assert tuple(draw.shape) == size
        return draw


def train_model(golden, stage, num_frames):
    cfg = copy.deepcopy(golden[f'model_cfg_{stage}'])
    cfg['decode_head']['loss_cfg']['train_num_points'] = 1024
    cfg['decode_head']['transformer_decoder_cfg']['num_frames'] = num_frames
    model = build_segmentor(cfg)
    model.load_state_dict(unpack_golden_state_dict(golden, stage), strict=True)
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        elif isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
        elif isinstance(module, DropPath):
            module.drop_prob = 0.0
    return model


def losses_and_total(model, golden, stage, gt, draws, iteration):
    model.decode_head.criterion.rand = Replay(draws)
    x = golden[stage]['input']
    losses = model(x, [[golden[stage]['img_meta']] * x.shape[1]], gt_semantic_seg=gt,
                   return_loss=True, iteration=iteration)
    total = torch.zeros((), dtype=torch.float32)
    for value in losses.values():
        total = total + value
    return losses, total


def check_losses(losses, expected):
    assert list(losses) == [f'decode.{k}' for k in expected['loss_keys_in_order']]
    for key in expected['loss_keys_in_order']:
        assert losses[f'decode.{key}'].item() == pytest.approx(expected['loss_dict'][key],
                                                               rel=1e-4, abs=1e-6), key


def test_stage2_forward_loss_and_gradients(golden, train_golden):
    ref = train_golden['stage2']
    model = train_model(golden, 'stage2', num_frames=2)
    losses, total = losses_and_total(model, golden, 'stage2', ref['gt_semantic_seg'], ref['draws'],
                                     iteration=0)
    check_losses(losses, ref)
    assert total.item() == pytest.approx(ref['total_loss'], rel=1e-4)
    total.backward()
    params = dict(model.named_parameters())
    for name in ref['grad_params']:
        assert params[name].grad.norm().item() == pytest.approx(ref['grad_norms'][name],
                                                                rel=1e-4), name
    overall = sum(p.grad.double().pow(2).sum() for p in params.values()
                  if p.grad is not None).sqrt()
    assert overall.item() == pytest.approx(ref['grad_norm_all_params'], rel=1e-4)
    # The original's parameters without gradient (conv_seg, reference_points) are not built.
    assert [n for n, p in params.items() if p.grad is None] == []


@pytest.mark.parametrize('variant,iteration', [('warmup', 0), ('two_round', 30000)])
def test_stage1_forward_and_loss_before_and_after_warmup(golden, train_golden, variant, iteration):
    ref = train_golden['stage1']
    model = train_model(golden, 'stage1', num_frames=1)
    losses, total = losses_and_total(model, golden, 'stage1', ref['gt_semantic_seg'], ref['draws'],
                                     iteration)
    check_losses(losses, ref[variant])
    assert total.item() == pytest.approx(ref[variant]['total_loss'], rel=1e-4)


def test_thirty_steps_on_one_clip_halve_the_loss(golden):
    """Overfitting one fixed clip: fails if the objective or its gradients are broken."""
    torch.manual_seed(0)
    cfg = copy.deepcopy(golden['model_cfg_stage2'])
    cfg['decode_head']['loss_cfg']['train_num_points'] = 256
    cfg['decode_head']['transformer_decoder_cfg']['num_frames'] = 2
    model = build_segmentor(cfg).train()
    x = torch.randn(1, 2, 3, 64, 96)
    gt = torch.zeros(1, 2, 1, 64, 96, dtype=torch.long)
    gt[..., 16:48, 20:60] = 3
    gt[..., 40:, 70:] = 5
    gt[:, 1, :, :, :8] = 255
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    totals = []
    for _ in range(30):
        losses = model(x, None, gt_semantic_seg=gt, return_loss=True, iteration=0)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert totals[-1] < 0.5 * totals[0], totals
