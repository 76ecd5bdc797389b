#!/bin/sh
# Build the MultiScaleDeformableAttention extension in this folder (build_ext --inplace), where
# the package imports it from. Environment (see setup.py):
#   PYTHON                 interpreter with torch (default: python, else python3)
#   THEMASK_MSDA_CUDA      auto (default) | 1 | 0: compile the CUDA kernel too
#   TORCH_CUDA_ARCH_LIST   CUDA architectures, e.g. 9.0 (needed when no GPU is visible)
#   CUDA_HOME, CUDA_INC_PATH, MAX_JOBS   as for torch.utils.cpp_extension
set -e
cd "$(dirname "$0")"
if [ -z "$PYTHON" ]; then
    if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi
start=$(date +%s)
"$PYTHON" setup.py build_ext --inplace
echo "[msda make] built in $(( $(date +%s) - start )) s: $(ls MultiScaleDeformableAttention*.so)"
