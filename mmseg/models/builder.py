"""Model registries and the ``build_*`` helpers of mmseg 0.x."""
from typing import Any, Dict, Optional

from ..utils.registry import Registry

BACKBONES = Registry('backbone')
HEADS = Registry('head')
SEGMENTORS = Registry('segmentor')
LOSSES = Registry('loss')
PIXEL_DECODERS = Registry('pixel decoder')
TRANSFORMER_DECODERS = Registry('transformer decoder')


def build_backbone(cfg: Dict[str, Any]) -> Any:
    """Build a backbone (``mit_b0`` ... ``mit_b5``)."""
    return BACKBONES.build(cfg)


def build_head(cfg: Dict[str, Any]) -> Any:
    """Build a decode head (``THEMask1fHead``, ``THEMaskHead``)."""
    return HEADS.build(cfg)


def build_segmentor(cfg: Dict[str, Any], train_cfg: Optional[Dict[str, Any]] = None,
                    test_cfg: Optional[Dict[str, Any]] = None) -> Any:
    """Build a segmentor; ``train_cfg``/``test_cfg`` may be given here or inside ``cfg``."""
    cfg = dict(cfg)
    for name, value in (('train_cfg', train_cfg), ('test_cfg', test_cfg)):
        if value is not None:
            if cfg.get(name) is not None:
                raise ValueError(f'{name} is given both as an argument and in the model config')
            cfg[name] = value
    return SEGMENTORS.build(cfg)
