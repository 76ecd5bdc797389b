# Stage 2 of THE-Mask on Cityscapes: stage 1 (themask_1f_cityscapes.py) with the temporal
# aggregation decoder, as themask_video.py does for VSPW. Each
# local_configs/themask/video_themask_mit_bX_cityscapes.py adds its backbone. Train it with
# --finetune-from a stage-1 checkpoint and
# --options model.decode_head.transformer_decoder_cfg.num_frames=2
#           data.train.dataset.dilation="[-3]"
_base_ = ['./themask_1f_cityscapes.py']
model = dict(
    decode_head=dict(
        type='THEMaskHead',
        transformer_decoder_cfg=dict(type='VideoMultiScaleMaskedTransformerDecoder')))
