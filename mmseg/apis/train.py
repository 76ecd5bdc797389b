"""Training entry points in the mmseg-0.x shape: set up the processes, then train a built model.

The order matters and is fixed here: initial weights (``load_from`` or ``--finetune-from``, which
also freezes), then the DDP wrapper (it registers the trainable parameters), then the optimizer and
runner, then ``resume_from`` (weights, optimizer, iteration, RNG states), then the data stream,
which continues where the resumed run stopped.
"""
import logging
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn
from torch.utils.data import Dataset

from ..core.runner import IterBasedRunner, build_runner, build_train_dataloader, finetune_from
from ..utils.checkpoint import load_checkpoint
from ..utils.config import Config
from ..utils.dist_utils import close_dist, get_dist_info, init_dist, unwrap_model, wrap_model
from ..utils.errors import ConfigError
from ..utils.logger import FILE_ONLY, close_log_file, get_root_logger
from ..utils.paths import check_writable_output
from ..utils.seed import init_random_seed, set_random_seed
from .class_check import check_num_classes

__all__ = ['init_training_env', 'train_segmentor', 'train_from_config', 'make_eval_fn',
           'prepare_work_dir', 'check_workflow']


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
                    collate_fn: Callable[[List[Any]], Any], distributed: bool = False,
                    eval_fn: Optional[Callable[[nn.Module], Dict[str, Any]]] = None,
                    worker_init_fn: Optional[Callable[[int], None]] = None,
                    finetune: Optional[str] = None, device: Optional[torch.device] = None,
                    meta: Optional[Mapping[str, Any]] = None, timestamp: Optional[str] = None,
                    logger: Optional[logging.Logger] = None) -> IterBasedRunner:
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
        collate_fn: turns a list of samples into a batch (``mmseg.datasets.collate_clips``).
        worker_init_fn: run in each dataloader worker at start.
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
        dataset, samples_per_gpu=cfg['data']['samples_per_gpu'],
        workers_per_gpu=cfg['data']['workers_per_gpu'],
        seed=seed, rank=rank, world_size=world_size, collate_fn=collate_fn,
        worker_init_fn=worker_init_fn, pin_memory=runner.device.type == 'cuda')
    runner.run(data_loader)
    return runner


def _check_file(path: Optional[str], what: str) -> None:
    """Refuse a checkpoint path that does not exist before anything is built or trained."""
    if path and not os.path.exists(path):
        raise FileNotFoundError(f'{what} {path!r} does not exist')


def prepare_work_dir(work_dir: str) -> None:
    """Create ``work_dir`` and check that files can be written there (before any work starts).

    Every rank of a distributed run probes with a file of its own, so the ranks cannot race.
    """
    check_writable_output(work_dir, '--work-dir / work_dir', directory=True)


def check_workflow(cfg: Mapping[str, Any]) -> None:
    """``workflow`` (an mmseg-0.x key) must be train-only: evaluation runs in the evaluation
    hook."""
    workflow = cfg.get('workflow', [('train', 1)])
    if [tuple(step) for step in workflow] != [('train', 1)]:
        raise ConfigError(f'workflow={workflow!r} is not supported: the iteration runner only '
                          f'trains (workflow=[("train", 1)]); evaluation runs every '
                          f'evaluation.interval iterations instead')


def make_eval_fn(cfg: Mapping[str, Any],
                 distributed: bool) -> Callable[[nn.Module], Dict[str, Any]]:
    """``eval_fn(model)`` for the evaluation hook: test on ``data.val``, return the summary
    metrics."""
    from ..datasets import build_dataloader, build_dataset
    from .test import inference_on_dataset

    dataset = build_dataset(cfg['data']['val'])
    loader = build_dataloader(dataset, samples_per_gpu=1,
                              workers_per_gpu=cfg['data']['workers_per_gpu'],
                              dist=distributed, shuffle=False)
    metrics = cfg['evaluation'].get('metric', ['mIoU'])
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)

    def eval_fn(model: nn.Module) -> Dict[str, Any]:
        results = inference_on_dataset(unwrap_model(model), loader,
                                       evaluator=dataset.build_evaluator(metrics=metrics))
        return {k: v for k, v in results.items() if isinstance(v, (int, float))
                and not isinstance(v, bool)}

    return eval_fn


def train_from_config(cfg: Config, *, config_path: str, work_dir: Optional[str] = None,
                      load_from: Optional[str] = None, resume_from: Optional[str] = None,
                      finetune: Optional[str] = None, launcher: str = 'none',
                      seed: Optional[int] = None, deterministic: bool = False,
                      device: Optional[torch.device] = None, validate: bool = True,
                      amp: bool = False, compile: bool = False) -> IterBasedRunner:
    """Check the inputs, set up the processes, build the model and the data, and train.

    Args:
        cfg: the loaded config (overrides applied).
        config_path: the config file, for the log, the copy in the work dir and the default work
            dir.
        work_dir: where checkpoints and logs go (default ``cfg.work_dir``, else
            ``work_dirs/<config name>``).
        load_from, resume_from: override ``cfg.load_from`` / ``cfg.resume_from``.
        finetune: checkpoint for :func:`~mmseg.core.runner.finetune_from` (or None).
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.
        seed: the run's seed (None: drawn and shared).
        deterministic: deterministic algorithms.
        device: the device of a single-process run (default: CUDA if available, else CPU).
        validate: evaluate on ``data.val`` every ``evaluation.interval`` iterations.
        amp: mixed precision (``cfg.amp.dtype``).
        compile: ``torch.compile`` the model (also with the config key ``compile``).
    """
    from ..datasets import build_dataset, check_data_settings, collate_clips, limit_worker_threads
    from ..models import build_segmentor
    from ..utils.collect_env import env_info_text
    from ..utils.custom_imports import import_modules_from_config

    import_modules_from_config(cfg.get('custom_imports'))
    check_workflow(cfg)
    check_data_settings(cfg.data)
    if amp:
        cfg.amp.enabled = True
    cfg.work_dir = work_dir or cfg.get('work_dir') or os.path.join(
        'work_dirs', os.path.splitext(os.path.basename(config_path))[0])
    if load_from:
        cfg.load_from = load_from
    if resume_from:
        cfg.resume_from = resume_from
    _check_file(cfg.get('load_from'), '--load-from / load_from')
    _check_file(cfg.get('resume_from'), '--resume-from / resume_from')
    _check_file(finetune, '--finetune-from')
    prepare_work_dir(cfg.work_dir)

    distributed, seed = init_training_env(cfg, launcher=launcher, seed=seed,
                                          deterministic=deterministic)
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    log_file = os.path.join(cfg.work_dir, f'{timestamp}.log')
    logger = get_root_logger(log_file=log_file, log_level=cfg.get('log_level', 'INFO'))
    try:
        env_info = env_info_text()
        config_text = cfg.pretty_text  # formatted by yapf: ~0.3 s, so once
        copy = os.path.join(cfg.work_dir, os.path.basename(config_path))
        if get_dist_info()[0] == 0:  # the config as run, beside the checkpoints
            if copy.endswith('.py'):  # what cfg.dump(copy) writes, without formatting it again
                with open(copy, 'w', encoding='utf-8') as f:
                    f.write(config_text)
            else:
                cfg.dump(copy)
        # the environment and the whole config go to the log file only; the console gets where
        logger.info('environment:\n' + env_info, extra=FILE_ONLY)
        logger.info(f'config ({config_path}):\n{config_text}', extra=FILE_ONLY)
        logger.info(f'config {config_path} as run: {copy} (and with the environment in {log_file})')
        logger.info(f'seed {seed}, deterministic: {deterministic}, distributed: {distributed}')

        # the data first: a bad split file or frame is reported before any weights are read
        dataset = build_dataset(cfg.data.train)
        model = build_segmentor(cfg.model)
        if compile:
            cfg.compile = True
        if cfg.get('compile', False):
            from .compile import compile_segmentor
            compile_segmentor(model)
        check_num_classes(model, dataset, cfg, what='data.train')
        eval_fn = make_eval_fn(cfg, distributed) if validate else None
        meta = dict(env_info=env_info, config=config_text, seed=seed,
                    exp_name=os.path.basename(config_path))
        runner = train_segmentor(model, dataset, cfg, seed=seed, distributed=distributed,
                                 eval_fn=eval_fn, collate_fn=collate_clips,
                                 worker_init_fn=limit_worker_threads, finetune=finetune,
                                 device=device, meta=meta, timestamp=timestamp, logger=logger)
    finally:
        close_log_file(log_file)
    close_dist()
    return runner
