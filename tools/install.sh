#!/usr/bin/env bash
# Install THE-Mask into ./.venv on a fresh machine: PyTorch, the package with its test and
# TensorBoard extras, and the multi-scale deformable attention op (the CPU kernel always; the CUDA
# kernel too where a CUDA toolkit is found, see the op's make.sh).
#   TORCH_VERSION   torch release to install (default 2.14.1)
#   PYTHON          interpreter that creates the venv (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.14.1}
if [ ! -x .venv/bin/python ]; then
    echo "[install] creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
echo "[install] pip install torch==$TORCH_VERSION and the package (-e .[test,tensorboard])"
pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
pip install -q --disable-pip-version-check -e ".[test,tensorboard]"
if [ -z "${CUDA_HOME:-}" ] && [ -f /usr/local/cuda/include/cuda_runtime.h ]; then
    export CUDA_HOME=/usr/local/cuda
fi
echo "[install] building the deformable attention op (CUDA_HOME=${CUDA_HOME:-unset})"
PYTHON=python sh mmseg/models/decode_heads/mask2former/pixel_decoder/ops/make.sh
python -c "import torch, mmseg; from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import available_backends; print(f'[install] torch {torch.__version__}, mmseg {mmseg.__version__}, op: {available_backends()[\"extension\"]}')"
