"""The training data stream: an endless, reproducible sequence of samples per process.

Process ``rank`` of ``world_size`` reads positions ``k = 0, 1, 2, ...`` of its own stream; batch
``i`` holds positions ``i * samples_per_gpu ... (i + 1) * samples_per_gpu - 1``. Position ``k`` is
global sample ``g = k * world_size + rank`` (the processes interleave, so together they read the
global stream in order). Global sample ``g`` lies in epoch ``e = g // len(dataset)``; its dataset
index is entry ``g % len(dataset)`` of a permutation seeded with ``(seed, e)``, and python
``random``, ``np.random`` and torch's CPU generator are seeded from ``(seed, g)`` just before
``dataset[index]`` runs (and restored after it).

So a sample, augmentation included, is a pure function of ``(seed, g)``: the stream is the same for
any number of dataloader workers, continues exactly after a resume at any iteration
(:meth:`InfiniteSampler.set_start`, called by the runner), and ``world_size`` processes with
``samples_per_gpu=b`` see the same samples as one process with ``world_size * b``.
"""
from typing import Any, Callable, Iterator, List, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ...utils.seed import preserved_rng_state, seed_cpu_rngs

__all__ = ['InfiniteSampler', 'SeededSampleStream', 'build_train_dataloader']

_PERMUTATION, _SAMPLE = 0, 1  # domains of the seed tree, so the two kinds of seeds never collide


class InfiniteSampler(Sampler[int]):
    """Yields stream positions ``start, start + 1, ...`` without end."""

    def __init__(self, start: int = 0) -> None:
        self.start = start

    def set_start(self, start: int) -> None:
        """Continue the stream at position ``start`` (the next iterator starts there)."""
        if start < 0:
            raise ValueError(f'a stream position cannot be negative, got {start}')
        self.start = start

    def __iter__(self) -> Iterator[int]:
        position = self.start
        while True:
            yield position
            position += 1


class SeededSampleStream(Dataset):
    """Maps stream position ``k`` of process ``rank`` to a freshly seeded ``dataset[index]``.

    Args:
        dataset: the training dataset (any map-style dataset with ``__len__``).
        seed: the shared seed of the data stream (the same on every process).
        rank: this process's rank.
        world_size: the number of processes.
    """

    def __init__(self, dataset: Dataset, *, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if len(dataset) == 0:
            raise ValueError(f'the training dataset {type(dataset).__name__} is empty')
        if not 0 <= rank < world_size:
            raise ValueError(f'rank {rank} is not in [0, world_size={world_size})')
        if seed < 0:
            raise ValueError(f'the data seed must be >= 0, got {seed}')
        self.dataset = dataset
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self._cached_epoch = -1
        self._cached_permutation = np.empty(0, dtype=np.int64)

    def _seed_sequence(self, domain: int, value: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(domain, value))

    def permutation(self, epoch: int) -> np.ndarray:
        """The dataset order of ``epoch`` (the same on every process)."""
        if epoch != self._cached_epoch:
            rng = np.random.default_rng(self._seed_sequence(_PERMUTATION, epoch))
            self._cached_permutation = rng.permutation(len(self.dataset))
            self._cached_epoch = epoch
        return self._cached_permutation

    def global_position(self, position: int) -> int:
        """The place of this process's stream position ``position`` in the global stream."""
        return position * self.world_size + self.rank

    def index_at(self, global_position: int) -> int:
        """The dataset index that global sample ``global_position`` reads."""
        epoch, offset = divmod(global_position, len(self.dataset))
        return int(self.permutation(epoch)[offset])

    def __getitem__(self, position: int) -> Any:
        global_position = self.global_position(position)
        index = self.index_at(global_position)
        with preserved_rng_state(include_cuda=False):
            seed_cpu_rngs(self._seed_sequence(_SAMPLE, global_position).generate_state(4))
            return self.dataset[index]


def build_train_dataloader(dataset: Dataset, *, samples_per_gpu: int, workers_per_gpu: int,
                           seed: int, collate_fn: Callable[[List[Any]], Any], rank: int = 0,
                           world_size: int = 1, pin_memory: bool = False,
                           worker_init_fn: Optional[Callable[[int], None]] = None) -> DataLoader:
    """An endless loader over :class:`SeededSampleStream` for :meth:`IterBasedRunner.run`.

    Args:
        dataset: the training dataset.
        samples_per_gpu: the batch size of each process.
        workers_per_gpu: dataloader worker processes (0: load in the main process); the samples do
            not depend on it.
        seed: the shared data seed (the same on every process; not ``seed + rank``).
        rank: this process's rank; world_size: the number of processes.
        collate_fn: turns a list of samples into a batch (``mmseg.datasets.collate_clips``).
        pin_memory: pin batches in page-locked memory (faster host-to-GPU copies).
        worker_init_fn: called in each worker process at start (e.g. to limit its threads).
    """
    stream = SeededSampleStream(dataset, seed=seed, rank=rank, world_size=world_size)
    return DataLoader(
        stream, batch_size=samples_per_gpu, sampler=InfiniteSampler(), num_workers=workers_per_gpu,
        collate_fn=collate_fn, pin_memory=pin_memory,
        worker_init_fn=worker_init_fn if workers_per_gpu else None,
        # The loader draws its workers' base seed from this generator instead of the global one,
        # so creating the iterator does not change the training RNG stream.
        generator=torch.Generator().manual_seed(seed))
