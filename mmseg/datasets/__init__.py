from .builder import (
    DATASETS,
    PIPELINES,
    build_dataloader,
    build_dataset,
    check_data_settings,
    collate_clips,
    limit_worker_threads,
)
from .cityscapes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    CityscapesDataset_clips,
    CityscapesDataset_multiFrameTest,
)
from .clips import make_test_clips
from .dataset_wrappers import RepeatDataset
from .file_io import DataError
from .pipelines import Compose
from .samplers import DistributedVideoSampler
from .vspw import VSPW_CLASSES, VSPW_PALETTE, VSPWDataset2, VSPWDataset_multiFrameTest

__all__ = ['DATASETS', 'PIPELINES', 'build_dataloader', 'build_dataset', 'check_data_settings',
           'collate_clips', 'limit_worker_threads',
           'make_test_clips', 'RepeatDataset', 'DataError', 'Compose', 'DistributedVideoSampler',
           'VSPW_CLASSES', 'VSPW_PALETTE', 'VSPWDataset2', 'VSPWDataset_multiFrameTest',
           'CITYSCAPES_CLASSES', 'CITYSCAPES_PALETTE', 'CityscapesDataset_clips',
           'CityscapesDataset_multiFrameTest']
