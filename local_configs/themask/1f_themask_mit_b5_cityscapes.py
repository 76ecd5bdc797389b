# Stage 1: THE-Mask on one-frame clips, MiT-b5 backbone, Cityscapes
# (../_base_/themask_1f_cityscapes.py).
_base_ = ['../_base_/themask_1f_cityscapes.py']
model = dict(pretrained='pretrained/mit_b5.pth', backbone=dict(type='mit_b5'))
