# Stage 1: THE-Mask on one-frame clips
# (MiT-b1 backbone, VSPW 480p, 124 classes).
_base_ = [
    '../_base_/models/themask_mit.py',
    '../_base_/datasets/vspw_repeat2_mask2former.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_160k_adamw_mask2former.py',
]
model = dict(
    pretrained='pretrained/mit_b1.pth',
    backbone=dict(type='mit_b1'),
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
