#!/usr/bin/env bash
# Install THE-Mask into ./.venv on a fresh machine: PyTorch, the package with its test, TensorBoard
# and deploy extras, and the multi-scale deformable attention op (the CPU kernel always; the CUDA
# kernel too where a CUDA toolkit is found, see the op's make.sh).
#
# By default every package is installed at the version the project is tested with
# (the_requirements.txt, used as pip constraints), so a fresh machine gets the tested environment on
# any day. THEMASK_LATEST=1 installs the newest releases instead (the open ranges of setup.py).
#   THEMASK_LATEST  1: newest releases instead of the tested versions
#   TORCH_VERSION   torch release to install (default: the tested one, 2.14.1)
#   PYTHON          interpreter that creates the venv (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.14.1}
PIP=(pip install -q --disable-pip-version-check)
if [ "${THEMASK_LATEST:-0}" = 1 ]; then
    VERSIONS="the newest releases"
    CONSTRAINTS=()
else
    VERSIONS="the tested versions (the_requirements.txt)"
    # torch comes from TORCH_VERSION, so its pin is left out of the constraints
    CONSTRAINTS_FILE=$(mktemp)
    trap 'rm -f "$CONSTRAINTS_FILE"' EXIT
    grep -v '^torch==' the_requirements.txt > "$CONSTRAINTS_FILE"
    CONSTRAINTS=(-c "$CONSTRAINTS_FILE")
fi
# What this install is made of; when .venv was installed from the same, the install is skipped
# (the README's two set-up commands both start with this script).
STAMP=".venv/.themask-install"
OPS=mmseg/models/decode_heads/mask2former/pixel_decoder/ops
WANT="$(cat the_requirements.txt setup.py "$OPS/setup.py" $(find "$OPS/src" -type f | sort) | cksum)"
WANT="$WANT torch=$TORCH_VERSION latest=${THEMASK_LATEST:-0} cuda=${THEMASK_MSDA_CUDA:-auto}"
if [ -x .venv/bin/python ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
        && ls "$OPS"/MultiScaleDeformableAttention*.so >/dev/null 2>&1; then
    echo "[install] .venv is up to date (delete $STAMP to reinstall)"
    exit 0
fi
if [ ! -x .venv/bin/python ]; then
    echo "[install] creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
echo "[install] torch==$TORCH_VERSION and the package (-e .[test,tensorboard,deploy]) at $VERSIONS"
"${PIP[@]}" "torch==$TORCH_VERSION"
"${PIP[@]}" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"} -e ".[test,tensorboard,deploy]"
if [ -z "${CUDA_HOME:-}" ] && [ -f /usr/local/cuda/include/cuda_runtime.h ]; then
    export CUDA_HOME=/usr/local/cuda
fi
echo "[install] building the deformable attention op (CUDA_HOME=${CUDA_HOME:-unset})"
PYTHON=python sh "$OPS/make.sh"
python -c "import torch, mmseg; from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import available_backends; b = available_backends(); print(f'[install] torch {torch.__version__}, mmseg {mmseg.__version__}, op: {b[\"extension\"]}; triton (CUDA tensors without the CUDA kernel): {b[\"triton_status\"]}')"
echo "$WANT" > "$STAMP"
