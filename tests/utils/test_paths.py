"""Output-path checks: a writable folder passes and is left clean, a path below a file is refused
with the flag's name, and two processes probing one folder at the same time cannot trip each other
(the ranks of a distributed run all check ``--work-dir``)."""
import os

import pytest

from mmseg.utils import paths
from mmseg.utils.errors import UsageError
from mmseg.utils.paths import check_writable_output


def test_writable_folder_is_created_and_left_empty(tmp_path):
    out = tmp_path / 'a' / 'b'
    check_writable_output(str(out), '--show-dir', directory=True)
    assert out.is_dir() and os.listdir(out) == []


def test_folder_below_a_file_is_refused_naming_the_flag(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(UsageError, match=r"--work-dir '.*a_file/run' cannot be written"):
        check_writable_output(str(blocker / 'run'), '--work-dir', directory=True)


def test_two_processes_probing_one_folder_interleaved(tmp_path, monkeypatch):
    """Rank 1 runs its whole probe between rank 0's write and rank 0's delete of its probe file."""
    real_remove, pid = os.remove, [100]
    monkeypatch.setattr(paths.os, 'getpid', lambda: pid[0])

    def remove_after_the_other_rank(path):
        if pid[0] == 100:
            pid[0] = 101
            check_writable_output(str(tmp_path), '--work-dir', directory=True)  # the other rank
            pid[0] = 100
        real_remove(path)

    monkeypatch.setattr(paths.os, 'remove', remove_after_the_other_rank)
    check_writable_output(str(tmp_path), '--work-dir', directory=True)
    assert os.listdir(tmp_path) == []
