"""Samplers for distributed testing."""
from typing import Iterator, List, Optional

from torch.utils.data import Sampler

from ..utils.dist_utils import get_dist_info

__all__ = ['DistributedVideoSampler']


class DistributedVideoSampler(Sampler):
    """Give each process whole videos, so that a video's frames are all predicted in one process
    (the streaming VC metric needs that).

    Videos go, largest first (by number of items; ties in split order), to the process with the
    fewest items so far (ties to the lowest rank); each process then visits its items in dataset
    order. The assignment depends only on the dataset and the number of processes. Processes may
    get different numbers of items.

    Args:
        dataset: provides ``items_by_video()`` -> list of (video, item indices).
        num_replicas, rank: default to torch.distributed's world size and rank.
    """

    def __init__(self, dataset, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None) -> None:
        if not hasattr(dataset, 'items_by_video'):
            raise TypeError(f'DistributedVideoSampler needs a dataset with items_by_video() (a '
                            f'test dataset such as VSPWDataset_multiFrameTest), got '
                            f'{type(dataset).__name__}')
        default_rank, default_world = get_dist_info()
        self.num_replicas = default_world if num_replicas is None else num_replicas
        self.rank = default_rank if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f'rank {self.rank} is not in [0, {self.num_replicas})')
        groups = [items for _, items in dataset.items_by_video()]
        order = sorted(range(len(groups)), key=lambda g: (-len(groups[g]), g))
        loads = [0] * self.num_replicas
        mine: List[int] = []
        for g in order:
            target = min(range(self.num_replicas), key=lambda r: (loads[r], r))
            loads[target] += len(groups[g])
            if target == self.rank:
                mine.extend(groups[g])
        self.indices = sorted(mine)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
