"""Formatting: tensors of the batch contract and one meta dict per frame."""
import numpy as np
import pytest
import torch

from mmseg.datasets.pipelines import Collect_clips, DefaultFormatBundle_clips


def test_bundle_and_collect():
    results = dict(video='v', frames=['7', '9'], filename=['a/7.jpg', 'a/9.jpg'],
                   img=[np.full((4, 5, 3), t, np.float32) for t in range(2)],
                   gt_semantic_seg=[np.full((4, 5), t, np.uint8) for t in range(2)],
                   seg_fields=['gt_semantic_seg'], ori_shape=(4, 5, 3), img_shape=(4, 5, 3),
                   pad_shape=(4, 5, 3), scale_factor=np.ones(4), flip=False,
                   flip_direction='horizontal', img_norm_cfg={})
    out = Collect_clips(keys=['img', 'gt_semantic_seg'])(DefaultFormatBundle_clips()(results))
    assert out['img'].shape == (2, 3, 4, 5) and out['img'].dtype == torch.float32
    assert (out['gt_semantic_seg'].shape == (2, 1, 4, 5)
            and out['gt_semantic_seg'].dtype == torch.int64)
    assert out['img'][1].eq(1).all() and out['gt_semantic_seg'][0].eq(0).all()
    assert [(m['frame'], m['filename'], m['video']) for m in out['img_metas']] == [
        ('7', 'a/7.jpg', 'v'), ('9', 'a/9.jpg', 'v')]
    assert set(out) == {'img', 'gt_semantic_seg', 'img_metas'}
    with pytest.raises(KeyError, match='flip'):
        Collect_clips(keys=['img'])({k: v for k, v in results.items() if k != 'flip'})
