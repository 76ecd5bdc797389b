# Stage 2: the temporal aggregation decoder (see ../_base_/themask_video.py), MiT-b4 backbone,
# VSPW 480p.
_base_ = ['../_base_/themask_video.py']
model = dict(pretrained='pretrained/mit_b4.pth', backbone=dict(type='mit_b4'))
