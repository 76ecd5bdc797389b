# Stage 1: THE-Mask on one-frame clips, MiT-b1 backbone, Cityscapes
# (../_base_/themask_1f_cityscapes.py).
_base_ = ['../_base_/themask_1f_cityscapes.py']
model = dict(pretrained='pretrained/mit_b1.pth', backbone=dict(type='mit_b1'))
