import torch

from mmseg.utils.collect_env import collect_env, env_info_text


def test_env_lists_versions_and_commit():
    env = collect_env()
    assert env['PyTorch'] == torch.__version__
    for key in ('Python', 'CUDA available', 'cuDNN', 'NumPy', 'OpenCV', 'mmengine', 'THE-Mask'):
        assert env[key], key
    assert f'PyTorch: {torch.__version__}' in env_info_text().splitlines()
