"""--finetune-from a stage-1 b1 checkpoint into the stage-2 model (docs/method.md, "Checkpoint
keys")."""
import os

import torch

from mmseg.core.runner import finetune_from
from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def build(stage):
    cfg = load_config(os.path.join(ROOT, f'local_configs/themask/{stage}_themask_mit_b1.py'))
    cfg.model.pretrained = None
    return build_segmentor(cfg.model)


def test_stage1_to_stage2_keys_and_frozen_parameters(tmp_path, mmseg_caplog):
    stage1 = build('1f')
    torch.save({'state_dict': stage1.state_dict()}, tmp_path / 'stage1.pth')
    stage2 = build('video')
    finetune_from(stage2, str(tmp_path / 'stage1.pth'), trainable_patterns=['predictor'])
    log = mmseg_caplog.text
    # unexpected: the stage-1 head norm; missing: the stage-2-only modules
    # (docs/method.md, "Checkpoint keys")
    assert 'decode_head.predictor.decoder_norm.weight' in log
    own = set(stage2.state_dict())
    missing = own - set(stage1.state_dict())
    expected_missing = {k for k in own if k.startswith(('decode_head.predictor.temporal_layer.',
                                                         'decode_head.predictor.decoder_norm1.',
                                                         'decode_head.predictor.decoder_norm2.',
                                                         'decode_head.predictor.class_embed_aux.',
                                                         'decode_head.predictor.mask_embed_aux.'))}
    # the original's 50 minus reference_points
    assert missing == expected_missing and len(missing) == 48
    loaded = stage1.state_dict()
    for key, value in stage2.state_dict().items():
        if key not in missing:
            assert torch.equal(value, loaded[key]), key
    trainable = {n for n, p in stage2.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in stage2.named_parameters() if 'predictor' in n}
    assert (sum(p.numel() for n, p in stage2.named_parameters() if n in trainable)
            == 17_681_661 - 514)
