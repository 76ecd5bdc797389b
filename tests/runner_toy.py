"""A toy segmentor, a toy random dataset and a small config for the engine tests."""
import random
from collections import OrderedDict
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

NUM_CLASSES = 3


class ToySegmentor(nn.Module):
    """Conv backbone with a GroupNorm, head with a GroupNorm, dropout and a 1x1 classifier."""

    def __init__(self, nan_at: Optional[int] = None, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = nn.ModuleDict(OrderedDict(conv=nn.Conv2d(3, 4, 3, padding=1),
                                                  norm=nn.GroupNorm(2, 4)))
        self.decode_head = nn.ModuleDict(OrderedDict(
            norm=nn.GroupNorm(2, 4), dropout=nn.Dropout(dropout),
            predictor=nn.Conv2d(4, NUM_CLASSES, 1)))
        self.nan_at = nan_at
        self.iterations_seen = []
        self.autocast_dtypes = []
        self.losses_seen = []

    def forward(self, img, img_metas, gt_semantic_seg=None, return_loss=True, iteration=None):
        b, t = img.shape[:2]
        x = F.relu(self.backbone['norm'](self.backbone['conv'](img.flatten(0, 1))))
        self.autocast_dtypes.append(x.dtype)
        x = self.decode_head['dropout'](F.relu(self.decode_head['norm'](x)))
        logits = self.decode_head['predictor'](x)
        if not return_loss:
            return logits.argmax(1).view(b, t, *logits.shape[-2:])
        self.iterations_seen.append(iteration)
        target = gt_semantic_seg.flatten(0, 2)
        loss_ce = F.cross_entropy(logits.float(), target, ignore_index=255)
        if iteration == self.nan_at:
            loss_ce = loss_ce * float('nan')
        self.losses_seen.append(loss_ce.item())
        valid = target != 255
        acc = (logits.argmax(1)[valid] == target[valid]).float().mean()
        return OrderedDict([('decode.loss_ce', loss_ce),
                            ('decode.loss_l2', [0.01 * logits.float().pow(2).mean()]),
                            ('decode.acc', acc)])


class ToyClips(Dataset):
    """Random clips whose content depends on the index and on python/NumPy/torch randomness."""

    def __init__(self, length: int = 10, frames: int = 2, size: int = 8) -> None:
        self.length, self.frames, self.size = length, frames, size

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        base = np.full((self.frames, 3, self.size, self.size), index / self.length,
                       dtype=np.float32)
        img = torch.from_numpy(base + np.random.randn(*base.shape).astype(np.float32))
        flip = random.random() < 0.5
        if flip:
            img = img.flip(-1)
        gt = torch.randint(0, NUM_CLASSES, (self.frames, 1, self.size, self.size))
        gt[..., 0, 0] = 255
        metas = [dict(index=index, frame=f, flip=flip) for f in range(self.frames)]
        return dict(img=img, gt_semantic_seg=gt, img_metas=metas)


def toy_config(max_iters=6, interval=3, **overrides):
    """The released schedule's keys, at toy size."""
    cfg = dict(
        optimizer=dict(type='AdamW', lr=0.01, betas=(0.9, 0.999), weight_decay=0.05,
                       paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1),
                                                       'norm': dict(decay_mult=0.0)})),
        optimizer_config=dict(grad_clip=dict(max_norm=1.0, norm_type=2)),
        lr_config=dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False, warmup=None,
                       warmup_iters=0, warmup_ratio=1e-6),
        runner=dict(type='IterBasedRunner', max_iters=max_iters),
        checkpoint_config=dict(by_epoch=False, interval=interval, max_keep_ckpts=None),
        evaluation=dict(interval=interval, metric=['mIoU']),
        log_config=dict(interval=interval, hooks=[dict(type='TextLoggerHook', by_epoch=False)]),
        amp=dict(enabled=False, dtype='float16'),
        nonfinite_loss='raise',
    )
    cfg.update(overrides)
    return cfg
