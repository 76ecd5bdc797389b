"""Under tools/dist_train.sh and tools/dist_test.sh a user error appears once, without torchrun's
ChildFailedError report; a crash without an ``error:`` line keeps everything."""
import os
import subprocess
import sys

import pytest

from toolkit.launch_filter import filter_lines

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = 'local_configs/themask/1f_themask_mit_b0_synthetic.py'
TORCHRUN_FAILURE = '''\
W1129 18:19:57.115000 20452 torch/distributed/elastic/multiprocessing/api.py:1028] \
Sending process 20478 closing signal SIGTERM
E1129 18:19:57.229000 20452 torch/distributed/elastic/multiprocessing/api.py:1002] \
failed (exitcode: 1) local_rank: 0
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
tools/test.py FAILED
============================================================
'''
BANNER = 'Setting OMP_NUM_THREADS environment variable for each process to be 1 in default\n'


def lines(text):
    return text.splitlines(keepends=True)


def test_filter_keeps_one_error_line_and_drops_the_report():
    error = 'error: data.test.test_size=0: expected an integer >= 1\n'
    out = list(filter_lines(lines(BANNER + error + error + TORCHRUN_FAILURE)))
    assert out == [BANNER, error]


def test_filter_keeps_everything_without_an_error_line():
    crash = 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom\n'
    text = BANNER + crash + TORCHRUN_FAILURE
    assert ''.join(filter_lines(lines(text))) == text


def run_script(*args, port):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHON=sys.executable, PORT=str(port),
               OMP_NUM_THREADS='1')
    env.pop('THEMASK_DEBUG', None)
    return subprocess.run(['bash', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def assert_one_line(res, fragment):
    assert res.returncode == 1, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1 and fragment in errors[0], res.stderr
    assert 'Traceback' not in res.stderr and 'ChildFailedError' not in res.stderr, res.stderr


def test_dist_test_sh_user_error_appears_once(tmp_path):
    res = run_script('tools/dist_test.sh', STAGE1, str(tmp_path / 'none.pth'), '2', '--options',
                     'data.test.test_size=0', port=29741)
    assert_one_line(res, 'data.test.test_size=0: expected an integer >= 1')


def test_dist_train_sh_user_error_appears_once(tmp_path):
    res = run_script('tools/dist_train.sh', STAGE1, '2', '--work-dir', str(tmp_path / 'wd'),
                     '--options', 'runner.max_iters=2.5', port=29742)
    assert_one_line(res, 'runner.max_iters=2.5 has the wrong type')


@pytest.mark.parametrize('script,args', [
    ('tools/dist_train.sh', [STAGE1, '0']), ('tools/dist_train.sh', [STAGE1, 'two']),
    ('tools/dist_test.sh', [STAGE1, 'ckpt.pth', 'abc']),
    ('tools/dist_test.sh', [STAGE1, 'ckpt.pth', '-1'])])
def test_dist_scripts_check_the_process_count_before_torchrun(script, args):
    res = run_script(script, *args, port=29743)
    assert res.returncode == 1 and res.stdout == ''
    assert res.stderr == (f"error: GPUS (processes per node) must be a positive integer such as 2, "
                          f"got '{args[-1]}'\n")
