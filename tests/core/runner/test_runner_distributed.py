"""Two gloo processes train the toy model through DDP and the runner and end with the same
weights."""
import os
import time

import pytest
import torch
import torch.multiprocessing as mp

from mmseg.core.runner import build_runner, build_train_dataloader
from mmseg.datasets import collate_clips
from mmseg.utils.checkpoint import read_checkpoint
from mmseg.utils.dist_utils import close_dist, init_dist, unwrap_model, wrap_model
from mmseg.utils.seed import set_random_seed
from ports import free_port
from runner_toy import ToyClips, ToySegmentor, toy_config

NAN_AT = 2  # a NaN loss on rank 1 only: both ranks must skip that step together


def config():
    return toy_config(max_iters=4, interval=2, nonfinite_loss='skip')


def _worker(rank, world_size, port, out_dir):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    init_dist('pytorch', backend='nccl')  # no CUDA here: gloo
    set_random_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    model = ToySegmentor(nan_at=NAN_AT if rank == 1 else None, dropout=0.0)
    model = wrap_model(model, distributed=True, device=torch.device('cpu'),
                       find_unused_parameters=True)
    runner = build_runner(config(), model=model, work_dir=out_dir)
    runner.run(build_train_dataloader(ToyClips(), collate_fn=collate_clips, samples_per_gpu=2,
                                      workers_per_gpu=0, seed=0, rank=rank, world_size=world_size))
    torch.save({'state_dict': unwrap_model(model).state_dict(),
                'skipped': runner.nonfinite_skipped},
               os.path.join(out_dir, f'rank{rank}.pt'))
    close_dist()  # barrier first: a rank that leaves early can abort in gloo's threads


@pytest.mark.slow  # two processes (gloo)
def test_two_process_gloo_ddp_matches_one_process_with_the_whole_batch(tmp_path):
    context = mp.start_processes(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2,
                                 join=False, start_method='spawn')
    deadline = time.time() + 240
    try:
        while not context.join(timeout=5):
            assert time.time() < deadline, 'the distributed run did not finish in time'
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in (0, 1)]
    assert ranks[0]['skipped'] == ranks[1]['skipped'] == 1
    for key, value in ranks[0]['state_dict'].items():
        assert torch.equal(value, ranks[1]['state_dict'][key]), key
    saved = read_checkpoint(str(tmp_path / 'iter_4.pth'))
    assert saved['meta']['world_size'] == 2 and len(saved['meta']['rng_states']) == 2

    set_random_seed(0)  # rank 0's initial weights
    single = ToySegmentor(nan_at=NAN_AT, dropout=0.0)
    runner = build_runner(config(), model=single, work_dir=str(tmp_path / 'single'))
    runner.run(build_train_dataloader(ToyClips(), collate_fn=collate_clips, samples_per_gpu=4,
                                      workers_per_gpu=0, seed=0))
    for key, value in single.state_dict().items():
        assert torch.allclose(value, ranks[0]['state_dict'][key], rtol=1e-5, atol=1e-6), key
