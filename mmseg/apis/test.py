"""Testing: run a segmentor over a test set and stream every predicted frame to the evaluator.

Each process predicts whole videos (``DistributedVideoSampler``); predictions are keyed by
(video, frame), so the clip order, the number of processes and the test batch size do not change
the results. Metrics are reduced across processes with one ``all_reduce`` by the evaluator.
"""
import sys
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
from torch import nn
from tqdm import tqdm

from ..core.evaluation import METRICS
from ..datasets import PIPELINES, build_dataloader, build_dataset, check_data_settings
from ..models import build_segmentor
from ..utils.checkpoint import apply_checkpoint, read_checkpoint, resolve_checkpoint_path
from ..utils.config import Config
from ..utils.dist_utils import (
    close_dist,
    get_dist_info,
    init_dist,
    is_communication_failure,
    local_device,
    lost_process_error,
)
from ..utils.errors import ConfigError, UsageError
from ..utils.json_io import write_json_atomically
from ..utils.logger import get_root_logger
from ..utils.paths import check_writable_output
from .class_check import check_num_classes
from .trained_config import reconcile_with_checkpoint, saved_config

__all__ = ['inference_on_dataset', 'test_from_config', 'enable_aug_test', 'AUG_TEST_RATIOS']

AUG_TEST_RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
EVAL_OPTIONS = {'imgfile_prefix': 'a directory for the VSPW-format label PNGs',
                'vc_gt': '"shifted" (default) or "raw"',
                'label_offset': 'an integer added to the written labels (1: VSPW raw ids)'}
PARTIAL_LOAD_HINT = 'tools/test.py --allow-partial-load'
CHECKPOINT_SOURCE = 'tools/test.py checkpoint'


def _to_device(batch: Mapping[str, Any], device: torch.device) -> Dict[str, Any]:
    imgs = batch['img']
    imgs = [img.to(device) for img in imgs] if isinstance(imgs, list) else imgs.to(device)
    return dict(img=imgs, img_metas=batch['img_metas'])


def inference_on_dataset(model: nn.Module, data_loader, *, evaluator=None,
                         show_dir: Optional[str] = None, opacity: float = 0.5,
                         device: Optional[torch.device] = None,
                         progress: bool = True) -> Optional[Dict[str, Any]]:
    """Predict every clip of ``data_loader`` and feed each frame to ``evaluator`` (and overlays).

    Args:
        model: the segmentor (not DDP-wrapped; each process runs its own copy).
        data_loader: a test loader (``build_dataloader(..., shuffle=False)``).
        evaluator: a :class:`~mmseg.core.evaluation.VideoSegEvaluator`, or None.
        show_dir: write image/prediction overlays to ``show_dir/<video>/<frame>.jpg``.
        opacity: of the painted prediction in the overlays.
        device: default: the model's device.
        progress: show a progress bar on rank 0.

    Returns:
        ``evaluator.evaluate()`` (identical on every process), or None without an evaluator.
    """
    device = device or next(model.parameters()).device
    dataset = data_loader.dataset
    rank, _ = get_dist_info()
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(data_loader), desc='test', unit='batch', disable=not progress or rank != 0,
               mininterval=0.5 if sys.stderr.isatty() else 10.0)
    with torch.no_grad():
        for batch in data_loader:
            batch = _to_device(batch, device)
            labels = model(return_loss=False, **batch)
            metas = batch['img_metas'][0] if isinstance(batch['img'], list) else batch['img_metas']
            for clip_labels, clip_metas in zip(labels, metas):
                for pred, meta in zip(clip_labels, clip_metas):
                    if evaluator is not None:
                        evaluator.process(pred, meta)
                    if show_dir:
                        dataset.show_prediction(pred, meta, show_dir, opacity)
            bar.update(1)
    bar.close()
    model.train(was_training)
    return None if evaluator is None else evaluator.evaluate()


def enable_aug_test(cfg: Config) -> None:
    """Multi-scale (0.5-1.75) + flip test: set the test pipeline's ``MultiScaleFlipAug_clips``."""
    pipeline = cfg.data.test.pipeline
    augs = [i for i, t in enumerate(pipeline)
            if PIPELINES.resolve(t)['type'] == 'MultiScaleFlipAug_clips']
    if len(augs) != 1:
        raise ConfigError('--aug-test needs one MultiScaleFlipAug_clips (or the original\'s '
                          'MultiScaleFlipAug) in data.test.pipeline')
    pipeline[augs[0]] = dict(PIPELINES.resolve(pipeline[augs[0]]), img_ratios=list(AUG_TEST_RATIOS),
                             flip=True)


def check_eval_options(eval_options: Mapping[str, Any]) -> None:
    """Refuse unknown ``--eval-options`` keys and bad values before any work starts."""
    import difflib
    for key, value in eval_options.items():
        if key not in EVAL_OPTIONS:
            close = difflib.get_close_matches(key, list(EVAL_OPTIONS), n=1)
            hint = f' Did you mean {close[0]}?' if close else ''
            raise UsageError(f'--eval-options: unknown key {key!r}; expected one of '
                             + ', '.join(f'{k} ({v})' for k, v in EVAL_OPTIONS.items())
                             + f'.{hint}')
    offset = eval_options.get('label_offset', 0)
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise UsageError(f'--eval-options label_offset={offset!r}: expected an integer (1 writes '
                         f'VSPW raw ids)')
    if eval_options.get('vc_gt', 'shifted') not in ('shifted', 'raw'):
        raise UsageError(f'--eval-options vc_gt={eval_options["vc_gt"]!r}: expected "shifted" or '
                         f'"raw"')
    if 'imgfile_prefix' in eval_options:
        check_writable_output(str(eval_options['imgfile_prefix']), '--eval-options imgfile_prefix',
                              directory=True)


def check_test_clips(cfg: Config) -> None:
    """``data.test.test_size`` and ``data.test.test_gap`` must be integers >= 1."""
    meaning = {'test_size': 'frames per test clip', 'test_gap': 'frame spacing inside a test clip'}
    for key, what in meaning.items():
        value = cfg.data.test.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ConfigError(f'data.test.{key}={value!r}: expected an integer >= 1 ({what})')


def _load_model(cfg: Config, checkpoint: str, dataset, *, strict: bool, logger):
    """The config's model with ``checkpoint``'s weights on this process's device."""
    model = build_segmentor(cfg.model)
    check_num_classes(model, dataset, cfg, what='data.test')
    path = resolve_checkpoint_path(checkpoint, CHECKPOINT_SOURCE)
    weights = read_checkpoint(path, CHECKPOINT_SOURCE)
    saved = saved_config(weights, path)
    if saved is not None:  # the config decides, as in the original; say where it differs
        reconcile_with_checkpoint(cfg, saved, path=path, use_checkpoint=False,
                                  reason='tools/test.py follows the config it is given',
                                  strict=strict)
    apply_checkpoint(model, weights, path, strict=strict, logger=logger, source=CHECKPOINT_SOURCE,
                     partial_hint=PARTIAL_LOAD_HINT)
    device = local_device()
    return model.to(device), device


def test_from_config(cfg: Config, checkpoint: str, *, config_path: str = '',
                     metrics: Sequence[str] = ('mIoU',),
                     eval_options: Optional[Mapping[str, Any]] = None,
                     out: Optional[str] = None, show_dir: Optional[str] = None,
                     opacity: float = 0.5, launcher: str = 'none', aug_test: bool = False,
                     strict: bool = True, compile: bool = False,
                     model: Optional[Any] = None) -> Optional[Dict[str, Any]]:
    """Build the test set and the model, load ``checkpoint``, predict every frame, evaluate.

    Args:
        cfg: the loaded config (overrides applied); ``data.test`` is the test set.
        checkpoint: the weights (a file, or a work directory: its ``latest.pth``); with ``model``,
            only named in the JSON written to ``out``.
        config_path: named in the JSON written to ``out``.
        metrics: evaluation metrics (``mIoU``, ``mDice``, ``mVC``...); empty to only write PNGs
            (``eval_options['imgfile_prefix']``) or overlays (``show_dir``).
        eval_options: ``imgfile_prefix``, ``vc_gt`` (see the dataset's ``build_evaluator``).
        out: write the metrics as JSON there (rank 0).
        show_dir: write image/prediction overlays there.
        opacity: of the painted prediction in the overlays, in (0, 1].
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``.
        aug_test: multi-scale and flip test-time augmentation.
        strict: refuse a checkpoint that leaves model tensors uninitialised or holds unknown ones
            (``--allow-partial-load`` gives False: load what fits and log the rest).
        compile: ``torch.compile`` the model after loading (also with the config key ``compile``).
        model: a loaded predictor to test instead of the config's model with ``checkpoint`` (the
            ONNX Runtime backend, ``tools/deploy_test.py``); it runs on the CPU, in one process.

    Returns:
        the metrics (identical on every process), or None without metrics.
    """
    from ..utils.custom_imports import import_modules_from_config

    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UsageError(f'unknown metrics {unknown} (--eval); available: {", ".join(METRICS)}')
    if out and not metrics:
        raise UsageError('--out writes the metrics, so it needs --eval')
    if not 0 < opacity <= 1:
        raise UsageError(f'--opacity must be in (0, 1], got {opacity}')
    eval_options = dict(eval_options or {})
    check_eval_options(eval_options)
    check_test_clips(cfg)
    check_data_settings(cfg.data)
    if out:
        check_writable_output(out, '--out')
    if show_dir:
        check_writable_output(show_dir, '--show-dir', directory=True)
    import_modules_from_config(cfg.get('custom_imports'))
    if aug_test:
        enable_aug_test(cfg)
    cfg.model.pretrained = None  # the checkpoint has the weights
    distributed = launcher != 'none'
    if model is not None and (distributed or compile):
        raise UsageError('a loaded model (ONNX Runtime) is tested in one process, uncompiled')
    if distributed:
        init_dist(launcher, **dict(cfg.get('dist_params') or {}))
    logger = get_root_logger(log_level=cfg.get('log_level', 'INFO'))
    dataset = build_dataset(cfg.data.test)
    loader = build_dataloader(dataset, samples_per_gpu=1, workers_per_gpu=cfg.data.workers_per_gpu,
                              dist=distributed, shuffle=False)
    if model is not None:  # already loaded, runs on the CPU
        check_num_classes(model, dataset, cfg, what='data.test')
        device = torch.device('cpu')
    else:
        model, device = _load_model(cfg, checkpoint, dataset, strict=strict, logger=logger)
        compile = compile or cfg.get('compile', False)
    if compile:
        from .compile import compile_segmentor
        compile_segmentor(model)
    evaluator = dataset.build_evaluator(metrics=list(metrics), **eval_options)
    logger.info(f'testing {len(dataset)} clips of {len(dataset.videos)} videos (test_size '
                f'{dataset.test_size}, gap {dataset.test_gap}) on {device}')
    try:
        results = inference_on_dataset(model, loader, evaluator=evaluator, show_dir=show_dir,
                                       opacity=opacity, device=device)
    except Exception as err:
        if distributed and is_communication_failure(err):
            raise lost_process_error(
                err, timeout=(cfg.get('dist_params') or {}).get('timeout')) from err
        raise
    rank, _ = get_dist_info()
    if rank == 0 and metrics and out:  # the evaluator has printed the tables
        write_json_atomically(out, dict(results, config=config_path, checkpoint=checkpoint,
                                        test_size=dataset.test_size))
        logger.info(f'metrics written to {out}')
    if rank == 0 and 'imgfile_prefix' in eval_options:
        logger.info(f'results written to {eval_options["imgfile_prefix"]}/<video>/<frame>.png')
    close_dist()
    return results
