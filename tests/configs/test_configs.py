"""Every shipped config carries the original's hyperparameters (docs/method.md, "Training schedule
and hyperparameters")."""
import glob
import os

import pytest

from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VSPW_CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'local_configs', 'themask',
                                             '*_themask_mit_b[0-5].py')))
B0_CHANNELS = [32, 64, 160, 256]
OTHER_CHANNELS = [64, 128, 320, 512]


def test_all_twelve_configs_exist():
    names = {os.path.basename(p) for p in VSPW_CONFIGS}
    assert names == {f'{s}_themask_mit_b{v}.py' for s in ('1f', 'video') for v in range(6)}


@pytest.mark.parametrize('path', VSPW_CONFIGS, ids=os.path.basename)
def test_config_values(path):
    cfg = load_config(path)
    name = os.path.basename(path)
    stage, variant = name.split('_themask_mit_')
    variant = variant[:-3]
    model = cfg.model
    assert model.type == 'EncoderDecoder_clips'
    assert model.backbone.type == f'mit_{variant}'
    assert model.pretrained == f'pretrained/mit_{variant}.pth'
    head = model.decode_head
    dec = head.transformer_decoder_cfg
    if stage == '1f':
        assert (head.type, dec.type) == ('THEMask1fHead', 'MultiScaleMaskedTransformerDecoder')
    else:
        assert (head.type, dec.type) == ('THEMaskHead', 'VideoMultiScaleMaskedTransformerDecoder')
    channels = B0_CHANNELS if variant == 'b0' else OTHER_CHANNELS
    assert [head.input_shape[f'res{i}'].channels for i in range(2, 6)] == channels
    assert [head.input_shape[f'res{i}'].stride for i in range(2, 6)] == [4, 8, 16, 32]
    assert head.num_classes == 124 and dec.num_classes == 124
    assert dec.num_queries == 100 and dec.hidden_dim == 256 and dec.nheads == 8
    assert dec.dim_feedforward == 2048 and dec.dec_layers == 9 and dec.num_frames == 1
    pix = head.pixel_decoder_cfg
    assert (pix.conv_dim, pix.mask_dim, pix.transformer_nheads) == (256, 256, 8)
    assert (pix.transformer_enc_layers, pix.transformer_dim_feedforward) == (6, 1024)
    assert list(pix.transformer_in_features) == ['res3', 'res4', 'res5']
    # activation checkpointing and torch.compile are opt-in
    assert not (model.backbone.with_cp or pix.with_cp or dec.with_cp or cfg.compile)
    loss = head.loss_cfg
    assert loss.dec_layers == 10
    assert loss.train_num_points == 12544
    assert loss.no_object_weight == 0.1
    assert loss.warmup_iters == 30000
    assert list(loss.round_weight) == [1.0, 0.5]
    assert loss.aux_weight == 0.25
    assert (loss.oversample_ratio, loss.importance_sample_ratio) == (3.0, 0.75)
    m = loss.matcher_cfg
    assert (m.class_weight, m.mask_weight, m.dice_weight) == (2.0, 5.0, 5.0)
    assert (m.mask_weight_unmatched, m.dice_weight_unmatched) == (0.5, 0.5)
    # schedule
    opt = cfg.optimizer
    assert opt.type == 'AdamW' and opt.lr == 1e-4 and opt.weight_decay == 0.05
    assert opt.paramwise_cfg.custom_keys['backbone'].lr_mult == 0.1
    assert opt.paramwise_cfg.custom_keys['norm'].decay_mult == 0.0
    assert cfg.optimizer_config.grad_clip.max_norm == 0.01
    assert (cfg.lr_config.policy == 'poly' and cfg.lr_config.power == 0.9
            and cfg.lr_config.min_lr == 0)
    assert cfg.runner.max_iters == 160000
    assert cfg.checkpoint_config.interval == 4000
    assert cfg.evaluation.interval == 170000
    # data
    assert cfg.data.samples_per_gpu == 2
    assert cfg.data.train.type == 'RepeatDataset' and cfg.data.train.times == 50
    assert list(cfg.data.train.dataset.dilation) == [0]
    assert cfg.data.train.dataset.data_root == 'data/vspw/VSPW_480p'
    assert cfg.data.test.test_size == 1 and cfg.data.val.test_size == 1
    crop = [t for t in cfg.data.train.dataset.pipeline if t.type == 'RandomCrop_clips'][0]
    assert tuple(crop.crop_size) == (480, 480) and crop.cat_max_ratio == 0.75
    assert cfg.find_unused_parameters is False
    assert cfg.amp.enabled is False
