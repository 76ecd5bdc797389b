"""Result files: JSON written so that a crash never leaves half a file in place of a good one."""
import json
import os
from typing import Any, Mapping

__all__ = ['write_json_atomically']


def write_json_atomically(path: str, payload: Mapping[str, Any]) -> None:
    """Write JSON through a temporary file and a rename, so a crash never leaves half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f'.{os.path.basename(path)}.tmp')
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(payload, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
