"""A two-node launch on one machine: two tools/dist_train.sh with NNODES=2, NODE_RANK=0/1, one
MASTER_ADDR and PORT, one process each, ends with the weights of one node with two processes."""
import os
import subprocess
import sys

import pytest
import torch

from ports import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = 'local_configs/themask/1f_themask_mit_b0_synthetic.py'


def launch(work_dir, data, gpus, port, **env):
    options = [f'data.train.dataset.data_root={data}', 'data.workers_per_gpu=0',
               'runner.max_iters=4', 'checkpoint_config.interval=4',
               'model.decode_head.loss_cfg.train_num_points=256',
               'model.decode_head.loss_cfg.warmup_iters=2', 'log_config.interval=1',
               'dist_params.timeout=120']
    full_env = dict(os.environ, PYTHONPATH=ROOT, PYTHON=sys.executable, OMP_NUM_THREADS='1',
                    PORT=str(port), MASTER_ADDR='127.0.0.1', **env)
    return subprocess.Popen(['bash', 'tools/dist_train.sh', STAGE1, str(gpus), '--work-dir',
                             str(work_dir), '--seed', '0', '--deterministic', '--no-validate',
                             '--options', *options],
                            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process):
    try:
        out, err = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err[-4000:]
    return err


@pytest.mark.slow
def test_two_nodes_match_one_node_with_two_processes(tmp_path):
    from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
    data = tmp_path / 'data'
    make_synthetic_vspw(str(data), videos=4, size=(48, 64), frames=(3, 4))
    port, single_port = free_ports(2)
    nodes = [launch(tmp_path / 'multi', data, 1, port, NNODES='2', NODE_RANK=str(rank))
             for rank in (0, 1)]
    # at the same time: the launches mostly wait
    single = launch(tmp_path / 'single', data, 2, single_port)
    for process in nodes + [single]:
        finish(process)
    multi = torch.load(tmp_path / 'multi' / 'iter_4.pth', weights_only=True)
    single = torch.load(tmp_path / 'single' / 'iter_4.pth', weights_only=True)
    assert multi['meta']['world_size'] == single['meta']['world_size'] == 2
    for key, value in single['state_dict'].items():
        assert torch.equal(multi['state_dict'][key], value), key
