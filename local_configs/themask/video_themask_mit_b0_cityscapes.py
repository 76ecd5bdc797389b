# Stage 2: the temporal aggregation decoder, MiT-b0 backbone, Cityscapes
# (../_base_/themask_video_cityscapes.py).
_base_ = ['../_base_/themask_video_cityscapes.py']
model = dict(
    pretrained='pretrained/mit_b0.pth', backbone=dict(type='mit_b0'),
    decode_head=dict(input_shape=dict(
        res2=dict(channels=32, stride=4), res3=dict(channels=64, stride=8),  # MiT-b0 stage widths
        res4=dict(channels=160, stride=16), res5=dict(channels=256, stride=32))))
