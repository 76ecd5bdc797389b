"""The training data stream: a pure function of (seed, global position), whatever the workers."""
import random

import numpy as np
import torch

from mmseg.core.runner.dataloader import SeededSampleStream, build_train_dataloader
from mmseg.datasets import collate_clips
from runner_toy import ToyClips


def first_batches(loader, count):
    iterator = iter(loader)
    return [next(iterator) for _ in range(count)]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (torch.equal(x['img'], y['img'])
                and torch.equal(x['gt_semantic_seg'], y['gt_semantic_seg']))
        assert x['img_metas'] == y['img_metas']


def test_same_stream_with_zero_and_two_workers_and_after_a_restart():
    dataset = ToyClips(length=7)
    zero = build_train_dataloader(dataset, collate_fn=collate_clips, samples_per_gpu=2,
                                  workers_per_gpu=0, seed=3)
    two = build_train_dataloader(dataset, collate_fn=collate_clips, samples_per_gpu=2,
                                 workers_per_gpu=2, seed=3)
    reference = first_batches(zero, 6)
    assert_same_batches(reference, first_batches(two, 6))
    restarted = build_train_dataloader(dataset, collate_fn=collate_clips, samples_per_gpu=2,
                                       workers_per_gpu=2, seed=3)
    restarted.sampler.set_start(4 * 2)  # resume at iteration 4
    assert_same_batches(reference[4:], first_batches(restarted, 2))
    other_seed = first_batches(build_train_dataloader(dataset, collate_fn=collate_clips,
                                                      samples_per_gpu=2, workers_per_gpu=0,
                                                      seed=4), 1)
    assert not torch.equal(other_seed[0]['img'], reference[0]['img'])


def test_each_epoch_is_a_permutation_split_across_ranks():
    dataset = ToyClips(length=10)
    streams = [SeededSampleStream(dataset, seed=0, rank=r, world_size=2) for r in (0, 1)]
    epochs = []
    for epoch in (0, 1):
        indices = [s.index_at(s.global_position(k)) for k in range(5 * epoch, 5 * epoch + 5)
                   for s in streams]
        assert sorted(indices) == list(range(10))
        epochs.append(indices)
    assert epochs[0] != epochs[1]


def test_two_ranks_see_what_one_process_with_double_batch_sees():
    dataset = ToyClips(length=10)
    single = first_batches(build_train_dataloader(dataset, collate_fn=collate_clips,
                                                  samples_per_gpu=4, workers_per_gpu=0, seed=0), 3)
    ranks = [first_batches(build_train_dataloader(dataset, collate_fn=collate_clips,
                                                  samples_per_gpu=2, workers_per_gpu=0, seed=0,
                                                  rank=r, world_size=2), 3) for r in (0, 1)]
    for it in range(3):
        interleaved = torch.stack([ranks[k % 2][it]['img'][k // 2] for k in range(4)])
        assert torch.equal(interleaved, single[it]['img'])


def test_loading_a_sample_leaves_the_global_rngs_alone():
    stream = SeededSampleStream(ToyClips(), seed=0)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    first = stream[5]
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert torch.equal(stream[5]['img'], first['img'])
