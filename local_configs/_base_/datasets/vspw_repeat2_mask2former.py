# VSPW 480p (124 classes): data/vspw/VSPW_480p/{train,val,test}.txt and data/<video>/{origin,mask}/.
dataset_type = 'VSPWDataset2'
test_dataset_type = 'VSPWDataset_multiFrameTest'
data_root = 'data/vspw/VSPW_480p'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (480, 480)
train_pipeline = [
    dict(type='LoadImageFromFile_clips'),
    dict(type='LoadAnnotations_clips', reduce_zero_label=True),
    dict(type='Resize_clips', img_scale=(853, 480), ratio_range=(0.5, 2.0)),
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
    dict(type='MultiScaleFlipAug_clips', img_scale=(853, 480), flip=False,
         transforms=[
             dict(type='AlignedResize_clips', keep_ratio=True, size_divisor=32),
             dict(type='RandomFlip_clips'),
             dict(type='Normalize_clips', **img_norm_cfg),
             dict(type='ImageToTensor_clips', keys=['img']),
             dict(type='Collect_clips', keys=['img']),
         ]),
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=4,
    train=dict(
        type='RepeatDataset',
        times=50,
        dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline,
                     dilation=[-9, -6, -3])),
    # test_size: frames per test clip (any N >= 1); test_gap: frame spacing inside a clip.
    val=dict(type=test_dataset_type, data_root=data_root, split='val', pipeline=test_pipeline,
             test_size=1, test_gap=3),
    test=dict(type=test_dataset_type, data_root=data_root, split='val', pipeline=test_pipeline,
              test_size=1, test_gap=3))
