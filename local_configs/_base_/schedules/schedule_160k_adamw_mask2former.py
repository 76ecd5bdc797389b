# AdamW, poly LR, 160k iterations (the original's schedule_160k_adamw_mask2former.py).
optimizer = dict(
    type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05,
    fused=True,  # torch's fused AdamW kernel (CPU and CUDA): the same update, several times faster
    # The longest key contained in a parameter name wins (as in mmcv 1.x): backbone LayerNorms get
    # lr x 0.1 and keep their weight decay; head parameters named "*norm*" get no weight decay.
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=0.1),
        'norm': dict(decay_mult=0.0)}))
optimizer_config = dict(grad_clip=dict(max_norm=0.01, norm_type=2))
lr_config = dict(policy='poly', power=0.9, min_lr=0.0, by_epoch=False, warmup=None, warmup_iters=0,
                 warmup_ratio=1e-6)
runner = dict(type='IterBasedRunner', max_iters=160000)
checkpoint_config = dict(by_epoch=False, interval=4000, max_keep_ckpts=None)
evaluation = dict(interval=4000, metric=['mIoU', 'mVC'])
