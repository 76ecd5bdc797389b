# Stage 2 of THE-Mask on VSPW 480p (124 classes): the temporal aggregation decoder. Train it with
# --finetune-from a stage-1 checkpoint and
# --options model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]"
# Each local_configs/themask/video_themask_mit_bX.py adds its backbone and pretrained file.
_base_ = [
    './models/themask_mit.py',
    './datasets/vspw_repeat2_mask2former.py',
    './default_runtime.py',
    './schedules/schedule_160k_adamw_mask2former.py',
]
model = dict(
    decode_head=dict(
        type='THEMaskHead',
        transformer_decoder_cfg=dict(type='VideoMultiScaleMaskedTransformerDecoder', num_frames=1)))
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(dataset=dict(dilation=[0])),
    val=dict(test_size=1),
    test=dict(test_size=1))
evaluation = dict(interval=170000)  # as released: no evaluation during training
