"""The stage-1 warm-up switch follows the runner's iteration (deliberate difference 1)."""
import copy
import glob
import json

import pytest
from torch.utils.data import Dataset

from mmseg.apis.train import train_segmentor
from mmseg.datasets import collate_clips
from mmseg.models import build_segmentor
from tests.runner_toy import toy_config


class FixedClip(Dataset):
    """The golden stage-1 clip and labels, again and again."""

    def __init__(self, img, gt):
        self.img, self.gt = img, gt

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return dict(img=self.img[0], gt_semantic_seg=self.gt[0], img_metas=[{}])


@pytest.mark.slow  # trains the tiny golden model through the runner
def test_secondary_terms_appear_after_warmup_iters(golden, train_golden, tmp_path):
    cfg = copy.deepcopy(golden['model_cfg_stage1'])
    cfg['decode_head']['loss_cfg'].update(train_num_points=64, warmup_iters=2)
    model = build_segmentor(cfg)
    train_cfg = toy_config(max_iters=4, interval=1, data=dict(samples_per_gpu=1, workers_per_gpu=0),
                           work_dir=str(tmp_path))
    train_segmentor(model, FixedClip(golden['stage1']['input'],
                                     train_golden['stage1']['gt_semantic_seg']),
                    train_cfg, collate_fn=collate_clips, seed=0)
    log, = glob.glob(str(tmp_path / '*.log.json'))
    records = [json.loads(line) for line in open(log)]
    keys = {r['iter']: set(r) for r in records if r.get('mode') == 'train'}
    assert sorted(keys) == [1, 2, 3, 4]
    for it in (1, 2):  # runner.iter 0 and 1 < warmup_iters: one-to-one matching
        assert 'decode.loss_mask' in keys[it] and not any('r1_' in k for k in keys[it])
    for it in (3, 4):  # runner.iter 2 and 3 >= warmup_iters: two-round matching
        assert {'decode.r0_loss_mask', 'decode.r1_loss_mask_unmatched',
                'decode.r1_loss_dice_unmatched_2'} <= keys[it]
