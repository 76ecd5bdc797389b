# THE-Mask (MiT-b0, narrow head, 2-frame clips) on your own 3-class video dataset: the config of
# docs/custom_dataset.md. Make the data with
#   python tools/make_toy_dataset.py --out data/toy3
# Layout (relative to data_root): splits/{train,val}.txt, videos/<name>/frames/<i>.png,
# videos/<name>/labels/<i>.png with values 0..2 and 255 (void).
_base_ = ['../themask/video_themask_mit_b0_synthetic.py']

data_root = 'data/toy3'      # --options data_root=DIR also moves data.train/val/test
num_classes = 3              # --options num_classes=K also sets both head keys
classes = ('background', 'ball', 'box')
palette = [[150, 190, 120], [220, 60, 60], [60, 120, 220]]
# what every split shares: class names, colours, folders, suffixes and labels (no VSPW shift:
# the labels already are 0..K-1; 255 is void)
dataset_args = dict(data_root=data_root, classes=classes, palette=palette,
                    img_dir='videos/{video}/frames', ann_dir='videos/{video}/labels',
                    img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False,
                    ignore_index=255)

model = dict(decode_head=dict(num_classes=num_classes,
                              transformer_decoder_cfg=dict(num_classes=num_classes, num_frames=2)))

img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile_clips'),
    dict(type='LoadAnnotations_clips', reduce_zero_label=False),  # must match the dataset's
    dict(type='Resize_clips', img_scale=(96, 64), ratio_range=(0.75, 1.5)),
    dict(type='RandomCrop_clips', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip_clips', prob=0.5),
    dict(type='PhotoMetricDistortion_clips'),
    dict(type='Normalize_clips', **img_norm_cfg),
    dict(type='Pad_clips', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle_clips'),
    dict(type='Collect_clips', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile_clips'),
    dict(type='MultiScaleFlipAug_clips', img_scale=(96, 64), flip=False,
         transforms=[
             dict(type='AlignedResize_clips', keep_ratio=True, size_divisor=32),
             dict(type='RandomFlip_clips'),
             dict(type='Normalize_clips', **img_norm_cfg),
             dict(type='ImageToTensor_clips', keys=['img']),
             dict(type='Collect_clips', keys=['img']),
         ]),
]
data = dict(
    train=dict(times=50, dataset=dict(split='splits/train.txt', pipeline=train_pipeline,
                                      dilation=[-3], **dataset_args)),
    val=dict(split='splits/val.txt', pipeline=test_pipeline, test_size=2, test_gap=1,
             **dataset_args),
    test=dict(split='splits/val.txt', pipeline=test_pipeline, test_size=2, test_gap=1,
              **dataset_args))
runner = dict(max_iters=400)
checkpoint_config = dict(interval=200)
evaluation = dict(interval=400, metric=['mIoU', 'mVC'])
