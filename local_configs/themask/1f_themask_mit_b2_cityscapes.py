# Stage 1: THE-Mask on one-frame clips, MiT-b2 backbone, Cityscapes
# (../_base_/themask_1f_cityscapes.py).
_base_ = ['../_base_/themask_1f_cityscapes.py']
model = dict(pretrained='pretrained/mit_b2.pth', backbone=dict(type='mit_b2'))
