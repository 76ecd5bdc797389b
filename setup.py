"""THE-Mask: `pip install -e .` (extras: `[test]`, `[tensorboard]`, `[deploy]`).

The multi-scale deformable attention op is built separately (tools/install.sh does it):
    cd mmseg/models/decode_heads/mask2former/pixel_decoder/ops && sh make.sh
"""
import os

from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open(os.path.join(os.path.dirname(__file__), 'mmseg', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='themask',
    version=read_version(),
    description='THE-Mask: temporal-aware hierarchical mask classification for video semantic '
                'segmentation (BMVC 2023), on current PyTorch',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='For academic use only (as the original THE-Mask)',
    packages=find_packages(include=['mmseg', 'mmseg.*']),
    include_package_data=True,
    package_data={'mmseg': ['models/decode_heads/mask2former/pixel_decoder/ops/src/**/*',
                            'models/decode_heads/mask2former/pixel_decoder/ops/*.sh']},
    python_requires='>=3.10',
    install_requires=[
        'torch>=2.1',
        'numpy',
        'scipy',                  # Hungarian matching (linear_sum_assignment)
        'opencv-python-headless',
        'pillow',
        'tqdm',
        'mmengine-lite',          # Config, DictAction, Registry only
        'ninja',                  # builds the deformable attention op
        'safetensors',            # Hugging Face MiT weights (model.pretrained), read without pickle
    ],
    extras_require={
        # transformers: makes the Hugging Face MiT test weights; pytest-xdist: the README's `-n 2`
        # test run; ruff: the linter CI runs
        'test': ['pytest', 'pytest-xdist', 'transformers', 'ruff'],
        'tensorboard': ['tensorboard'],
        # ONNX export (the exporter needs onnxscript) and ONNX Runtime inference
        'deploy': ['onnx', 'onnxruntime', 'onnxscript'],
    },
    zip_safe=False,
)
