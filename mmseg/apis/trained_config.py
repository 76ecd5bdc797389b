"""The config a model was trained with, read back from its checkpoint, and checked against another.

Every checkpoint a training run writes keeps the run's merged config as text (``meta['config']``).
Inference needs some of it: a stage-2 model trained with ``data.train.dataset.dilation=[-3]`` and
two-frame clips must see the same reference frame online, whatever the config file given with it
says. So, where a config and such a checkpoint meet, the keys that define the model and its clips
are compared:

- **model keys** (:data:`MODEL_KEYS`: backbone variant, head type, number of classes): a difference
  is an error naming the key and both values (the weights would not fit);
- **clip settings** (:data:`CLIP_SETTINGS`: frames per training clip, training dilation, class names
  and palette): one notice per key with both values and the one used. Inference uses the
  checkpoint's (what the model was trained with); ``tools/test.py`` keeps the config's, as the
  original does, and says so.

Checkpoints without a saved config (converted files, bare state dicts) are used with the given
config as they are; so are those whose saved config cannot be read (with a notice).
"""
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..datasets.builder import DATASETS
from ..utils.config import Config
from ..utils.config_variables import MISSING, lookup
from ..utils.errors import ConfigError
from ..utils.logger import get_root_logger

__all__ = ['MODEL_KEYS', 'CLIP_SETTINGS', 'saved_config', 'reconcile_with_checkpoint',
           'config_dilation', 'config_num_frames', 'dataset_classes']

MODEL_KEYS = ('model.backbone.type', 'model.decode_head.type', 'model.decode_head.num_classes')


def _train_dataset_node(cfg: Mapping, key: str) -> Optional[Mapping]:
    """The training dataset config that holds ``key`` (wrappers followed through ``dataset``)."""
    node = (cfg.get('data') or {}).get('train') if cfg is not None else None
    while node:
        if node.get(key) is not None:
            return node
        node = node.get('dataset')
    return None


def config_dilation(cfg: Optional[Mapping]) -> Optional[List[int]]:
    """``dilation`` of the config's training dataset (followed through wrappers), or None."""
    node = _train_dataset_node(cfg, 'dilation')
    return None if node is None else [int(d) for d in node['dilation']]


def config_num_frames(cfg: Optional[Mapping]) -> Optional[int]:
    """Frames per training clip of the config's decoder, or None."""
    value = (lookup(cfg, 'model.decode_head.transformer_decoder_cfg.num_frames')
             if cfg is not None else MISSING)
    return None if value is MISSING else value


def dataset_classes(cfg: Mapping) -> Tuple[Tuple[str, ...], Tuple[Tuple[int, int, int], ...]]:
    """(class names, RGB palette) of the config's test dataset.

    The dataset config's ``classes``/``palette`` keys win, then the dataset class's ``CLASSES``/
    ``PALETTE`` (wrappers are followed through ``dataset``), else VSPW's.
    """
    from ..datasets.vspw import VSPW_CLASSES, VSPW_PALETTE, _grid_palette
    data = cfg.get('data', {}) if hasattr(cfg, 'get') else {}
    node = data.get('test') or {}
    classes = palette = None
    while node:
        classes = classes if classes is not None else node.get('classes')
        palette = palette if palette is not None else node.get('palette')
        kind = node.get('type')
        if kind in DATASETS:
            cls = DATASETS.get(kind)
            classes = classes if classes is not None else getattr(cls, 'CLASSES', None)
            palette = palette if palette is not None else getattr(cls, 'PALETTE', None)
        node = node.get('dataset') if classes is None or palette is None else None
    classes = tuple(classes) if classes is not None else tuple(VSPW_CLASSES)
    if palette is None:
        palette = VSPW_PALETTE if len(classes) <= len(VSPW_PALETTE) else None
    if palette is None or len(palette) < len(classes):
        palette = _grid_palette(len(classes))
    return classes, tuple(tuple(int(v) for v in colour) for colour in palette)


def _set_dilation(cfg: Config, value: List[int]) -> None:
    node = _train_dataset_node(cfg, 'dilation')
    if node is not None:
        node['dilation'] = list(value)


def _set_num_frames(cfg: Config, value: int) -> None:
    cfg.model.decode_head.transformer_decoder_cfg.num_frames = value


# name -> (how to read it from a config, how to set it there (None: the caller uses the value),
# the key named in the notice)
Setting = Tuple[Callable[[Mapping], Any], Optional[Callable[[Config, Any], None]], str]
CLIP_SETTINGS: Dict[str, Setting] = {
    'num_frames': (config_num_frames, _set_num_frames,
                   'model.decode_head.transformer_decoder_cfg.num_frames'),
    'dilation': (config_dilation, _set_dilation, 'data.train...dilation'),
    # the labels' names and colours: init_segmentor sets model.CLASSES / PALETTE from
    # the checkpoint's
    'classes': (lambda c: dataset_classes(c)[0], None, 'data.test classes'),
    'palette': (lambda c: dataset_classes(c)[1], None, 'data.test palette'),
}


def saved_config(checkpoint: Any, path: str) -> Optional[Config]:
    """The training config a checkpoint read from ``path`` carries (``meta['config']``), or None."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    text = meta.get('config') if isinstance(meta, Mapping) else None
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return Config.fromstring(text, '.py')
    except Exception as err:  # a damaged or foreign meta entry: the weights are still usable
        get_root_logger().warning(f'{path}: the training config saved in its meta cannot be read '
                                  f'({type(err).__name__}: {err}); using the config given with it')
        return None


def _short(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else text[:57] + '...'


def reconcile_with_checkpoint(cfg: Config, saved: Config, *, path: str, use_checkpoint: bool,
                              reason: str, strict: bool = True) -> List[str]:
    """Compare ``cfg`` with the checkpoint's ``saved`` config; return the clip settings that differ.

    Args:
        cfg: the config given with the checkpoint; with ``use_checkpoint`` its clip settings are
            set to the checkpoint's, in place.
        saved: the training config from :func:`saved_config`.
        path: the checkpoint, named in the messages.
        use_checkpoint: use the checkpoint's clip settings (inference) or keep the config's
            (``tools/test.py``).
        reason: why that side is used, ending the notice (``'what the model was trained with'``).
        strict: a model key that differs is an error; without, a warning (for a partial load).

    Raises:
        ConfigError: with ``strict``, a key of :data:`MODEL_KEYS` differs (the weights cannot fit
            the config).
    """
    logger = get_root_logger()
    for key in MODEL_KEYS:
        mine, theirs = lookup(cfg, key), lookup(saved, key)
        if MISSING not in (mine, theirs) and mine != theirs:
            message = (f'{key} is {mine!r} in the config but {theirs!r} in the training config of '
                       f'the checkpoint {path!r}: they describe different models')
            if strict:
                raise ConfigError(f'{message}; use the config the checkpoint was trained with')
            logger.warning(f'{message}; loading what fits (partial load)')
    differing = []
    for name, (read, write, key) in CLIP_SETTINGS.items():
        mine, theirs = read(cfg), read(saved)
        if theirs is None or theirs is MISSING or mine == theirs:
            continue
        differing.append(name)
        used = theirs if use_checkpoint else mine
        if use_checkpoint and write is not None:
            write(cfg, theirs)
        side = 'checkpoint' if use_checkpoint else 'config'
        logger.warning(f'{key} differs: config {_short(mine)}, checkpoint {_short(theirs)} '
                       f'({path}); using the {side}\'s {_short(used)} ({reason})')
    return differing
