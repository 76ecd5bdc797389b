"""Clip pipelines: every transform takes and returns a clip's ``results`` dict."""
from .compose import Compose
from .formatting import Collect_clips, DefaultFormatBundle_clips, ImageToTensor_clips
from .loading import LoadAnnotations_clips, LoadImageFromFile_clips
from .original_names import ORIGINAL_NAMES
from .test_time_aug import MultiScaleFlipAug_clips
from .transforms import (
    AlignedResize_clips,
    Normalize_clips,
    Pad_clips,
    PhotoMetricDistortion_clips,
    RandomCrop_clips,
    RandomFlip_clips,
    Resize_clips,
)

__all__ = ['Compose', 'Collect_clips', 'DefaultFormatBundle_clips', 'ImageToTensor_clips',
           'LoadAnnotations_clips', 'LoadImageFromFile_clips', 'MultiScaleFlipAug_clips',
           'AlignedResize_clips', 'Normalize_clips', 'Pad_clips', 'PhotoMetricDistortion_clips',
           'RandomCrop_clips', 'RandomFlip_clips', 'Resize_clips', 'ORIGINAL_NAMES']
