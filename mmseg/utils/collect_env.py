"""The environment a run used (versions, GPUs, git commit), logged and stored in checkpoints."""
import os
import subprocess
import sys
from collections import OrderedDict
from typing import Dict, Optional

import cv2
import numpy as np
import torch

from ..version import __version__

__all__ = ['collect_env', 'env_info_text', 'get_git_hash']


def get_git_hash(short: bool = False) -> Optional[str]:
    """The commit of the checkout this package runs from (None outside a git checkout)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.exists(os.path.join(root, '.git')):
        return None
    result = subprocess.run(['git', 'rev-parse', '--short' if short else '--verify', 'HEAD'],
                            cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _mmengine_version() -> str:
    from mmengine import __version__ as version
    return version


def collect_env() -> Dict[str, str]:
    """Return an ordered ``{name: value}`` description of the environment."""
    env: Dict[str, str] = OrderedDict()
    env['sys.platform'] = sys.platform
    env['Python'] = sys.version.replace('\n', ' ')
    env['PyTorch'] = torch.__version__
    env['CUDA available'] = str(torch.cuda.is_available())
    env['CUDA (PyTorch build)'] = str(torch.version.cuda)
    env['cuDNN'] = (str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available()
                    else 'None')
    if torch.cuda.is_available():
        by_name: Dict[str, list] = OrderedDict()
        for index in range(torch.cuda.device_count()):
            by_name.setdefault(torch.cuda.get_device_name(index), []).append(str(index))
        for name, indices in by_name.items():
            env[f'GPU {",".join(indices)}'] = name
    env['NumPy'] = np.__version__
    env['OpenCV'] = cv2.__version__
    env['mmengine'] = _mmengine_version()
    git_hash = get_git_hash(short=True)
    env['THE-Mask'] = __version__ + (f'+{git_hash}' if git_hash else '')
    return env


def env_info_text() -> str:
    """:func:`collect_env` as ``name: value`` lines."""
    return '\n'.join(f'{name}: {value}' for name, value in collect_env().items())
