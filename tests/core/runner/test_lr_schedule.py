"""Poly LR by iteration (mmcv 1.x), with linear warm-up, per param group."""
import pytest
import torch

from mmseg.core.runner.lr_schedule import PolyLrSchedule, build_lr_schedule


def test_poly_values_by_hand():
    linear = PolyLrSchedule(max_iters=10, power=1.0, min_lr=0.0)
    assert [linear.lr_at(0.1, it) for it in (0, 3, 5, 9)] == pytest.approx([0.1, 0.07, 0.05, 0.01])
    squared = PolyLrSchedule(max_iters=4, power=2.0, min_lr=0.01)
    # (0.11 - 0.01) * (1 - 2/4)^2 + 0.01 = 0.035
    assert squared.lr_at(0.11, 2) == pytest.approx(0.035)
    released = PolyLrSchedule(max_iters=160000, power=0.9, min_lr=0.0)
    assert released.lr_at(1e-4, 80000) == pytest.approx(1e-4 * 0.5 ** 0.9)


def test_linear_warmup_by_hand():
    schedule = PolyLrSchedule(max_iters=10, power=1.0, warmup='linear', warmup_iters=4,
                              warmup_ratio=0.1)
    # iteration 0: 0.1 * 0.1; iteration 2: regular 0.08 times 1 - (1 - 2/4) * 0.9 = 0.55
    assert schedule.lr_at(0.1, 0) == pytest.approx(0.01)
    assert schedule.lr_at(0.1, 2) == pytest.approx(0.044)
    assert schedule.lr_at(0.1, 4) == pytest.approx(0.06)  # warm-up over


def test_apply_scales_each_group_from_its_initial_lr():
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([dict(params=[params[0]], lr=1.0, initial_lr=1.0),
                                 dict(params=[params[1]], lr=0.1, initial_lr=0.1)], lr=1.0)
    lrs = PolyLrSchedule(max_iters=10, power=1.0).apply(optimizer, 5)
    assert lrs == pytest.approx([0.5, 0.05])
    assert [g['lr'] for g in optimizer.param_groups] == pytest.approx([0.5, 0.05])


def test_build_from_the_released_lr_config_and_refusals():
    cfg = dict(policy='poly', power=0.9, min_lr=0.0, by_epoch=False, warmup=None, warmup_iters=0,
               warmup_ratio=1e-6)
    assert build_lr_schedule(cfg, 100).lr_at(1.0, 50) == pytest.approx(0.5 ** 0.9)
    with pytest.raises(ValueError, match="policy 'step'"):
        build_lr_schedule(dict(cfg, policy='step'), 100)
    with pytest.raises(ValueError, match='warmup_iters must be positive'):
        build_lr_schedule(dict(cfg, warmup='linear'), 100)
    with pytest.raises(ValueError, match='"linear"'):
        build_lr_schedule(dict(cfg, warmup='exp', warmup_iters=5), 100)
    with pytest.raises(KeyError, match='gamma'):
        build_lr_schedule(dict(cfg, gamma=0.1), 100)
