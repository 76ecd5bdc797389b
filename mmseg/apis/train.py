"""Training entry points in the mmseg-0.x shape: set up the processes, then train a built model.

The order matters and is fixed here: initial weights (``load_from`` or ``--finetune-from``, which
also freezes), then the DDP wrapper (it registers the trainable parameters), then the optimizer and
runner, then ``resume_from`` (weights, optimizer, iteration, RNG states), then the data stream,
which continues where the resumed run stopped.
"""
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn
from torch.utils.data import Dataset

from ..core.runner import (IterBasedRunner, build_runner, build_train_dataloader, finetune_from,
                           load_checkpoint)
from ..utils.dist_utils import get_dist_info, init_dist, wrap_model
from ..utils.logger import get_root_logger
from ..utils.seed import init_random_seed, set_random_seed

__all__ = ['init_training_env', 'train_segmentor']


def init_training_env(cfg: Mapping[str, Any], *, launcher: str = 'none', seed: Optional[int] = None,
                      deterministic: bool = False) -> Tuple[bool, int]:
    """Join the process group, seed every RNG and set cuDNN; return ``(distributed, seed)``.

    Args:
        cfg: the config (``dist_params.backend``, ``cudnn_benchmark``).
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.
        seed: the run's seed; None draws one on rank 0 and shares it.
        deterministic: deterministic algorithms (see :func:`set_random_seed`); disables cuDNN
            benchmarking.

    Each process seeds its RNGs with ``seed + rank`` (the model's initial weights are broadcast from
    rank 0 by DDP); the data stream uses ``seed`` itself on every process.
    """
    distributed = launcher != 'none'
    if distributed:
        init_dist(launcher, **dict(cfg.get('dist_params') or {}))
    seed = init_random_seed(seed)
    rank, _ = get_dist_info()
    set_random_seed(seed + rank, deterministic=deterministic)
    torch.backends.cudnn.benchmark = bool(cfg.get('cudnn_benchmark', False)) and not deterministic
    return distributed, seed


def train_segmentor(model: nn.Module, dataset: Dataset, cfg: Mapping[str, Any], *, seed: int,
                    distributed: bool = False, eval_fn: Optional[Callable[[nn.Module], Dict[str, Any]]] = None,
                    collate_fn: Optional[Callable[[List[Any]], Any]] = None, finetune: Optional[str] = None,
                    device: Optional[torch.device] = None, meta: Optional[Mapping[str, Any]] = None,
                    timestamp: Optional[str] = None, logger: Optional[logging.Logger] = None) -> IterBasedRunner:
    """Train ``model`` on ``dataset`` as ``cfg`` says, and return the runner.

    Args:
        model: the freshly built segmentor (on the CPU or its device).
        dataset: the training dataset.
        cfg: the config: ``work_dir``, ``data.samples_per_gpu``, ``data.workers_per_gpu``,
            ``load_from``, ``resume_from``, ``finetune_cfg.trainable_patterns``,
            ``find_unused_parameters`` and everything :func:`build_runner` reads.
        seed: the data seed (from :func:`init_training_env`).
        distributed: wrap in DDP (after :func:`init_training_env` with a launcher).
        eval_fn: ``eval_fn(model) -> {metric: number}`` called every ``evaluation.interval``
            iterations (None: no evaluation, as ``--no-validate``).
        collate_fn: turns a list of samples into a batch (default: stack tensors, list the rest).
        finetune: the ``--finetune-from`` checkpoint, or None.
        device: where to train (default: this process's CUDA device, else the CPU).
        meta: plain values stored in checkpoints and the JSON log (env_info, config text, seed).
        timestamp: names the JSON log.
        logger: default the package logger.
    """
    logger = logger or get_root_logger()
    if cfg.get('load_from'):
        load_checkpoint(model, cfg['load_from'], logger=logger, source='--load-from')
    if finetune:
        patterns = (cfg.get('finetune_cfg') or {}).get('trainable_patterns', ['predictor'])
        finetune_from(model, finetune, trainable_patterns=patterns, logger=logger)
    model = wrap_model(model, distributed=distributed, device=device,
                       find_unused_parameters=bool(cfg.get('find_unused_parameters', False)))
    runner = build_runner(cfg, model=model, work_dir=cfg['work_dir'], logger=logger, meta=meta,
                          timestamp=timestamp, eval_fn=eval_fn)
    if cfg.get('resume_from'):
        runner.resume(cfg['resume_from'])
    rank, world_size = get_dist_info()
    data_loader = build_train_dataloader(
        dataset, samples_per_gpu=cfg['data']['samples_per_gpu'], workers_per_gpu=cfg['data']['workers_per_gpu'],
        seed=seed, rank=rank, world_size=world_size, collate_fn=collate_fn,
        pin_memory=runner.device.type == 'cuda')
    runner.run(data_loader)
    return runner
