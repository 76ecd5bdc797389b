# Stage 2: temporal aggregation decoder; train it with --finetune-from a stage-1 checkpoint and
# --options model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]"
# (MiT-b2 backbone, VSPW 480p, 124 classes).
_base_ = [
    '../_base_/models/themask_mit.py',
    '../_base_/datasets/vspw_repeat2_mask2former.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_160k_adamw_mask2former.py',
]
model = dict(
    pretrained='pretrained/mit_b2.pth',
    backbone=dict(type='mit_b2'),
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
