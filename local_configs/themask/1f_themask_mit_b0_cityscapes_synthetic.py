# Stage 1 on synthetic Cityscapes-format data, sized for a laptop CPU: the model and schedule of
# 1f_themask_mit_b0_synthetic.py, the Cityscapes datasets and 19 classes, and the pipelines of
# ../_base_/themask_1f_cityscapes.py at a quarter of their scale (frames 128x256). Make the data:
#   python tools/make_synthetic_cityscapes.py --out data/cityscapes_synthetic
#   python tools/convert_datasets/cityscapes.py data/cityscapes_synthetic
_base_ = ['./1f_themask_mit_b0_synthetic.py']
num_classes = 19
dataset_type = 'CityscapesDataset_clips'
test_dataset_type = 'CityscapesDataset_multiFrameTest'
data_root = 'data/cityscapes_synthetic'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (128, 256)
train_pipeline = [
    dict(type='LoadImageFromFile_clips'),
    dict(type='LoadAnnotations_clips', reduce_zero_label=False),
    dict(type='Resize_clips', img_scale=(256, 128), ratio_range=(0.5, 2.0)),
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
    dict(type='MultiScaleFlipAug_clips', img_scale=(256, 128), flip=False,
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
    train=dict(dataset=dict(type=dataset_type, data_root=data_root, split='train',
                            pipeline=train_pipeline, dilation=[0])),
    val=dict(type=test_dataset_type, data_root=data_root, split='val', pipeline=test_pipeline,
             test_size=1, test_gap=3),
    test=dict(type=test_dataset_type, data_root=data_root, split='val', pipeline=test_pipeline,
              test_size=1, test_gap=3))
evaluation = dict(metric=['mIoU'])  # one labelled frame per snippet: mVC cannot be measured
