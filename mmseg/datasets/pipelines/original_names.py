"""The original's names of five pipeline steps, accepted so that its config files run unchanged.

The original code kept mmseg 0.x's names for the steps that load a frame (``LoadImageFromFile``,
``LoadAnnotations``), resize a clip (``Resize`` with ``process_clips=True``), collect the model's
inputs (``Collect``) and run test-time augmentation (``MultiScaleFlipAug``); its other steps already
had the ``_clips`` names used here. Each old name builds our step, with the old arguments mapped
(listed below) and one log line, the first time in a process, naming the step it stands for.

- ``LoadImageFromFile(to_float32, imdecode_backend, color_type, file_client_args)`` ->
  ``LoadImageFromFile_clips(to_float32, backend=imdecode_backend)``; ``color_type`` must be
  ``'color'`` and the file client the local disk.
- ``LoadAnnotations(reduce_zero_label, imdecode_backend, file_client_args)`` ->
  ``LoadAnnotations_clips(reduce_zero_label)``, whose default here is the original's ``False``.
- ``Resize(img_scale, ratio_range, keep_ratio, multiscale_mode, process_clips=True)`` ->
  ``Resize_clips(img_scale, ratio_range, keep_ratio)``: one scale per clip (``multiscale_mode`` has
  no effect with one scale); without ``process_clips=True`` it is an error.
- ``Collect(keys, meta_keys)`` -> ``Collect_clips(keys, meta_keys)`` with the listed metas (mmseg's
  default list when not given) followed by the ones this code reads.
- ``MultiScaleFlipAug(transforms, img_scale, img_ratios, flip, flip_direction)`` ->
  ``MultiScaleFlipAug_clips`` with the same arguments.
"""
from typing import Any, Dict, Iterable

from ...utils.errors import ConfigError
from ..builder import PIPELINES
from .formatting import DEFAULT_META_KEYS

__all__ = ['ORIGINAL_NAMES', 'ORIGINAL_COLLECT_META_KEYS']

# mmseg 0.x's Collect default
ORIGINAL_COLLECT_META_KEYS = ('filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape',
                              'scale_factor', 'flip', 'flip_direction', 'img_norm_cfg')


def _check_keys(name: str, args: Dict[str, Any], accepted: Iterable[str]) -> None:
    unknown = sorted(set(args) - set(accepted))
    if unknown:
        raise ConfigError(f'pipeline step {name!r} (the original\'s name): unknown argument(s) '
                          f'{unknown}; it takes {sorted(accepted)}')


def _only(name: str, key: str, value: Any, allowed: Iterable[Any], why: str) -> None:
    if value not in allowed:
        raise ConfigError(f'pipeline step {name!r}: {key}={value!r} is not supported ({why}); '
                          f'expected {" or ".join(repr(a) for a in allowed)}')


def _file_client(name: str, args: Dict[str, Any]) -> None:
    client = args.get('file_client_args', dict(backend='disk'))
    _only(name, 'file_client_args', dict(client), [dict(backend='disk')],
          'files are read from the local disk')


def _load_image(args: Dict[str, Any]) -> Dict[str, Any]:
    name = 'LoadImageFromFile'
    _check_keys(name, args, ('to_float32', 'color_type', 'file_client_args', 'imdecode_backend'))
    _only(name, 'color_type', args.get('color_type', 'color'), ['color'], 'frames are read as BGR')
    _file_client(name, args)
    backend = args.get('imdecode_backend', 'cv2')
    _only(name, 'imdecode_backend', backend, ['cv2', 'pillow'], 'the decoders here')
    return dict(to_float32=args.get('to_float32', False), backend=backend)


def _load_annotations(args: Dict[str, Any]) -> Dict[str, Any]:
    name = 'LoadAnnotations'
    _check_keys(name, args, ('reduce_zero_label', 'file_client_args', 'imdecode_backend'))
    _file_client(name, args)
    # label maps are read with their stored values whichever decoder the original named
    _only(name, 'imdecode_backend', args.get('imdecode_backend', 'pillow'), ['pillow', 'cv2'],
          'the decoders here')
    return dict(reduce_zero_label=args.get('reduce_zero_label', False))


def _resize(args: Dict[str, Any]) -> Dict[str, Any]:
    name = 'Resize'
    _check_keys(name, args, ('img_scale', 'multiscale_mode', 'ratio_range', 'keep_ratio',
                             'process_clips'))
    if not args.get('process_clips', False):
        raise ConfigError("pipeline step 'Resize' without process_clips=True is the original's "
                          "resize of a single image, which does not take clips; write "
                          "process_clips=True (one scale for the whole clip) or use Resize_clips")
    _only(name, 'multiscale_mode', args.get('multiscale_mode', 'range'), ['range', 'value'],
          "mmseg's modes")
    out = {key: args[key] for key in ('img_scale', 'ratio_range', 'keep_ratio') if key in args}
    scale = out.get('img_scale')
    if isinstance(scale, list) and scale and isinstance(scale[0], (list, tuple)):
        if len(scale) != 1:
            raise ConfigError(f'pipeline step {name!r}: img_scale={scale!r} lists several scales '
                              f'(sampled per clip in the original), which Resize_clips does not '
                              f'do; give one scale and a ratio_range')
        out['img_scale'] = scale[0]
    return out


def _collect(args: Dict[str, Any]) -> Dict[str, Any]:
    name = 'Collect'
    _check_keys(name, args, ('keys', 'meta_keys'))
    if 'keys' not in args:
        raise ConfigError(f"pipeline step {name!r} needs keys, e.g. keys=['img', "
                          f"'gt_semantic_seg']")
    listed = tuple(args.get('meta_keys', ORIGINAL_COLLECT_META_KEYS))
    return dict(keys=args['keys'], meta_keys=listed + tuple(k for k in DEFAULT_META_KEYS
                                                            if k not in listed))


def _multi_scale_flip_aug(args: Dict[str, Any]) -> Dict[str, Any]:
    name = 'MultiScaleFlipAug'
    _check_keys(name, args, ('transforms', 'img_scale', 'img_ratios', 'flip', 'flip_direction'))
    if args.get('img_scale') is None:
        raise ConfigError(f'pipeline step {name!r} needs img_scale here (scales relative to each '
                          f'frame are not supported), e.g. img_scale=(853, 480)')
    out = dict(args)
    if isinstance(out.get('img_ratios'), (int, float)):
        out['img_ratios'] = [float(out['img_ratios'])]
    direction = out.get('flip_direction', 'horizontal')
    if isinstance(direction, (list, tuple)):
        if len(direction) != 1:
            raise ConfigError(f'pipeline step {name!r}: flip_direction={direction!r} lists several '
                              f'directions; MultiScaleFlipAug_clips takes one')
        out['flip_direction'] = direction[0]
    return out


# original name -> (our name, argument translation, what the notice adds)
ORIGINAL_NAMES: Dict[str, tuple] = {
    'LoadImageFromFile': ('LoadImageFromFile_clips', _load_image, ''),
    'LoadAnnotations': ('LoadAnnotations_clips', _load_annotations, ''),
    'Resize': ('Resize_clips', _resize, ' (process_clips=True: one scale per clip)'),
    'Collect': ('Collect_clips', _collect, ' (meta_keys: the listed metas and ours)'),
    'MultiScaleFlipAug': ('MultiScaleFlipAug_clips', _multi_scale_flip_aug, ''),
}


for _alias, (_target, _translate, _detail) in ORIGINAL_NAMES.items():
    PIPELINES.add_alias(_alias, target=_target, translate=_translate,
                        notice=f"pipeline step {_alias!r} is the original's name for {_target!r}"
                               f"{_detail}; using it")
