#!/usr/bin/env bash
# Distributed testing on torchrun: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments]
# Several nodes: set NNODES, NODE_RANK and MASTER_ADDR (and PORT) on every node (see dist_launch.sh).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 CONFIG CHECKPOINT GPUS [--eval mIoU mVC] [--options data.test.test_size=N] ..." >&2; exit 2; }
CONFIG=$1 CHECKPOINT=$2 GPUS=$3
shift 3
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/dist_launch.sh" "$GPUS" "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
