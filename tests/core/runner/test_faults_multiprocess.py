"""Faults with several processes (gloo on CPU, the toy model through DDP and the runner).

- a rank killed mid-training: the other stops within dist_params.timeout with a LostProcessError
  naming the lost rank; latest.pth loads and a resume ends with the weights of an uninterrupted run;
- a resume with another number of processes continues the global data stream (documented in the
  README) and says that it is not bit-identical;
- a checkpoint write failing midway (ENOSPC) leaves every earlier checkpoint byte-identical and
  latest.pth loadable, with a clear error;
- a truncated checkpoint: --resume-from FILE names it, --resume-from DIR takes the newest loadable.
"""
import errno
import os
import signal
import time

import pytest
import torch
import torch.multiprocessing as mp

from mmseg.core.runner import Hook, build_runner, build_train_dataloader
from mmseg.core.runner.runner import stream_start
from mmseg.datasets import collate_clips
from mmseg.utils.checkpoint import LATEST, read_checkpoint
from mmseg.utils.dist_utils import close_dist, init_dist, wrap_model
from mmseg.utils.errors import CheckpointError, LostProcessError
from mmseg.utils.seed import set_random_seed
from ports import free_port
from runner_toy import ToyClips, ToySegmentor, toy_config

TIMEOUT = 20  # dist_params.timeout in seconds
KILLED_EXIT = 3


class KillAt(Hook):
    """Send ``sig`` to this process right after iteration ``at``: SIGKILL is a lost rank (as the OOM
    killer does it), SIGSTOP a hung one."""
    priority = 90

    def __init__(self, at, sig=signal.SIGKILL):
        self.at, self.sig = at, sig

    def after_train_iter(self, runner):
        if runner.iter == self.at:
            os.kill(os.getpid(), self.sig)


def make_runner(work_dir, *, max_iters, distributed, resume_from=None, timeout=TIMEOUT):
    set_random_seed(0)
    model = wrap_model(ToySegmentor(dropout=0.0), distributed=distributed,
                       device=torch.device('cpu'), find_unused_parameters=True)
    cfg = toy_config(max_iters=max_iters, interval=2)
    cfg['dist_params'] = dict(backend='gloo', timeout=timeout)
    runner = build_runner(cfg, model=model, work_dir=work_dir)
    if resume_from:
        runner.resume(resume_from)
    return runner


def train(runner, rank, world_size):
    runner.run(build_train_dataloader(ToyClips(), collate_fn=collate_clips, samples_per_gpu=2,
                                      workers_per_gpu=0, seed=0, rank=rank, world_size=world_size))


def _worker(rank, world_size, port, work_dir, max_iters, kill_at, resume_from, sig, timeout):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    init_dist('pytorch', backend='gloo', timeout=timeout)
    runner = make_runner(work_dir, max_iters=max_iters, distributed=True, resume_from=resume_from,
                         timeout=timeout)
    if kill_at is not None and rank == 1:
        runner.register_hook(KillAt(kill_at, sig))
    try:
        train(runner, rank, world_size)
    except LostProcessError as err:
        with open(os.path.join(work_dir, f'error_rank{rank}.txt'), 'w') as handle:
            handle.write(str(err))
        os._exit(KILLED_EXIT)  # what run_cli does after printing the line (exit status 1)
    close_dist()


def launch(world_size, work_dir, *, max_iters, kill_at=None, resume_from=None, sig=signal.SIGKILL,
           timeout=TIMEOUT, wait_for=None):
    """Run the workers; return their exit codes once the ranks ``wait_for`` (default all) ended.
    The others are killed then. A rank that does not end within a bound fails the test."""
    context = mp.start_processes(_worker, args=(world_size, free_port(), str(work_dir), max_iters,
                                                kill_at, resume_from, sig, timeout),
                                 nprocs=world_size, join=False, start_method='spawn')
    watched = [context.processes[r] for r in (wait_for if wait_for is not None
                                              else range(world_size))]
    deadline = time.time() + 120 + timeout
    try:
        while any(p.is_alive() for p in watched):
            assert time.time() < deadline, 'a process did not stop'
            time.sleep(0.2)
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join()
    return [p.exitcode for p in context.processes]


def weights(path):
    return read_checkpoint(str(path))['state_dict']


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    """An uninterrupted 2-process run of 6 iterations."""
    work_dir = tmp_path_factory.mktemp('straight')
    assert launch(2, work_dir, max_iters=6) == [0, 0]
    return work_dir


@pytest.mark.slow
def test_killed_rank_stops_the_other_and_resume_continues(straight, tmp_path):
    codes = launch(2, tmp_path, max_iters=6, kill_at=3)
    assert codes == [KILLED_EXIT, -signal.SIGKILL]
    message = (tmp_path / 'error_rank0.txt').read_text()
    assert 'rank 0 of 2 lost contact with rank 1' in message and '--resume-from' in message
    assert os.path.realpath(tmp_path / LATEST) == str((tmp_path / 'iter_2.pth').resolve())
    assert read_checkpoint(str(tmp_path / LATEST))['meta']['iter'] == 2
    assert launch(2, tmp_path, max_iters=6, resume_from=str(tmp_path)) == [0, 0]
    assert_same_weights(weights(tmp_path / 'iter_6.pth'), weights(straight / 'iter_6.pth'))


@pytest.mark.slow
def test_hung_rank_stops_the_other_after_the_configured_timeout(tmp_path):
    """Rank 1 stops (SIGSTOP) after iteration 3; rank 0 waits dist_params.timeout, then stops."""
    codes = launch(2, tmp_path, max_iters=6, kill_at=3, sig=signal.SIGSTOP, timeout=8, wait_for=[0])
    assert codes[0] == KILLED_EXIT
    message = (tmp_path / 'error_rank0.txt').read_text()
    assert 'rank 0 of 2 lost contact with rank 1 at iteration 3' in message
    assert 'dist_params.timeout=8 s' in message
    assert read_checkpoint(str(tmp_path / LATEST))['meta']['iter'] == 2


def test_resume_with_another_process_count_continues_the_global_stream(straight, tmp_path,
                                                                       mmseg_caplog):
    """2 processes x 2 samples for 2 iterations = 8 global samples; 1 process continues at sample
    8."""
    runner = make_runner(str(tmp_path), max_iters=4, distributed=False,
                         resume_from=str(straight / 'iter_2.pth'))
    assert runner.iter == 2 and runner.samples_seen == 8
    train(runner, 0, 1)
    assert 'written by 2 processes and this run has 1' in mmseg_caplog.text
    meta = read_checkpoint(str(tmp_path / 'iter_4.pth'))['meta']
    assert meta['iter'] == 4 and meta['world_size'] == 1 and meta['samples_seen'] == 8 + 2 * 2
    # one process: positions 8, 9, ... = global samples 8, 9, ...
    assert stream_start(8, 1) == (8, 0)
    assert stream_start(10, 4) == (3, 2)  # four processes: global 12.. (10 and 11 skipped, logged)


def test_checkpoint_write_failing_midway_leaves_earlier_files_intact(tmp_path, monkeypatch):
    runner = make_runner(str(tmp_path), max_iters=4, distributed=False)
    train(runner, 0, 1)
    before = {name: (tmp_path / name).read_bytes() for name in ('iter_2.pth', 'iter_4.pth')}
    real_save = torch.save

    def disk_full(obj, handle, *args, **kwargs):
        handle.write(b'PK\x03\x04' + b'\0' * 1000)  # part of the file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, 'save', disk_full)
    runner.max_iters = 6
    with pytest.raises(CheckpointError, match=r"cannot write '.*iter_6.pth': No space left on "
                                              r"device; .*latest.pth"):
        train(runner, 0, 1)
    monkeypatch.setattr(torch, 'save', real_save)
    for name, content in before.items():
        assert (tmp_path / name).read_bytes() == content, name
    assert not (tmp_path / 'iter_6.pth').exists() and not (tmp_path / '.iter_6.pth.tmp').exists()
    assert read_checkpoint(str(tmp_path / LATEST))['meta']['iter'] == 4


def test_truncated_checkpoint_for_resume_from_file_and_dir(straight, tmp_path, mmseg_caplog):
    for name in ('iter_2.pth', 'iter_4.pth', 'iter_6.pth'):
        (tmp_path / name).write_bytes((straight / name).read_bytes())
    os.symlink('iter_6.pth', tmp_path / LATEST)
    data = (tmp_path / 'iter_6.pth').read_bytes()
    # truncated, e.g. copied off a full disk
    (tmp_path / 'iter_6.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=r"--resume-from: '.*iter_6.pth' cannot be read "
                                              r".*truncated"):
        make_runner(str(tmp_path / 'out'), max_iters=8, distributed=False,
                    resume_from=str(tmp_path / 'iter_6.pth'))
    runner = make_runner(str(tmp_path / 'out'), max_iters=8, distributed=False,
                         resume_from=str(tmp_path))
    assert runner.iter == 4
    assert 'resuming from iter_4.pth, the newest loadable checkpoint' in mmseg_caplog.text
    assert 'skipped iter_6.pth' in mmseg_caplog.text


def test_lost_process_message_and_timeout_check():
    from mmseg.utils.config import ConfigError
    from mmseg.utils.dist_utils import is_communication_failure, lost_process_error
    err = RuntimeError('[/x/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:39061: '
                       'Connection reset by peer. This is typically caused by a remote worker '
                       'hanging')
    assert (is_communication_failure(err)
            and not is_communication_failure(RuntimeError('shape mismatch')))
    message = str(lost_process_error(err, iteration=3, timeout=20))
    assert ('at iteration 3' in message and 'Connection reset by peer)' in message
            and 'pair.cc' not in message)
    with pytest.raises(ConfigError, match='dist_params.timeout=0: expected a number of seconds > '
                                          '0'):
        init_dist('pytorch', backend='gloo', timeout=0)
