"""Relay torchrun's stderr, minus its failure report when a process already said what was wrong.

``tools/dist_train.sh`` and ``tools/dist_test.sh`` pipe torchrun's stderr through this script
(``python tools/toolkit/launch_filter.py``; standard library only, so it starts fast). Every line
passes through at once, except:

- an ``error: ...`` line that was already printed (each process prints the same user error) is
  dropped, so it appears once;
- after a process printed an ``error: ...`` line, torchrun's own report (its log lines, the
  ``ChildFailedError`` traceback and the failure summary, about 25 lines) is dropped: the one-line
  error already says what was wrong, and the exit status is torchrun's.

Without an ``error:`` line (a crash, a bug), everything passes, tracebacks included. With
``THEMASK_DEBUG=1`` the scripts do not filter at all.
"""
import re
import signal
import sys
from typing import Iterable, Iterator

__all__ = ['filter_lines']

ELASTIC_LOG = re.compile(r'^[IWE]\d{4} .*torch/distributed/elastic/')


def filter_lines(lines: Iterable[str]) -> Iterator[str]:
    """Yield the lines to show (see the module docstring)."""
    printed_errors = set()
    dropping = False
    for line in lines:
        if line.startswith('error: '):
            if line not in printed_errors:
                printed_errors.add(line)
                yield line
            continue
        if printed_errors and (dropping or ELASTIC_LOG.match(line)
                               or line.startswith('Traceback (most recent')):
            dropping = True  # torchrun's report runs to the end of its output
            continue
        yield line


def main() -> int:
    # Ctrl-C reaches torchrun; keep relaying its output
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in filter_lines(iter(sys.stdin.readline, '')):
        sys.stdout.write(line)
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
