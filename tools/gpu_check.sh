#!/usr/bin/env bash
# GPU check, for one GPU machine with torch installed and the repository freshly copied (op not
# built); about 5 minutes on an H100. Every step runs even if an earlier one failed; the summary
# at the end lists each step's status and time, and the exit status is 1 if any step failed.
#   bash tools/gpu_check.sh [OUT_DIR]          (default work_dirs/gpu_check; logs and JSON there)
# Environment: PYTHON (default python), TORCH_CUDA_ARCH_LIST (default: the visible GPU),
# CUDA_HOME (default: torch's guess; must hold include/cuda_runtime.h).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-work_dirs/gpu_check}
PYTHON=${PYTHON:-python}
OPS=mmseg/models/decode_heads/mask2former/pixel_decoder/ops
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export THEMASK_MSDA_REQUIRE_KERNELS=1  # op tests fail, rather than skip, when a kernel is missing
mkdir -p "$OUT"
SUMMARY=()
FAILED=0

# step NAME COMMAND...: run COMMAND, log it to $OUT/NAME.log, record its status and time
step() {
    local name=$1 start status
    shift
    start=$(date +%s)
    echo "=== [$name] $*"
    if "$@" 2>&1 | tee "$OUT/$name.log"; then status=ok; else status=FAILED; FAILED=1; fi
    SUMMARY+=("$(printf '%-16s %-6s %4d s' "$name" "$status" $(( $(date +%s) - start )))")
}

step environment "$PYTHON" -c "import torch; print('torch', torch.__version__, \
'CUDA', torch.version.cuda, 'device', torch.cuda.get_device_name())"
step build_op env THEMASK_MSDA_CUDA=1 PYTHON="$PYTHON" sh "$OPS/make.sh"
step op_tests "$PYTHON" -m pytest tests/models/decode_heads/ops -q -ra
step op_gradcheck "$PYTHON" "$OPS/test.py"
step msda_bench "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
    --out "$OUT/benchmark_msda_cuda.json"
step msda_bench_fp16 "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
    --dtype float16 --impls reference kernel --out "$OUT/benchmark_msda_cuda_fp16.json"

# ---- further steps go here (same `step NAME COMMAND...` form), before the summary ----

echo "=== summary (logs and JSON in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
for name in msda_bench msda_bench_fp16; do
    echo "--- $name"
    sed -n '/^device | input/,/^x ref/p' "$OUT/$name.log"
done
exit $FAILED
