"""build_optimizer: mmcv-1.x custom_keys (longest key wins), only trainable parameters."""

import pytest
import torch
from torch import nn

from mmseg.core.runner.optimizer import build_optimizer, sorted_custom_keys
from runner_toy import ToySegmentor


def settings_by_name(model, optimizer):
    by_id = {id(p): g for g in optimizer.param_groups for p in g['params']}
    return {name: (by_id[id(p)]['lr'], by_id[id(p)]['weight_decay'])
            for name, p in model.named_parameters() if id(p) in by_id}


def test_released_custom_keys_backbone_norms_keep_decay_head_norms_lose_it():
    model = ToySegmentor()
    cfg = dict(type='AdamW', lr=1e-4, weight_decay=0.05,
               paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1),
                                               'norm': dict(decay_mult=0.0)}))
    optimizer = build_optimizer(model, cfg)
    assert isinstance(optimizer, torch.optim.AdamW)
    got = settings_by_name(model, optimizer)
    assert got['backbone.conv.weight'] == pytest.approx((1e-5, 0.05))
    # 'backbone' is longer than 'norm'
    assert got['backbone.norm.weight'] == pytest.approx((1e-5, 0.05))
    assert got['decode_head.norm.weight'] == pytest.approx((1e-4, 0.0))
    assert got['decode_head.predictor.bias'] == pytest.approx((1e-4, 0.05))
    assert all(g['initial_lr'] == g['lr'] for g in optimizer.param_groups)


def test_longest_key_wins_and_ties_are_alphabetical():
    assert sorted_custom_keys({'norm': {}, 'ab': {}, 'aa': {}, 'decode_head.norm': {}}) == \
        ['decode_head.norm', 'norm', 'aa', 'ab']
    model = nn.Module()
    model.aab = nn.Linear(2, 2)
    model.decode_head = nn.Module()
    model.decode_head.norm = nn.LayerNorm(2)
    cfg = dict(type='SGD', lr=1.0, weight_decay=0.1, momentum=0.9,
               paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.0),
                                               'decode_head.norm': dict(lr_mult=2.0),
                                               'ab': dict(lr_mult=3.0), 'aa': dict(lr_mult=5.0)}))
    got = settings_by_name(model, build_optimizer(model, cfg))
    # only the longest key applies
    assert got['decode_head.norm.weight'] == (2.0, pytest.approx(0.1))
    assert got['aab.weight'] == (5.0, pytest.approx(0.1))  # 'aa' < 'ab'


def test_frozen_parameters_are_left_out():
    model = ToySegmentor()
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    optimizer = build_optimizer(model, dict(type='Adam', lr=0.1))
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g['params']}
    assert in_optimizer == {id(p) for p in model.decode_head.parameters()}
    assert [g['paramwise_key'] for g in optimizer.param_groups] == ['default']


def test_bad_configs_are_refused_with_the_key():
    model = ToySegmentor()
    with pytest.raises(KeyError, match='bias_lr_mult'):
        build_optimizer(model, dict(type='AdamW', lr=1e-3, paramwise_cfg=dict(bias_lr_mult=2.0)))
    with pytest.raises(KeyError, match="custom_keys\\['norm'\\] sets decay_mult but .* no "
                                       "weight_decay"):
        build_optimizer(model, dict(type='Adam', lr=1e-3,
                                    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.0)})))
    with pytest.raises(KeyError, match='unknown optimizer type'):
        build_optimizer(model, dict(type='AdamWW', lr=1e-3))
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match='no trainable parameter'):
        build_optimizer(model, dict(type='AdamW', lr=1e-3))

