# Stage 2: the temporal aggregation decoder (see ../_base_/themask_video.py), MiT-b1 backbone,
# VSPW 480p.
_base_ = ['../_base_/themask_video.py']
model = dict(pretrained='pretrained/mit_b1.pth', backbone=dict(type='mit_b1'))
