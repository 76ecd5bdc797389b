"""Package a trained model as one folder: config, weights only, and what inference needs to know.

    meta = publish_model('work_dirs/b1/iter_160000.pth', 'published/themask_b1')
    model = init_segmentor('published/themask_b1')   # as with the checkpoint and its config

The folder's format is :mod:`mmseg.utils.published_model`'s. The model is built from the training
config and loaded strictly before anything is written, so a folder always loads; the weights
written are the model's own (optimizer state and anything else in the checkpoint left out).
"""
import glob
import json
import os
from typing import Any, Dict, Mapping, Optional, Union

from ..models import build_segmentor
from ..utils.checkpoint import apply_checkpoint, read_checkpoint, resolve_checkpoint_path
from ..utils.config import Config, load_config
from ..utils.errors import UsageError
from ..utils.logger import get_root_logger
from ..utils.published_model import write_published_model
from ..version import __version__
from .trained_config import (
    config_dilation,
    config_num_frames,
    dataset_classes,
    reconcile_with_checkpoint,
    saved_config,
)

__all__ = ['publish_model', 'evaluated_metrics']

SOURCE = 'publish_model checkpoint'


def evaluated_metrics(work_dir: str, iteration: Optional[int]) -> Optional[Dict[str, Any]]:
    """The metrics the training run logged for ``iteration`` (a ``{"mode": "val", "iter": ...}``
    line of ``work_dir/*.log.json``; the newest log's when several runs logged it), or None."""
    if iteration is None:
        return None
    found = None
    for path in sorted(glob.glob(os.path.join(work_dir, '*.log.json'))):
        with open(path, encoding='utf-8') as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:  # a line cut by a crash: not an evaluation
                    continue
                if isinstance(record, dict) and record.get('mode') == 'val' \
                        and record.get('iter') == iteration:
                    found = {k: v for k, v in record.items() if k not in ('mode', 'iter')}
    return found


def _training_config(checkpoint: Mapping, path: str, config: Union[None, str, Config]) -> Config:
    saved = saved_config(checkpoint, path)
    if config is None:
        if saved is None:
            raise UsageError(f'{path!r} carries no training config (meta["config"]); give it with '
                             f'--config')
        return saved
    cfg = load_config(config) if not isinstance(config, Config) else config
    if saved is not None:
        reconcile_with_checkpoint(cfg, saved, path=path, use_checkpoint=True,
                                  reason='what the model was trained with')
    return cfg


def publish_model(checkpoint: str, out_dir: str, *,
                  config: Union[None, str, Config] = None) -> Dict[str, Any]:
    """Write ``out_dir/config.py``, ``model.safetensors`` and ``meta.json`` from ``checkpoint``.

    Args:
        checkpoint: a checkpoint file (or a work directory: its ``latest.pth``).
        out_dir: the folder to write (created if needed).
        config: the training config, where the checkpoint carries none (converted files); where
            it does, the two are compared and the checkpoint's clip settings win (one notice each).

    Returns:
        the ``meta.json`` written.
    """
    path = resolve_checkpoint_path(checkpoint, SOURCE)
    weights = read_checkpoint(path, SOURCE)
    cfg = _training_config(weights, path, config)
    cfg.model.pretrained = None
    model = build_segmentor(cfg.model)
    apply_checkpoint(model, weights, path, strict=True, source=SOURCE)
    meta = weights.get('meta') if isinstance(weights, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    text = meta.get('config') if config is None else cfg.pretty_text
    iteration = meta.get('iter')
    metrics = evaluated_metrics(os.path.dirname(os.path.realpath(path)), iteration)
    classes, palette = dataset_classes(cfg)
    test = cfg.get('data', {}).get('test', {}) or {}
    info = dict(mmseg_version=__version__,
                source_checkpoint=os.path.basename(os.path.realpath(path)), iteration=iteration,
                backbone=cfg.model.backbone.type, head=cfg.model.decode_head.type,
                num_classes=model.num_classes,
                classes=list(classes), palette=[list(c) for c in palette],
                num_frames=config_num_frames(cfg), dilation=config_dilation(cfg),
                test_size=test.get('test_size'), test_gap=test.get('test_gap'), metrics=metrics)
    written = write_published_model(out_dir, state_dict=model.state_dict(), config_text=text,
                                    meta=info)
    get_root_logger().info(f'published {path} to {out_dir} ({written["num_tensors"]} tensors, '
                           f'sha256 {written["weights_sha256"][:16]}...; metrics: '
                           f'{"iteration %s" % iteration if metrics else "none logged"})')
    return written
