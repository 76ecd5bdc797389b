import torch

from mmseg.utils import collect_env as collect_env_module
from mmseg.utils.collect_env import collect_env, env_info_text, register_env_probe


def test_env_lists_versions_commit_and_probes(monkeypatch):
    monkeypatch.setattr(collect_env_module, '_PROBES', {})
    register_env_probe('MSDeformAttn op', lambda: 'not built (PyTorch reference in use)')
    env = collect_env()
    assert env['PyTorch'] == torch.__version__
    for key in ('Python', 'CUDA available', 'cuDNN', 'NumPy', 'OpenCV', 'mmengine', 'THE-Mask'):
        assert env[key], key
    assert 'MSDeformAttn op: not built (PyTorch reference in use)' in env_info_text().splitlines()
