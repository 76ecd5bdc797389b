"""Distributed helpers outside a process group, and the launchers' environment handling."""
import os

import pytest
import torch
from torch import nn

from mmseg.utils import dist_utils
from mmseg.utils.dist_utils import (
    all_gather_object,
    get_dist_info,
    init_dist,
    reduce_mean,
    unwrap_model,
    wrap_model,
)


def test_single_process_defaults():
    assert get_dist_info() == (0, 1)
    value = torch.tensor([1.0, 3.0])
    reduced = reduce_mean(value)
    assert torch.equal(reduced, value) and reduced is not value
    assert all_gather_object({'a': 1}) == [{'a': 1}]
    model = nn.Linear(2, 2)
    assert wrap_model(model, distributed=False, device=torch.device('cpu')) is model
    assert unwrap_model(model) is model


def test_launchers_name_what_is_missing(monkeypatch):
    for var in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'SLURM_PROCID'):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="unknown launcher 'mpi'"):
        init_dist('mpi')
    with pytest.raises(RuntimeError, match='RANK, LOCAL_RANK, WORLD_SIZE.*torchrun'):
        init_dist('pytorch')
    with pytest.raises(RuntimeError, match='SLURM_PROCID.*srun'):
        init_dist('slurm')


def test_slurm_variables_become_torchrun_ones(monkeypatch):
    monkeypatch.setenv('SLURM_PROCID', '5')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01-02]')
    monkeypatch.setenv('MASTER_ADDR', 'node01')  # otherwise read from `scontrol show hostnames`
    for var in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_PORT'):
        monkeypatch.setenv(var, '')  # recorded, so that what _slurm_env sets is undone afterwards
        monkeypatch.delenv(var)
    dist_utils._slurm_env(port=None)
    assert ((os.environ['RANK'], os.environ['LOCAL_RANK'], os.environ['WORLD_SIZE'])
            == ('5', '1', '8'))
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == ('node01', '29500')
