# Stage 2: the temporal aggregation decoder (see ../_base_/themask_video.py), MiT-b3 backbone,
# VSPW 480p.
_base_ = ['../_base_/themask_video.py']
model = dict(pretrained='pretrained/mit_b3.pth', backbone=dict(type='mit_b3'))
