"""Chain pipeline transforms."""
from typing import Any, Callable, Dict, List, Sequence, Union

from ..builder import PIPELINES

__all__ = ['Compose']


class Compose:
    """Apply transforms in order to a clip's ``results`` dict.

    Args:
        transforms: transform configs (dicts with a registered ``type``) or callables.
    """

    def __init__(self, transforms: Sequence[Union[Dict[str, Any], Callable]]) -> None:
        if isinstance(transforms, (str, dict)) or not isinstance(transforms, Sequence):
            raise TypeError(f'a pipeline must be a list of transform configs, got {transforms!r}')
        self.transforms: List[Callable] = []
        for transform in transforms:
            if isinstance(transform, dict):
                transform = PIPELINES.build(transform)
            elif not callable(transform):
                raise TypeError(f'a pipeline step must be a dict config or a callable, got '
                                f'{transform!r}')
            self.transforms.append(transform)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        for transform in self.transforms:
            results = transform(results)
        return results

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r}' for t in self.transforms)
        return f'{self.__class__.__name__}({inner}\n)'
