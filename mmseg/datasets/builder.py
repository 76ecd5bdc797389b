"""Dataset registries, ``build_dataset`` and ``build_dataloader`` with the clip collate function.

Batches (the contract with the model and the training/test loops):

- train: ``dict(img=FloatTensor (B, T, 3, H, W), gt_semantic_seg=LongTensor (B, T, 1, H, W),
  img_metas=list (B) of list (T) of dict)``;
- test: ``dict(img=list over augmentations of FloatTensor (B, T, 3, H, W), img_metas=list over
  augmentations of list (B) of list (T) of dict)``.
"""
from typing import Any, Dict, List, Optional

import cv2
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..utils.dist_utils import get_dist_info
from ..utils.registry import Registry
from .samplers import DistributedVideoSampler

__all__ = ['DATASETS', 'PIPELINES', 'build_dataset', 'build_dataloader', 'collate_clips',
           'limit_worker_threads', 'check_data_settings', 'DATA_KEYS']

DATASETS = Registry('dataset')
PIPELINES = Registry('pipeline')


def limit_worker_threads(worker_id: int) -> None:
    """``worker_init_fn`` of the loaders: the workers are the parallelism, so no OpenCV threads."""
    cv2.setNumThreads(0)


# the keys of a config's ``data`` dict: the loaders' settings and the three datasets
DATA_KEYS = {'samples_per_gpu': 'clips per process in a training batch (an integer >= 1)',
             'workers_per_gpu': 'loader processes per process (an integer >= 0; 0 loads in the '
                                'main process)',
             'train': 'the training dataset', 'val': 'the validation dataset',
             'test': 'the test dataset'}


def check_data_settings(data: Dict[str, Any]) -> None:
    """Refuse a ``data`` dict with unknown keys or loader settings a ``DataLoader`` would reject,
    before anything is built (a ``ConfigError`` naming the key)."""
    from ..utils.errors import ConfigError
    unknown = sorted(set(data) - set(DATA_KEYS))
    if unknown:
        raise ConfigError(f'data has unknown keys {unknown}; expected ' + ', '.join(
            f'{key} ({what})' for key, what in DATA_KEYS.items()))
    for key, least in (('samples_per_gpu', 1), ('workers_per_gpu', 0)):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < least):
            raise ConfigError(f'data.{key}={value!r}: expected {DATA_KEYS[key]}')


def build_dataset(cfg: Dict[str, Any], default_args: Optional[Dict[str, Any]] = None) -> Dataset:
    """Build a dataset from its config (``RepeatDataset`` builds its inner ``dataset`` config)."""
    return DATASETS.build(cfg, default_args)


def _stack(tensors: List[torch.Tensor], key: str, metas: List[Any]) -> torch.Tensor:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        videos = [m[0].get('video') for m in metas if m]
        raise ValueError(f'cannot batch {key} of clips with different shapes {sorted(shapes)} '
                         f'(videos {videos}): test clips may differ in length (the last clip of a '
                         f'video) or frame size, so test with samples_per_gpu=1')
    return torch.stack(tensors)


def collate_clips(batch: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Stack samples from the clip pipelines into the batch format of the module docstring."""
    first = batch[0]
    if isinstance(first['img'], list):  # test: every key is a list over augmentations
        num_augs = len(first['img'])
        if any(len(sample['img']) != num_augs for sample in batch):
            raise ValueError('cannot batch test samples with different numbers of augmentations')
        out: Dict[str, Any] = {}
        for key in first:
            per_aug = [[sample[key][a] for sample in batch] for a in range(num_augs)]
            if key == 'img_metas':
                out[key] = per_aug
            else:
                out[key] = [_stack(values, key, metas)
                            for values, metas in zip(per_aug, [[s['img_metas'][a] for s in batch]
                                                               for a in range(num_augs)])]
        return out
    metas = [sample['img_metas'] for sample in batch]
    return {key: metas if key == 'img_metas' else _stack([s[key] for s in batch], key, metas)
            for key in first}


def build_dataloader(dataset: Dataset, samples_per_gpu: int, workers_per_gpu: int,
                     num_gpus: int = 1, dist: bool = False, shuffle: bool = True,
                     seed: Optional[int] = None, drop_last: bool = False,
                     sampler: Optional[Sampler] = None, **kwargs: Any) -> DataLoader:
    """A ``DataLoader`` that batches clips with :func:`collate_clips`.

    Args:
        dataset: the dataset.
        samples_per_gpu: clips per process (per GPU); without ``dist`` the batch is
            ``num_gpus * samples_per_gpu``.
        workers_per_gpu: loader processes per GPU (0: load in the main process).
        num_gpus: GPUs of a non-distributed run.
        dist: distributed run: without ``sampler``, a test dataset (one with ``items_by_video``)
            read with ``shuffle=False`` gets :class:`DistributedVideoSampler` (whole videos per
            process), anything else ``torch.utils.data.DistributedSampler``.
        shuffle: shuffle (ignored when a sampler is given or chosen).
        seed: seeds the loader's generator (with the rank added), which seeds each worker's torch,
            ``random`` and ``np.random`` (PyTorch does that per worker).
        drop_last: drop the last incomplete batch.
        sampler: a sampler to use instead (e.g. the training engine's infinite sampler).
        kwargs: passed to ``DataLoader`` (``pin_memory``, ``persistent_workers``, ...).
    """
    rank, world_size = get_dist_info()
    if dist:
        batch_size, num_workers = samples_per_gpu, workers_per_gpu
        if sampler is None:
            if not shuffle and hasattr(dataset, 'items_by_video'):
                sampler = DistributedVideoSampler(dataset, world_size, rank)
            else:
                sampler = DistributedSampler(dataset, world_size, rank, shuffle=shuffle,
                                             seed=0 if seed is None else seed)
    else:
        batch_size, num_workers = num_gpus * samples_per_gpu, num_gpus * workers_per_gpu
    generator = None if seed is None else torch.Generator().manual_seed(seed + rank)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      shuffle=shuffle if sampler is None else False, num_workers=num_workers,
                      collate_fn=collate_clips, drop_last=drop_last, generator=generator,
                      worker_init_fn=limit_worker_threads if num_workers else None, **kwargs)
