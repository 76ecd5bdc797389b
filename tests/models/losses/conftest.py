import pytest
import torch

from mmseg.models import LOSSES


class Replay:
    """A draw function that returns recorded tensors in order, checking each requested shape."""

    def __init__(self, draws):
        self.draws = list(draws)
        self.used = 0

    def __call__(self, *size, dtype=None, device=None):
        draw = self.draws[self.used]
        assert tuple(draw.shape) == size, (f'draw {self.used}: recorded {tuple(draw.shape)}, '
                                           f'asked {size}')
        assert dtype in (None, torch.float32)
        self.used += 1
        return draw.to(device)


@pytest.fixture
def replay():
    return Replay


def _tiny_criterion(stage, num_classes=7, **changes):
    """The criterion with the golden files' loss_cfg (the configs' values, 1024 points,
    dec_layers 4), built through the registry as the heads do; ``changes`` override keys."""
    cfg = dict(
        matcher_cfg=dict(class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
                         class_weight_unmatched=1.0, mask_weight_unmatched=0.5,
                         dice_weight_unmatched=0.5),
        warmup_iters=30000, round_weight=[1.0, 0.5], aux_weight=0.25, deep_supervision=True,
        dec_layers=4, no_object_weight=0.1, train_num_points=1024, oversample_ratio=3.0,
        importance_sample_ratio=0.75)
    cfg.update(changes)
    return LOSSES.build(dict(type='THEMaskCriterion', stage=stage, num_classes=num_classes,
                           ignore_value=255, **cfg))


@pytest.fixture
def make_criterion():
    return _tiny_criterion
