"""Test-time augmentation over scales and flips."""
from typing import Any, Dict, List, Optional, Sequence

from ..builder import PIPELINES
from .compose import Compose

__all__ = ['MultiScaleFlipAug_clips']


@PIPELINES.register_module()
class MultiScaleFlipAug_clips:
    """Run ``transforms`` once per (scale, flip) and return every output key as a list over them.

    The order is: for each scale, no flip then (with ``flip``) flip. The transforms read
    ``results['scale']``, ``results['flip']`` and ``results['flip_direction']``.

    Args:
        transforms: the per-augmentation transforms (ending with ``Collect_clips``).
        img_scale: (w, h), or a list of them.
        img_ratios: ratios applied to a single ``img_scale`` (``--aug-test`` uses
            [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]).
        flip: also run every scale flipped.
        flip_direction: ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, transforms: Sequence[Dict[str, Any]], img_scale: Sequence,
                 img_ratios: Optional[Sequence[float]] = None, flip: bool = False,
                 flip_direction: str = 'horizontal') -> None:
        self.transforms = Compose(transforms)
        scales = ([tuple(img_scale)] if isinstance(img_scale[0], (int, float))
                  else [tuple(s) for s in img_scale])
        if img_ratios is not None:
            if len(scales) != 1:
                raise ValueError(f'img_ratios needs a single img_scale, got {img_scale!r}')
            scales = [(int(scales[0][0] * r), int(scales[0][1] * r)) for r in img_ratios]
        self.img_scale: List[tuple] = scales
        self.flip = flip
        self.flip_direction = flip_direction

    def __call__(self, results: Dict[str, Any]) -> Dict[str, List[Any]]:
        outputs = []
        for scale in self.img_scale:
            for flip in ([False, True] if self.flip else [False]):
                aug = {k: (list(v) if isinstance(v, list) else v) for k, v in results.items()}
                aug.update(scale=scale, flip=flip, flip_direction=self.flip_direction)
                outputs.append(self.transforms(aug))
        return {key: [out[key] for out in outputs] for key in outputs[0]}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.transforms!r}, '
                f'img_scale={self.img_scale}, flip={self.flip}, '
                f'flip_direction={self.flip_direction!r})')
