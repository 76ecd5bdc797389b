"""Seeding and RNG states that survive a weights_only checkpoint round trip."""
import random

import numpy as np
import torch

from mmseg.utils.seed import (
    get_rng_state,
    init_random_seed,
    preserved_rng_state,
    set_random_seed,
    set_rng_state,
)


def draw():
    return random.random(), float(np.random.rand()), np.random.randn(), float(torch.rand(1))


def test_state_round_trips_through_a_weights_only_file(tmp_path):
    set_random_seed(5)
    np.random.randn()  # leaves a cached gaussian in NumPy's state
    state = get_rng_state()
    torch.save(state, tmp_path / 'rng.pth')
    expected = draw()
    set_random_seed(6)
    set_rng_state(torch.load(tmp_path / 'rng.pth', weights_only=True))
    assert draw() == expected


def test_seed_is_reproducible_and_preserved_blocks_do_not_leak():
    set_random_seed(3)
    first = draw()
    set_random_seed(3)
    with preserved_rng_state():
        draw()
    assert draw() == first
    assert init_random_seed(11) == 11 and isinstance(init_random_seed(), int)


def test_deterministic_mode_flags(monkeypatch):
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    try:
        set_random_seed(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert __import__('os').environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
