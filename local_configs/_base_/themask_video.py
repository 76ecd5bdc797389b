# Stage 2 of THE-Mask on VSPW 480p (124 classes): stage 1 with the temporal aggregation decoder.
# Each local_configs/themask/video_themask_mit_bX.py adds its backbone and pretrained file. Train
# it with --finetune-from a stage-1 checkpoint and --options
# model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]"
_base_ = ['./themask_1f.py']
model = dict(
    decode_head=dict(
        type='THEMaskHead',
        transformer_decoder_cfg=dict(type='VideoMultiScaleMaskedTransformerDecoder')))
