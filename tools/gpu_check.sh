#!/usr/bin/env bash
# GPU check, for one GPU machine with torch installed and the repository freshly copied (op not
# built); not run yet: no GPU so far. It checks on CUDA: the Triton kernels of the op as on a GPU
# without a CUDA toolchain (before the build: their tests, b1 inference and training step at
# 480x853 with 2-frame clips on them), the compiled op (tests incl. the opcheck ones marked cuda,
# gradcheck, benchmark with compiled CUDA vs Triton vs reference), torch.compile, export (when
# tools/export.py exists), with_cp memory, bf16 training for 20 iterations and b1 inference
# frames/s at 480x853 with 4-frame clips. Every step runs even if an earlier one failed; the
# summary at the end lists each step's status and time, and the exit status is 1 if any step
# failed.
#   bash tools/gpu_check.sh [OUT_DIR]          (default work_dirs/gpu_check; logs and JSON there)
# Environment: PYTHON (default python), TORCH_CUDA_ARCH_LIST (default: the visible GPU),
# CUDA_HOME (default: torch's guess; must hold include/cuda_runtime.h), GPU_CHECK_PARTS (default
# "triton op model train"; e.g. GPU_CHECK_PARTS=triton runs the environment, the Triton steps and
# the build they compare against: about 5 minutes on an H100 by estimate, the whole check more
# than 8).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-work_dirs/gpu_check}
PYTHON=${PYTHON:-python}
OPS=mmseg/models/decode_heads/mask2former/pixel_decoder/ops
OPS_TESTS=tests/models/decode_heads/mask2former/pixel_decoder/ops
PARTS=" ${GPU_CHECK_PARTS:-triton op model train} "
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

# part NAME: whether GPU_CHECK_PARTS selects NAME
part() { [[ $PARTS == *" $1 "* ]]; }

step environment "$PYTHON" -c "import torch; print('torch', torch.__version__, \
'CUDA', torch.version.cuda, 'device', torch.cuda.get_device_name())"
B1=("$PYTHON" tools/benchmark.py local_configs/themask/video_themask_mit_b1.py --device cuda)
if part triton; then
    # as on a GPU without a CUDA toolchain: nothing built yet, so the operators' CUDA kernels are
    # Triton's (the checks' JSON records msda_backend)
    step triton_backends "$PYTHON" -c "from ${OPS//\//.} import available_backends as a; b = a(); \
print(b); assert b['triton'] and not b['cuda'], 'expected triton and no CUDA kernel built yet'"
    # the Triton tests: under the interpreter on CPU and on CUDA (the operator without extension
    # among them)
    step triton_tests "$PYTHON" -m pytest "$OPS_TESTS/test_ms_deform_attn_triton_kernels.py" \
        "$OPS_TESTS/test_ms_deform_attn_triton_func.py" -q -ra
    step triton_model "${B1[@]}" --clip-len 2 --size 480x853 --iters 5 --warmup 2 --train \
        --out "$OUT/benchmark_b1_cuda_480x853_t2_triton.json"
fi
step build_op env THEMASK_MSDA_CUDA=1 PYTHON="$PYTHON" sh "$OPS/make.sh"
if part triton; then
    # the pixel decoder's shapes for b1 at 480x853, 2-frame clips: compiled CUDA vs Triton vs
    # reference, and the same model steps on the compiled CUDA kernel
    step triton_bench "$PYTHON" tools/benchmark_msda.py --devices cuda --sizes 480x853 --batch 2 \
        --impls reference kernel triton --iters 20 --warmup 3 \
        --out "$OUT/benchmark_msda_cuda_triton.json"
    step cuda_model "${B1[@]}" --clip-len 2 --size 480x853 --iters 5 --warmup 2 --train \
        --out "$OUT/benchmark_b1_cuda_480x853_t2.json"
fi
if part op; then
    # the Triton tests ran in triton_tests; their CUDA cases run again in op_tests_cuda, with the
    # CUDA kernel built
    step op_tests "$PYTHON" -m pytest "$OPS_TESTS" -q -ra \
        --ignore="$OPS_TESTS/test_ms_deform_attn_triton_kernels.py" \
        --ignore="$OPS_TESTS/test_ms_deform_attn_triton_func.py"
    # the CUDA cases only (opcheck of the custom op on CUDA among them); a run with none selected
    # fails
    step op_tests_cuda "$PYTHON" -m pytest "$OPS_TESTS" tests/models -q -ra -m cuda
    step op_gradcheck "$PYTHON" "$OPS/test.py"
    step msda_bench "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
        --out "$OUT/benchmark_msda_cuda.json"
    step msda_bench_fp16 "$PYTHON" tools/benchmark_msda.py --devices cuda --iters 20 --warmup 3 \
        --dtype float16 --impls reference kernel triton --out "$OUT/benchmark_msda_cuda_fp16.json"
fi
if part model; then
    step model_bench "${B1[@]}" --clip-len 2 --size 480x480 --iters 5 --warmup 2 --train \
        --compare-reference --out "$OUT/benchmark_b1_cuda.json"
    step model_bench_amp "${B1[@]}" --clip-len 2 --size 480x480 --iters 5 --warmup 2 --train \
        --amp --out "$OUT/benchmark_b1_cuda_amp.json"
    # activation checkpointing: the same training step with and without with_cp (peak CUDA
    # memory)
    step with_cp_memory "${B1[@]}" --clip-len 2 --size 480x480 --iters 3 --warmup 1 --train \
        --with-cp --out "$OUT/benchmark_b1_cuda_with_cp.json"
    # inference at the test size, 4-frame clips: fp32 eager, bf16 autocast and torch.compile
    step infer_480x853 "${B1[@]}" --clip-len 4 --size 480x853 --iters 5 --warmup 2 --bf16 \
        --compile --out "$OUT/benchmark_b1_cuda_480x853_t4.json"
    if [ -f tools/export.py ]; then
        step export_tests "$PYTHON" -m pytest tests -q -ra -k export
    fi
fi
if part train; then
    # 20 AMP training iterations of the b1 stage-2 model on synthetic 480x853 two-frame clips
    step synthetic_data "$PYTHON" tools/make_synthetic_vspw.py --out "$OUT/vspw_480p" --videos 8 \
        --size 480x853 --frames 20-24
    step amp_train "$PYTHON" tools/train.py local_configs/themask/video_themask_mit_b1.py \
        --work-dir "$OUT/amp_train" --amp --no-validate --seed 0 --options model.pretrained=None \
        model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]" \
        data.train.dataset.data_root="$OUT/vspw_480p" data.workers_per_gpu=4 \
        runner.max_iters=20 log_config.interval=5 checkpoint_config.interval=20
    # the same 20 iterations in bfloat16 (no grad scaler)
    step bf16_train "$PYTHON" tools/train.py local_configs/themask/video_themask_mit_b1.py \
        --work-dir "$OUT/bf16_train" --amp --no-validate --seed 0 --options model.pretrained=None \
        amp.dtype=bfloat16 model.decode_head.transformer_decoder_cfg.num_frames=2 \
        data.train.dataset.dilation="[-3]" data.train.dataset.data_root="$OUT/vspw_480p" \
        data.workers_per_gpu=4 runner.max_iters=20 log_config.interval=5 \
        checkpoint_config.interval=20
fi

echo "=== summary (logs and JSON in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
for name in triton_model triton_bench cuda_model msda_bench msda_bench_fp16 model_bench \
        model_bench_amp with_cp_memory infer_480x853; do
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
t = load('benchmark_msda_cuda_triton.json')
if t:
    by_impl = {r['impl']: r for r in t['results']}
    for impl in ('kernel', 'triton', 'reference'):
        if impl in by_impl:
            rows += [(f'msda 480x853 N=2 {impl} fwd ms', by_impl[impl]['fwd_ms']),
                     (f'msda 480x853 N=2 {impl} fwd+bwd ms', by_impl[impl]['fwd_bwd_ms'])]
    if 'triton' in by_impl:
        rows += [('msda triton speed vs CUDA kernel, fwd (goal >= 0.8)',
                  by_impl['triton'].get('fwd_speed_vs_kernel')),
                 ('msda triton speed vs CUDA kernel, fwd+bwd (goal >= 0.8)',
                  by_impl['triton'].get('fwd_bwd_speed_vs_kernel'))]
for name, label in (('benchmark_b1_cuda_480x853_t2_triton.json', 'b1 480x853 T=2'),
                    ('benchmark_b1_cuda_480x853_t2.json', 'b1 480x853 T=2')):
    m = load(name)
    if m:
        backend, r = m['environment'].get('msda_backend'), m['results']['fast']
        rows += [(f'{label} infer ms ({backend} op)', r['infer_ms']),
                 (f'{label} train step ms ({backend} op)', r.get('train_ms'))]
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
