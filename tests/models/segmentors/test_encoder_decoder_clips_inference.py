"""EncoderDecoder_clips on a tiny model: test-time augmentation (scales, flips), metas in every
accepted form, config and input errors, and torch.compile of the model in place."""
import os

import pytest
import torch

from mmseg.apis.compile import compile_segmentor
from mmseg.models import build_segmentor
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONFIG = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')


def model_cfg():
    cfg = load_config(CONFIG)
    cfg.model.pretrained = None
    return cfg.model


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_segmentor(model_cfg()).eval()


def clip(seed=0, size=64):
    return torch.randn(1, 2, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_aug_test_averages_flipped_and_plain_scores(model):
    img = clip()
    meta = {'ori_shape': (64, 64, 3)}
    plain = model.clip_scores(img, meta)[0]
    with torch.no_grad():
        # the same clip twice, once flipped horizontally: un-flipping makes both scores equal
        labels = model.forward_test([img, img.flip(-1)],
                                    [meta, dict(meta, flip=True, flip_direction='horizontal')])
        flipped_v = model.clip_scores(img.flip(-2),
                                      dict(meta, flip=True, flip_direction='vertical'))[0]
    mirrored = model.clip_scores(img.flip(-1),
                                 dict(meta, flip=True, flip_direction='horizontal'))[0]
    expected = ((plain + mirrored) / 2).argmax(1).to(torch.uint8).numpy()
    assert (labels[0] == expected).all()
    assert flipped_v.shape == plain.shape
    with pytest.raises(ValueError, match="unknown flip_direction 'diagonal'"):
        model.clip_scores(img, dict(meta, flip=True, flip_direction='diagonal'))
    with pytest.raises(ValueError, match='2 augmentations of img but 1 of img_metas'):
        model.forward_test([img, img], [meta])


def test_metas_as_one_dict_per_clip_or_per_frame_agree(model):
    img = clip(1)
    meta = {'ori_shape': (64, 64, 3)}
    one = model.inference(img, meta)
    per_frame = model.inference(img, [[meta, meta]])
    assert torch.equal(one, per_frame)
    with torch.no_grad():
        single = model.forward_test([img], [[[meta, meta]]])
    assert (single[0] == one.argmax(1).to(torch.uint8).numpy()).all()
    with pytest.raises(ValueError, match='2 img_metas entries for 1 clips'):
        model.inference(img, [meta, meta])


def test_config_and_input_errors():
    for key, value, message in [('neck', dict(type='FPN'), 'no neck or auxiliary head'),
                                ('train_cfg', dict(sampler='x'), 'has no training options'),
                                ('test_cfg', dict(mode='slide'), 'is not supported')]:
        cfg = model_cfg()
        cfg[key] = value
        with pytest.raises(ValueError, match=message):
            build_segmentor(cfg)
    model = build_segmentor(model_cfg())
    with pytest.raises(ValueError, match=r'expected clips \(B, T, 3, H, W\)'):
        model.extract_feat(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match='gt_semantic_seg must be'):
        model.forward_train(clip(), None, torch.zeros(1, 3, 1, 64, 64, dtype=torch.long))


def test_compile_in_place_keeps_the_keys_and_the_outputs(model):
    torch.manual_seed(0)
    compiled = build_segmentor(model_cfg()).eval()
    compiled.load_state_dict(model.state_dict())
    keys = list(compiled.state_dict())
    compile_segmentor(compiled, backend='eager', mode=None)
    assert list(compiled.state_dict()) == keys
    img = clip(2)
    with torch.no_grad():
        assert torch.allclose(compiled.encode_decode(img), model.encode_decode(img), atol=1e-5)
