# Stage 2 on the synthetic VSPW-format data, sized for a laptop CPU (see
# 1f_themask_mit_b0_synthetic.py); finetune it from stage 1 with --finetune-from and --options
# model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]"
_base_ = ['./1f_themask_mit_b0_synthetic.py']
model = dict(
    decode_head=dict(
        type='THEMaskHead',
        transformer_decoder_cfg=dict(type='VideoMultiScaleMaskedTransformerDecoder'),
        # stage 2 has no warm-up; the key is shared with stage 1
        loss_cfg=dict(warmup_iters=30000)))
optimizer = dict(lr=4e-4)
runner = dict(max_iters=1400)
checkpoint_config = dict(interval=700)
evaluation = dict(interval=1400)
