"""Distributed set-up and the few collectives the training engine needs.

Launchers:
- ``pytorch``: torchrun (or ``torch.distributed.run``) sets RANK, LOCAL_RANK, WORLD_SIZE,
  MASTER_ADDR and MASTER_PORT; ``tools/dist_train.sh`` wraps it.
- ``slurm``: ``srun`` sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_NODELIST; the master
  address is the first host of the node list and the port is MASTER_PORT (default 29500).

NCCL needs CUDA; a run without a CUDA device uses gloo instead and says so in the log.
"""
import datetime
import os
import re
import subprocess
from typing import Any, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .logger import get_root_logger

__all__ = ['is_communication_failure', 'lost_process_error', 'init_dist', 'close_dist',
           'get_dist_info', 'is_distributed', 'barrier', 'reduce_mean',
           'all_gather_object', 'broadcast_object', 'local_device', 'wrap_model', 'unwrap_model']

LAUNCHERS = ('pytorch', 'slurm')


def _require_env(names: Tuple[str, ...], launcher: str) -> None:
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise RuntimeError(f'launcher {launcher!r} needs the environment variables '
                           f'{", ".join(missing)}; start the job with '
                           f'{"torchrun" if launcher == "pytorch" else "srun"} '
                           f'(tools/dist_train.sh does it) or use --launcher none')


def _slurm_env(port: Optional[int]) -> None:
    """Translate SLURM's variables into the ones ``init_process_group('env://')`` reads."""
    _require_env(('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'), 'slurm')
    proc_id = int(os.environ['SLURM_PROCID'])
    if 'SLURM_LOCALID' in os.environ:
        local_rank = int(os.environ['SLURM_LOCALID'])
    else:
        local_rank = proc_id % max(torch.cuda.device_count(), 1)
    if 'MASTER_ADDR' not in os.environ:
        hosts = subprocess.run(['scontrol', 'show', 'hostnames', os.environ['SLURM_NODELIST']],
                               check=True, capture_output=True, text=True).stdout.split()
        os.environ['MASTER_ADDR'] = hosts[0]
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = str(proc_id)
    os.environ['LOCAL_RANK'] = str(local_rank)


def init_dist(launcher: str, backend: str = 'nccl', port: Optional[int] = None,
              timeout: Optional[float] = None) -> None:
    """Join the process group of a ``pytorch`` (torchrun) or ``slurm`` job.

    Args:
        launcher: ``'pytorch'`` or ``'slurm'``.
        backend: the config's ``dist_params.backend``; ``'nccl'`` becomes ``'gloo'`` without CUDA.
        port: the master port for ``slurm`` (default: MASTER_PORT, else 29500).
        timeout: ``dist_params.timeout``: seconds a collective waits for the other processes before
            it fails (a lost or hung process then stops the others); None: torch's default (30 min
            for gloo, 10 min for nccl).
    """
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout <= 0):
        from .errors import ConfigError
        raise ConfigError(f'dist_params.timeout={timeout!r}: expected a number of seconds > 0')
    if launcher not in LAUNCHERS:
        raise ValueError(f'unknown launcher {launcher!r}; expected one of {LAUNCHERS} (or none)')
    if launcher == 'slurm':
        _slurm_env(port)
    _require_env(('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'), launcher)
    logger = get_root_logger()
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']) % torch.cuda.device_count())
    elif backend == 'nccl':
        logger.info('no CUDA device: using the gloo backend instead of nccl')
        backend = 'gloo'
    kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
    dist.init_process_group(backend=backend, init_method='env://', **kwargs)
    logger.info(f'distributed: rank {dist.get_rank()} of {dist.get_world_size()}, backend {backend}'
                + (f', timeout {timeout} s' if timeout is not None else ''))


def close_dist() -> None:
    """Leave the process group once every process is done (a process that exits with the group
    alive can abort in the backend's threads). Nothing to do outside a process group."""
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def is_distributed() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def get_dist_info() -> Tuple[int, int]:
    """Return ``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    """Wait for every process (no-op outside a process group)."""
    if is_distributed():
        dist.barrier()


def _collective_device() -> torch.device:
    """NCCL collectives need CUDA tensors; gloo takes CPU tensors."""
    if is_distributed() and dist.get_backend() == 'nccl':
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Return the mean of ``tensor`` over all processes (a copy; the input is unchanged)."""
    if not is_distributed():
        return tensor.clone()
    reduced = tensor.detach().to(_collective_device(), torch.float32, copy=True)
    dist.all_reduce(reduced)
    return (reduced / dist.get_world_size()).to(tensor.device)


def all_gather_object(obj: Any) -> List[Any]:
    """Return ``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` outside a process group)."""
    if not is_distributed():
        return [obj]
    gathered: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any) -> Any:
    """Return rank 0's ``obj`` on every process."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=_collective_device())
    return box[0]


def local_device() -> torch.device:
    """This process's device: ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device('cpu')
    return torch.device('cuda', torch.cuda.current_device())


def wrap_model(model: nn.Module, *, distributed: bool, device: Optional[torch.device] = None,
               find_unused_parameters: bool = False) -> nn.Module:
    """Move ``model`` to ``device`` (default :func:`local_device`) and wrap it in DDP if
    ``distributed``.

    Freeze parameters (``--finetune-from``) before calling this: DDP registers the trainable ones.
    """
    device = device or local_device()
    model = model.to(device)
    if not distributed:
        return model
    device_ids = [device.index] if device.type == 'cuda' else None
    # broadcast_buffers=False as the original (mmseg 0.x): the model's only buffer is a constant.
    return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False,
                                   find_unused_parameters=find_unused_parameters)


def unwrap_model(model: nn.Module) -> nn.Module:
    """Return the module inside a DDP wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


_COMMUNICATION_FAILURES = ('connection closed by peer', 'connection reset by peer', 'broken pipe',
                           'timed out', 'timeout', 'socket', 'nccl communicator was aborted')


def is_communication_failure(err: BaseException) -> bool:
    """True for the errors a collective raises when another process died, hung or is unreachable."""
    if isinstance(err, getattr(dist, 'DistError', ())):
        return True
    return isinstance(err, RuntimeError) and any(text in str(err).lower()
                                                 for text in _COMMUNICATION_FAILURES)


def lost_process_error(err: BaseException, *, iteration: Optional[int] = None,
                       timeout: Optional[float] = None):
    """A :class:`~mmseg.utils.errors.LostProcessError` naming the process(es) this one lost
    (``iteration``: where training was; None: during testing)."""
    from .errors import LostProcessError
    rank, world_size = get_dist_info()
    others = [r for r in range(world_size) if r != rank]
    who = f'rank {others[0]}' if len(others) == 1 else f'one or more of ranks {others}'
    first = (str(err).strip().splitlines() or [type(err).__name__])[-1]
    # gloo's source path
    first = re.sub(r'^\[[^\]]*\]\s*', '', first).split('. This is typically')[0][:200]
    waited = f' within dist_params.timeout={timeout} s' if timeout else ''
    where = 'while testing' if iteration is None else f'at iteration {iteration}'
    advice = ('Run the test again' if iteration is None
              else 'Resume with --resume-from WORK_DIR (latest.pth)')
    return LostProcessError(f'rank {rank} of {world_size} lost contact with {who} {where} '
                            f'(it stopped or did not answer{waited}: {first}); this process stops '
                            f'too. {advice}')
