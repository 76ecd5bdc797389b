# Stage 2: the temporal aggregation decoder, MiT-b1 backbone, Cityscapes
# (../_base_/themask_video_cityscapes.py).
_base_ = ['../_base_/themask_video_cityscapes.py']
model = dict(pretrained='pretrained/mit_b1.pth', backbone=dict(type='mit_b1'))
