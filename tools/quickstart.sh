#!/usr/bin/env bash
# The main job on the embedded synthetic dataset (no download), on a laptop CPU in ~14 minutes (2 cores):
# generate the data, train stage 1, finetune stage 2 on two-frame clips from it, test with
# two-frame clips, and write the metrics, overlays and curves. Each step prints the command a user
# types for VSPW, then runs its synthetic counterpart.
#   QUICK      1: the same flow in about 3 minutes, for trying it: 250 + 100 iterations, the first
#              4 val videos (the full flow is the default)
#   WORK_DIR   output folder (default work_dirs/quickstart, with QUICK=1 work_dirs/quickstart_quick)
#   DATA       synthetic dataset folder (default data/vspw_synthetic; generated when absent)
#   GPUS       N > 0: N processes through dist_train.sh / dist_test.sh (torchrun); default 0: one
#              process with tools/train.py and tools/test.py
#   SEED       training seed (default 0)
#   OPTIONS    extra config overrides for every step, e.g. "runner.max_iters=2" for a smoke test
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then WORK_DIR=${WORK_DIR:-work_dirs/quickstart_quick}; else WORK_DIR=${WORK_DIR:-work_dirs/quickstart}; fi
DATA=${DATA:-data/vspw_synthetic}
GPUS=${GPUS:-0}
SEED=${SEED:-0}
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
STAGE1=local_configs/themask/1f_themask_mit_b0_synthetic.py
STAGE2=local_configs/themask/video_themask_mit_b0_synthetic.py
read -r -a EXTRA_OPTIONS <<< "${OPTIONS:-}"
DATA_OPTIONS=(data.train.dataset.data_root="$DATA" data.val.data_root="$DATA" data.test.data_root="$DATA")
STAGE1_OPTIONS=() STAGE2_OPTIONS=() TEST_OPTIONS=()
if [ "$QUICK" = 1 ]; then  # OPTIONS still win: they come last
    STAGE1_OPTIONS=(runner.max_iters=250 checkpoint_config.interval=250 log_config.interval=50)
    STAGE2_OPTIONS=(runner.max_iters=100 checkpoint_config.interval=100 log_config.interval=50)
    mkdir -p "$WORK_DIR"
    TEST_OPTIONS=(data.test.split="$(cd "$WORK_DIR" && pwd)/val_quick.txt")
fi
START=$(date +%s)

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi  # colour on a terminal only
say() { printf '\n%s[quickstart %4ds] %s%s\n' "$BOLD" $(( $(date +%s) - START )) "$*" "$PLAIN"; }
train() {  # train CONFIG ARGS...
    if [ "$GPUS" = 0 ]; then "$PYTHON" tools/train.py "$@"; else PYTHON="$PYTHON" bash tools/dist_train.sh "$1" "$GPUS" "${@:2}"; fi
}
run_test() {  # run_test CONFIG CHECKPOINT ARGS...
    if [ "$GPUS" = 0 ]; then "$PYTHON" tools/test.py "$@"; else PYTHON="$PYTHON" bash tools/dist_test.sh "$1" "$2" "$GPUS" "${@:3}"; fi
}

"$PYTHON" -c "from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import available_backends as a; print('[quickstart] deformable attention op:', a()['extension'])"
if [ ! -f "$DATA/train.txt" ]; then
    say "generating the synthetic VSPW-format dataset in $DATA"
    "$PYTHON" tools/make_synthetic_vspw.py --out "$DATA"
fi
"$PYTHON" tools/check_dataset.py "$DATA" --split val
if [ "$QUICK" = 1 ]; then head -n 4 "$DATA/val.txt" > "$WORK_DIR/val_quick.txt"; fi

say "stage 1: one-frame clips. On VSPW you would run:
    ./tools/dist_train.sh local_configs/themask/1f_themask_mit_b5.py <GPU_NUM> --work-dir /path/to/save_model_1f"
train "$STAGE1" --work-dir "$WORK_DIR/stage1" --seed "$SEED" --no-validate \
    --options "${DATA_OPTIONS[@]}" ${STAGE1_OPTIONS[@]+"${STAGE1_OPTIONS[@]}"} ${EXTRA_OPTIONS[@]+"${EXTRA_OPTIONS[@]}"}

say "stage 2: temporal aggregation decoder on two-frame clips, from stage 1. On VSPW:
    ./tools/dist_train.sh local_configs/themask/video_themask_mit_b5.py <GPU_NUM> --work-dir /path/to/save_model \\
        --options model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation=\"[-3]\" \\
                  runner.max_iters=12000 checkpoint_config.interval=500 --finetune-from /path/to/save_model_1f"
train "$STAGE2" --work-dir "$WORK_DIR/stage2" --seed "$SEED" --no-validate \
    --finetune-from "$WORK_DIR/stage1/latest.pth" \
    --options model.decode_head.transformer_decoder_cfg.num_frames=2 data.train.dataset.dilation="[-3]" \
    "${DATA_OPTIONS[@]}" ${STAGE2_OPTIONS[@]+"${STAGE2_OPTIONS[@]}"} ${EXTRA_OPTIONS[@]+"${EXTRA_OPTIONS[@]}"}

say "test with two-frame clips. On VSPW:
    ./tools/dist_test.sh local_configs/themask/video_themask_mit_b5.py /path/to/save_model/latest.pth <GPU_NUM> \\
        --options data.test.test_size=2 --eval mIoU mVC"
run_test "$STAGE2" "$WORK_DIR/stage2/latest.pth" --eval mIoU mVC --out "$WORK_DIR/metrics.json" \
    --show-dir "$WORK_DIR/overlays" --eval-options imgfile_prefix="$WORK_DIR/results" \
    --options data.test.test_size=2 "${DATA_OPTIONS[@]}" ${TEST_OPTIONS[@]+"${TEST_OPTIONS[@]}"} \
    ${EXTRA_OPTIONS[@]+"${EXTRA_OPTIONS[@]}"}

say "training curves"
"$PYTHON" tools/analyze_logs.py plot_curve "$WORK_DIR"/stage1/*.log.json --keys loss \
    --out "$WORK_DIR/stage1_loss.png"
"$PYTHON" tools/analyze_logs.py plot_curve "$WORK_DIR"/stage2/*.log.json --keys loss \
    --out "$WORK_DIR/stage2_loss.png"

"$PYTHON" - "$WORK_DIR" "$DATA" <<'EOF'
# Summary line, and montage.png: frame | ground truth | prediction | overlay, for three val videos.
import json, os, sys
import numpy as np
from PIL import Image
work_dir, data = sys.argv[1:]
m = json.load(open(os.path.join(work_dir, 'metrics.json')))
print('[quickstart] ' + ', '.join(f'{k} {100 * m[k]:.2f}%' for k in ('mIoU', 'mIoU_present', 'aAcc', 'mVC8', 'mVC16')))
rows = []
for video in sorted(os.listdir(os.path.join(work_dir, 'results')))[:3]:
    frame = sorted(os.listdir(os.path.join(work_dir, 'results', video)))[0][:-4]
    prediction = Image.open(os.path.join(work_dir, 'results', video, frame + '.png'))
    pred = np.asarray(prediction)
    # the label PNG carries the VSPW palette (255, void, black): no need to import the package and torch
    palette = np.zeros((256, 3), np.uint8)
    carried = np.asarray(prediction.getpalette(), np.uint8).reshape(-1, 3)
    palette[:len(carried)] = carried
    image = np.asarray(Image.open(os.path.join(data, 'data', video, 'origin', frame + '.jpg')).convert('RGB'))
    raw = np.asarray(Image.open(os.path.join(data, 'data', video, 'mask', frame + '.png')))
    gt = np.where((raw == 0) | (raw == 255), 255, raw.astype(np.int64) - 1)
    overlay = np.asarray(Image.open(os.path.join(work_dir, 'overlays', video, frame + '.jpg')).convert('RGB'))
    panels = [np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in (image, palette[gt], palette[pred], overlay)]
    rows.append(np.concatenate(panels, axis=1))
Image.fromarray(np.concatenate(rows, axis=0)).save(os.path.join(work_dir, 'montage.png'))
print(f'[quickstart] {work_dir}/montage.png: frame | ground truth (void black) | prediction | overlay')
EOF
say "done: metrics in $WORK_DIR/metrics.json, overlays in $WORK_DIR/overlays, label PNGs in $WORK_DIR/results,
    curves in $WORK_DIR/*_loss.png, picture in $WORK_DIR/montage.png"
echo "The trained model on your own video (a file, a folder of frames or a camera index; its training
config, two-frame clips with dilation [-3], comes with the checkpoint):
    python tools/video_demo.py $WORK_DIR/stage2/latest.pth YOUR_VIDEO.mp4 --out $WORK_DIR/my_video"
