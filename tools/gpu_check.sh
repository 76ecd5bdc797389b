#!/usr/bin/env bash
# GPU check, for one GPU machine with torch installed and the repository freshly copied (op not
# built); about 7 minutes on an H100. Every step runs even if an earlier one failed; the summary
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
step op_tests "$PYTHON" -m pytest tests/models/decode_heads/mask2former/pixel_decoder/ops -q -ra
step op_gradcheck "$PYTHON" "$OPS/test.py"
step msda_bench "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
    --out "$OUT/benchmark_msda_cuda.json"
step msda_bench_fp16 "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
    --dtype float16 --impls reference kernel --out "$OUT/benchmark_msda_cuda_fp16.json"

step model_bench "$PYTHON" tools/benchmark.py local_configs/themask/video_themask_mit_b1.py \
    --device cuda --clip-len 2 --size 480x480 --iters 10 --warmup 3 --train --compare-reference \
    --out "$OUT/benchmark_b1_cuda.json"
step model_bench_amp "$PYTHON" tools/benchmark.py local_configs/themask/video_themask_mit_b1.py \
    --device cuda --clip-len 2 --size 480x480 --iters 10 --warmup 3 --train --amp \
    --out "$OUT/benchmark_b1_cuda_amp.json"
# 20 AMP training iterations of the b1 stage-2 model on synthetic 480x853 two-frame clips
step synthetic_data "$PYTHON" tools/make_synthetic_vspw.py --out "$OUT/vspw_480p" --videos 8 \
    --size 480x853 --frames 20-24
step amp_train "$PYTHON" tools/train.py local_configs/themask/video_themask_mit_b1.py \
    --work-dir "$OUT/amp_train" --amp --no-validate --seed 0 --options model.pretrained=None \
    model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]" \
    data.train.dataset.data_root="$OUT/vspw_480p" data.workers_per_gpu=4 runner.max_iters=20 \
    log_config.interval=5 checkpoint_config.interval=20

echo "=== summary (logs and JSON in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
for name in msda_bench msda_bench_fp16 model_bench model_bench_amp; do
    echo "--- $name"
    grep -E '^\||^fast vs|^params|^x ref' "$OUT/$name.log"
done
echo "--- amp_train"
grep -E 'Iter \[' "$OUT/amp_train.log" | sed -E 's/(decode\.[a-z_0-9]+: [0-9.]+, )+//'
exit $FAILED
