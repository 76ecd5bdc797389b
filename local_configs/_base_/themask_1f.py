# Stage 1 of THE-Mask on VSPW 480p (124 classes): one-frame clips, the Video Mask2Former decoder.
# Each local_configs/themask/1f_themask_mit_bX.py adds its backbone and pretrained file.
_base_ = [
    './models/themask_mit.py',
    './datasets/vspw_repeat2_mask2former.py',
    './default_runtime.py',
    './schedules/schedule_160k_adamw_mask2former.py',
]
model = dict(
    decode_head=dict(
        type='THEMask1fHead',
        transformer_decoder_cfg=dict(type='MultiScaleMaskedTransformerDecoder', num_frames=1)))
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(dataset=dict(dilation=[0])),
    val=dict(test_size=1),
    test=dict(test_size=1))
evaluation = dict(interval=170000)  # as released: no evaluation during training
