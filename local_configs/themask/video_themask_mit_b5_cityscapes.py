# Stage 2: the temporal aggregation decoder, MiT-b5 backbone, Cityscapes
# (../_base_/themask_video_cityscapes.py).
_base_ = ['../_base_/themask_video_cityscapes.py']
model = dict(pretrained='pretrained/mit_b5.pth', backbone=dict(type='mit_b5'))
