#!/usr/bin/env bash
# Distributed training on torchrun: tools/dist_train.sh CONFIG GPUS [train.py arguments]
# Several nodes: set NNODES, NODE_RANK and MASTER_ADDR (and PORT) on every node (see dist_launch.sh).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CONFIG GPUS [--work-dir DIR] [--options k=v ...] [--finetune-from CKPT] ..." >&2; exit 2; }
CONFIG=$1 GPUS=$2
shift 2
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/dist_launch.sh" "$GPUS" "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
