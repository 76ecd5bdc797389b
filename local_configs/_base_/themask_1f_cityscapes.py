# Stage 1 of THE-Mask on Cityscapes (19 classes, clips from leftImg8bit_sequence, labelTrainIds):
# THE-Mask's stage-1 recipe (themask_1f.py: head, objective, optimizer) with CFFM's Cityscapes
# clip protocol. Each local_configs/themask/1f_themask_mit_bX_cityscapes.py adds its backbone.
# Data: docs/datasets.md (download, tools/convert_datasets/cityscapes.py, tools/check_dataset.py).
#
# CFFM's values (VSS-CFFM, local_configs/_base_/datasets/cityscapes_1024x1024_repeat_clips.py):
# train Resize img_scale=(1024, 512), ratio_range=(0.5, 2.0); RandomCrop_clips
# crop_size=(512, 1024), cat_max_ratio=0.75; RandomFlip prob 0.5; PhotoMetricDistortion; Pad to
# the crop (seg 255);
# test MultiScaleFlipAug img_scale=(1024, 512), flip=False; RepeatDataset times=500;
# samples_per_gpu=2; clip dilation [-9, -6, -3]. Its dataset file leaves the schedule to the model
# configs, which all run 160k iterations (schedule_160k_adamw): kept here, with THE-Mask's
# optimizer and poly LR as for VSPW. Stage 1 trains on one-frame clips (dilation [0]) as for VSPW.
_base_ = ['./themask_1f.py']
num_classes = 19
dataset_type = 'CityscapesDataset_clips'
test_dataset_type = 'CityscapesDataset_multiFrameTest'
data_root = 'data/cityscapes'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (512, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile_clips'),
    dict(type='LoadAnnotations_clips', reduce_zero_label=False),  # trainIds are class ids
    dict(type='Resize_clips', img_scale=(1024, 512), ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop_clips', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip_clips', prob=0.5),
    dict(type='PhotoMetricDistortion_clips'),
    dict(type='Normalize_clips', **img_norm_cfg),
    dict(type='Pad_clips', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle_clips'),
    dict(type='Collect_clips', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile_clips'),
    dict(type='MultiScaleFlipAug_clips', img_scale=(1024, 512), flip=False,
         transforms=[
             dict(type='AlignedResize_clips', keep_ratio=True, size_divisor=32),
             dict(type='RandomFlip_clips'),
             dict(type='Normalize_clips', **img_norm_cfg),
             dict(type='ImageToTensor_clips', keys=['img']),
             dict(type='Collect_clips', keys=['img']),
         ]),
]
model = dict(decode_head=dict(num_classes=num_classes,
                              transformer_decoder_cfg=dict(num_classes=num_classes)))
data = dict(
    train=dict(
        times=500,
        dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline,
                     dilation=[0])),
    # test clip: the clip of the VSPW test-clip rule (test_size, test_gap) over the snippet that
    # holds its labelled frame; only labelled frames are scored
    val=dict(type=test_dataset_type, data_root=data_root, split='val', pipeline=test_pipeline,
             test_size=1, test_gap=3),
    test=dict(type=test_dataset_type, data_root=data_root, split='val', pipeline=test_pipeline,
              test_size=1, test_gap=3))
evaluation = dict(metric=['mIoU'])  # one labelled frame per snippet: mVC cannot be measured
