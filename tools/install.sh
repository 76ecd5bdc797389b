#!/usr/bin/env bash
# Install THE-Mask into ./.venv on a fresh machine: PyTorch, the package with its test and
# TensorBoard extras, and the multi-scale deformable attention op.
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
python -c "import torch, mmseg; print(f'[install] torch {torch.__version__}, mmseg {mmseg.__version__}')"
