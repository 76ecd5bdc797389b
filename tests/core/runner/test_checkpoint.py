"""The engine's checkpoint handling: fine-tuning from a checkpoint, pruning old ones."""
import os
from collections import OrderedDict

import pytest
import torch

from mmseg.core.runner.checkpoint import finetune_from, prune_checkpoints
from mmseg.utils.checkpoint import save_checkpoint
from runner_toy import ToySegmentor


def state(value):
    return {'meta': {'iter': value}, 'state_dict': {'w': torch.full((3,), float(value))}}


def test_max_keep_never_deletes_what_latest_names(tmp_path):
    for it in (2, 4, 6, 8):
        save_checkpoint(state(it), str(tmp_path / f'iter_{it}.pth'))
    os.replace(tmp_path / 'latest.pth', tmp_path / 'keep')  # pretend latest names iter_2
    os.symlink('iter_2.pth', tmp_path / 'latest.pth')
    deleted = prune_checkpoints(str(tmp_path), 2)
    assert sorted(map(os.path.basename, deleted)) == ['iter_4.pth']
    assert prune_checkpoints(str(tmp_path), None) == []


def test_finetune_from_loads_non_strictly_and_freezes_all_but_the_patterns(tmp_path, logger):
    stage1 = ToySegmentor()
    content = OrderedDict((k, v) for k, v in stage1.state_dict().items()
                          if k != 'decode_head.norm.bias')
    content['decode_head.old_norm.weight'] = torch.ones(4)
    torch.save({'state_dict': content}, tmp_path / 'stage1.pth')
    model = ToySegmentor()
    finetune_from(model, str(tmp_path / 'stage1.pth'), trainable_patterns=['predictor'],
                  logger=logger)
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == ['decode_head.predictor.bias', 'decode_head.predictor.weight']
    assert torch.equal(model.backbone['conv'].weight, stage1.backbone['conv'].weight)
    text = '\n'.join(logger.lines)
    assert 'missing in the checkpoint (1, left as initialised):\n    decode_head.norm.bias' in text
    assert 'unexpected in the checkpoint (1, ignored):\n    decode_head.old_norm.weight' in text
    assert "trainable 2 tensors (15 params) matching ['predictor']" in text
    assert 'frozen 6 tensors (128 params):\n    backbone.conv.* (2 tensors, 112 params)' in text
    with pytest.raises(ValueError, match='no parameter name contains'):
        finetune_from(ToySegmentor(), str(tmp_path / 'stage1.pth'), trainable_patterns=['temporal'])
    with pytest.raises(ValueError, match='non-empty list'):
        finetune_from(ToySegmentor(), str(tmp_path / 'stage1.pth'), trainable_patterns='predictor')


def test_a_work_directory_means_its_latest_checkpoint(tmp_path):
    model = ToySegmentor()
    save_checkpoint({'state_dict': model.state_dict()}, str(tmp_path / 'iter_5.pth'))
    fresh = ToySegmentor()
    # README: --finetune-from WORK_DIR
    finetune_from(fresh, str(tmp_path), trainable_patterns=['predictor'])
    assert torch.equal(fresh.decode_head['predictor'].weight, model.decode_head['predictor'].weight)


@pytest.fixture
def logger(list_logger):
    return list_logger
