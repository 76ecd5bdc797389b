"""Dataset wrappers."""
from typing import Any, Dict, Union

from torch.utils.data import Dataset

from .builder import DATASETS, build_dataset

__all__ = ['RepeatDataset']


@DATASETS.register_module()
class RepeatDataset(Dataset):
    """``dataset`` (a dataset or its config) repeated ``times`` times: item i is
    ``dataset[i % len(dataset)]``.

    ``CLASSES`` and ``PALETTE`` are those of the wrapped dataset.
    """

    def __init__(self, dataset: Union[Dataset, Dict[str, Any]], times: int) -> None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f'RepeatDataset times must be a positive integer, got {times!r}')
        self.dataset = build_dataset(dataset) if isinstance(dataset, dict) else dataset
        self.times = times
        self.CLASSES = getattr(self.dataset, 'CLASSES', None)
        self.PALETTE = getattr(self.dataset, 'PALETTE', None)

    def __len__(self) -> int:
        return self.times * len(self.dataset)

    def __getitem__(self, idx: int) -> Any:
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for RepeatDataset of length {len(self)}')
        return self.dataset[idx % len(self.dataset)]

