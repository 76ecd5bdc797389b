# Stage 2: the temporal aggregation decoder, MiT-b2 backbone, Cityscapes
# (../_base_/themask_video_cityscapes.py).
_base_ = ['../_base_/themask_video_cityscapes.py']
model = dict(pretrained='pretrained/mit_b2.pth', backbone=dict(type='mit_b2'))
