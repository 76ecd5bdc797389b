"""The build-time check that the dataset's classes and the model's head agree."""
from typing import Any, Mapping

from torch import nn

from ..utils.errors import ConfigError

__all__ = ['check_num_classes']


def check_num_classes(model: nn.Module, dataset: Any, cfg: Mapping[str, Any], *,
                      what: str = 'data.train') -> None:
    """Raise :class:`ConfigError` naming both counts and the keys to set when the head's
    ``num_classes`` differs from the number of classes of ``dataset`` (its ``CLASSES``)."""
    head = getattr(model, 'decode_head', None)
    head_classes = getattr(head, 'num_classes', getattr(model, 'num_classes', None))
    classes = getattr(dataset, 'CLASSES', None)
    if head_classes is None or classes is None or len(classes) == head_classes:
        return
    keys = ['model.decode_head.num_classes']
    decoder = ((cfg.get('model', {}).get('decode_head', {}) or {})
               .get('transformer_decoder_cfg') or {})
    if 'num_classes' in decoder:
        keys.append('model.decode_head.transformer_decoder_cfg.num_classes')
    raise ConfigError(
        f'the dataset ({what}) has {len(classes)} classes but the model head has num_classes='
        f'{head_classes}; set {" and ".join(f"{k}={len(classes)}" for k in keys)} (or num_classes='
        f'{len(classes)} with --options), or give the dataset the head\'s {head_classes} classes')
