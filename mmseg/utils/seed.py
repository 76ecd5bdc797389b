"""Seeding, and saving/restoring the global random number generators.

The RNG state is kept as tensors and plain Python values, so it can be stored in a checkpoint that
loads with ``torch.load(..., weights_only=True)``.
"""
import contextlib
import os
import random
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch

from .dist_utils import broadcast_object

__all__ = ['set_random_seed', 'init_random_seed', 'seed_cpu_rngs', 'get_rng_state', 'set_rng_state',
           'preserved_rng_state']


def set_random_seed(seed: int, deterministic: bool = False, warn_only: bool = True) -> None:
    """Seed python ``random``, ``np.random`` and torch (CPU and every CUDA device).

    Args:
        seed: the seed (the training script passes ``seed + rank``).
        deterministic: also ask for deterministic algorithms:
            ``torch.use_deterministic_algorithms``, cuDNN deterministic without benchmarking, and
            ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (unless already set).
        warn_only: with ``deterministic``, an operation that has no deterministic implementation
            warns instead of raising (``grid_sample``'s CUDA backward, used by the deformable
            attention reference, is one).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        torch.use_deterministic_algorithms(True, warn_only=warn_only)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def init_random_seed(seed: Optional[int] = None) -> int:
    """Return ``seed``, or a fresh random seed chosen by rank 0 and shared with every process."""
    if seed is not None:
        return seed
    return broadcast_object(int(np.random.SeedSequence().generate_state(1)[0]))


def seed_cpu_rngs(seed_words: np.ndarray) -> None:
    """Seed python ``random``, ``np.random`` and torch's CPU generator from 4 uint32 words.

    CUDA generators are left alone: data pipelines run on the CPU, and the model's CUDA randomness
    must not depend on how samples are loaded.
    """
    words = [int(w) for w in seed_words]
    random.seed(words[0] << 32 | words[1])
    np.random.seed(np.asarray(seed_words, dtype=np.uint32))
    torch.default_generator.manual_seed(words[2] << 32 | words[3])


def get_rng_state(include_cuda: bool = True) -> Dict[str, Any]:
    """The state of python ``random``, ``np.random``, torch CPU and (when in use) CUDA RNGs."""
    version, internal, gauss_next = random.getstate()
    bit_generator, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        'python': [version, torch.tensor(internal, dtype=torch.int64), gauss_next],
        'numpy': [bit_generator, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                  float(cached_gaussian)],
        'torch': torch.get_rng_state(),
    }
    if include_cuda and torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal.tolist()), gauss_next))
    bit_generator, keys, pos, has_gauss, cached_gaussian = state['numpy']
    np.random.set_state((bit_generator, keys.numpy().astype(np.uint32), pos, has_gauss,
                         cached_gaussian))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@contextlib.contextmanager
def preserved_rng_state(include_cuda: bool = True) -> Iterator[None]:
    """Run a block without changing the global RNGs (CUDA ones too if ``include_cuda``)."""
    state = get_rng_state(include_cuda)
    try:
        yield
    finally:
        set_rng_state(state)
