# Stage 2 on synthetic Cityscapes-format data (see 1f_themask_mit_b0_cityscapes_synthetic.py), as
# video_themask_mit_b0_synthetic.py is for VSPW; finetune it from stage 1 with --finetune-from and
# --options model.decode_head.transformer_decoder_cfg.num_frames=2
#           data.train.dataset.dilation="[-3]"
_base_ = ['./1f_themask_mit_b0_cityscapes_synthetic.py']
model = dict(
    decode_head=dict(
        type='THEMaskHead',
        transformer_decoder_cfg=dict(type='VideoMultiScaleMaskedTransformerDecoder'),
        loss_cfg=dict(warmup_iters=30000)))  # stage 2 has no warm-up (a stage-1 key)
optimizer = dict(lr=4e-4)
runner = dict(max_iters=1400)
checkpoint_config = dict(interval=700)
evaluation = dict(interval=1400)
