#!/usr/bin/env bash
# GPU check, for one GPU machine with torch installed and the repository freshly copied (op not
# built); meant to finish within 8 minutes on an H100 (not run yet: no GPU so far). It checks on
# CUDA: the op (tests incl. the opcheck ones marked cuda, gradcheck, benchmark), torch.compile,
# export (when tools/export.py exists), with_cp memory, bf16 training for 20 iterations and b1
# inference frames/s at 480x853 with 4-frame clips. Every step runs even if an earlier one failed; the summary
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
# the CUDA cases only (opcheck of the custom op on CUDA among them); a run with none selected fails
step op_tests_cuda "$PYTHON" -m pytest tests/models/decode_heads/mask2former/pixel_decoder/ops tests/models -q -ra -m cuda
step op_gradcheck "$PYTHON" "$OPS/test.py"
step msda_bench "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
    --out "$OUT/benchmark_msda_cuda.json"
step msda_bench_fp16 "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
    --dtype float16 --impls reference kernel --out "$OUT/benchmark_msda_cuda_fp16.json"

B1=("$PYTHON" tools/benchmark.py local_configs/themask/video_themask_mit_b1.py --device cuda)
step model_bench "${B1[@]}" --clip-len 2 --size 480x480 --iters 5 --warmup 2 --train --compare-reference \
    --out "$OUT/benchmark_b1_cuda.json"
step model_bench_amp "${B1[@]}" --clip-len 2 --size 480x480 --iters 5 --warmup 2 --train --amp \
    --out "$OUT/benchmark_b1_cuda_amp.json"
# activation checkpointing: the same training step with and without with_cp (peak CUDA memory)
step with_cp_memory "${B1[@]}" --clip-len 2 --size 480x480 --iters 3 --warmup 1 --train --with-cp \
    --out "$OUT/benchmark_b1_cuda_with_cp.json"
# inference at the test size, 4-frame clips: fp32 eager, bf16 autocast and torch.compile
step infer_480x853 "${B1[@]}" --clip-len 4 --size 480x853 --iters 5 --warmup 2 --bf16 --compile \
    --out "$OUT/benchmark_b1_cuda_480x853_t4.json"
if [ -f tools/export.py ]; then
    step export_tests "$PYTHON" -m pytest tests -q -ra -k export
fi
# 20 AMP training iterations of the b1 stage-2 model on synthetic 480x853 two-frame clips
step synthetic_data "$PYTHON" tools/make_synthetic_vspw.py --out "$OUT/vspw_480p" --videos 8 \
    --size 480x853 --frames 20-24
step amp_train "$PYTHON" tools/train.py local_configs/themask/video_themask_mit_b1.py \
    --work-dir "$OUT/amp_train" --amp --no-validate --seed 0 --options model.pretrained=None \
    model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]" \
    data.train.dataset.data_root="$OUT/vspw_480p" data.workers_per_gpu=4 runner.max_iters=20 \
    log_config.interval=5 checkpoint_config.interval=20
# the same 20 iterations in bfloat16 (no grad scaler)
step bf16_train "$PYTHON" tools/train.py local_configs/themask/video_themask_mit_b1.py \
    --work-dir "$OUT/bf16_train" --amp --no-validate --seed 0 --options model.pretrained=None \
    amp.dtype=bfloat16 model.decode_head.transformer_decoder_cfg.num_frames=2 \
    data.train.dataset.dilation="[-3]" data.train.dataset.data_root="$OUT/vspw_480p" \
    data.workers_per_gpu=4 runner.max_iters=20 log_config.interval=5 checkpoint_config.interval=20

echo "=== summary (logs and JSON in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
for name in msda_bench msda_bench_fp16 model_bench model_bench_amp with_cp_memory infer_480x853; do
    echo "--- $name"
    grep -E '^\||^fast vs|^[a-z]+ vs reference|^params|^x ref|^with_cp:|^bf16 vs|^fast training' \
        "$OUT/$name.log" 2>/dev/null
done
for name in amp_train bf16_train; do
    echo "--- $name"
    grep -E 'Iter \[' "$OUT/$name.log" 2>/dev/null | sed -E 's/(decode\.[a-z_0-9]+: [0-9.]+, )+//'
done
# one summary table of the headline numbers, from the JSON files
"$PYTHON" - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None
rows = []
b = load('benchmark_b1_cuda.json')
if b:
    e, r = b['environment'], b['results']
    rows += [('b1 480x480 T=2 infer x reference', e.get('infer_speedup_vs_reference')),
             ('b1 480x480 T=2 train x reference', e.get('train_speedup_vs_reference')),
             ('b1 labels equal (fast vs reference)', e.get('labels_equal_fraction')),
             ('b1 train ms (fast)', r['fast'].get('train_ms')),
             ('b1 criterion share of the step', r['fast']['criterion_ms'] / r['fast']['train_ms']
              if r['fast'].get('criterion_ms') else None)]
c = load('benchmark_b1_cuda_with_cp.json')
if c:
    r = c['results']
    rows += [('with_cp peak MiB / fast peak MiB', r['with_cp']['train_peak_mib'] / r['fast']['train_peak_mib']),
             ('with_cp step time / fast', r['with_cp']['train_ms'] / r['fast']['train_ms'])]
i = load('benchmark_b1_cuda_480x853_t4.json')
if i:
    e, r = i['environment'], i['results']
    rows += [('b1 480x853 T=4 frames/s fp32', r['fast']['fps']),
             ('b1 480x853 T=4 frames/s bf16', r.get('bf16', {}).get('fps')),
             ('b1 480x853 T=4 frames/s compiled', r.get('compiled', {}).get('fps')),
             ('bf16 labels equal to fp32', e.get('bf16_labels_equal_fraction')),
             ('compiled labels equal to eager', e.get('compiled_labels_equal_fraction'))]
print('| check | value |')
print('|---|---|')
for name, value in rows:
    print(f'| {name} | {"-" if value is None else format(value, ".4g")} |')
PY
exit $FAILED
