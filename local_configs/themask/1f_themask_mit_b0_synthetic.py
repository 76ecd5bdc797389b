# Stage 1 on the synthetic VSPW-format data (python tools/make_synthetic_vspw.py), sized for a
# laptop CPU: MiT-b0 from scratch (nothing to download) and a narrow head (width 64, 20 queries,
# 5 decoder layers). The two-round matching starts after warmup_iters, as in the paper.
_base_ = [
    '../_base_/models/themask_mit.py',
    '../_base_/datasets/vspw_synthetic.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_160k_adamw_mask2former.py',
]
model = dict(
    pretrained=None,
    backbone=dict(type='mit_b0'),
    decode_head=dict(
        type='THEMask1fHead',
        input_shape=dict(
            res2=dict(channels=32, stride=4),
            res3=dict(channels=64, stride=8),
            res4=dict(channels=160, stride=16),
            res5=dict(channels=256, stride=32)),
        pixel_decoder_cfg=dict(conv_dim=64, mask_dim=64, transformer_nheads=4,
                               transformer_dim_feedforward=256, transformer_enc_layers=3),
        transformer_decoder_cfg=dict(
            type='MultiScaleMaskedTransformerDecoder', CONVS_DIM=64, MASK_DIM=64, hidden_dim=64,
            mask_dim=64, num_queries=20, nheads=4, dim_feedforward=256, dec_layers=5, num_frames=1),
        loss_cfg=dict(dec_layers=6, train_num_points=1024, warmup_iters=400)))
data = dict(samples_per_gpu=2, workers_per_gpu=1, train=dict(dataset=dict(dilation=[0])))
# From scratch, the backbone learns at the full rate.
optimizer = dict(lr=4e-4, paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
runner = dict(max_iters=2400)
checkpoint_config = dict(interval=800)
evaluation = dict(interval=2400, metric=['mIoU', 'mVC'])
log_config = dict(interval=20)
