# Stage 2: temporal aggregation decoder; train it with --finetune-from a stage-1 checkpoint and
# --options model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]"
# (MiT-b0 backbone, VSPW 480p, 124 classes).
_base_ = [
    '../_base_/models/themask_mit.py',
    '../_base_/datasets/vspw_repeat2_mask2former.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_160k_adamw_mask2former.py',
]
model = dict(
    pretrained='pretrained/mit_b0.pth',
    backbone=dict(type='mit_b0'),
    decode_head=dict(
        input_shape=dict(
            res2=dict(channels=32, stride=4),
            res3=dict(channels=64, stride=8),
            res4=dict(channels=160, stride=16),
            res5=dict(channels=256, stride=32)),
        type='THEMaskHead',
        transformer_decoder_cfg=dict(type='VideoMultiScaleMaskedTransformerDecoder', num_frames=1)))
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(dataset=dict(dilation=[0])),
    val=dict(test_size=1),
    test=dict(test_size=1))
evaluation = dict(interval=170000)  # as released: no evaluation during training
