#!/usr/bin/env bash
# Distributed testing on torchrun: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments]
# Several nodes: set NNODES, NODE_RANK and MASTER_ADDR (and PORT) on every node.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [--eval mIoU mVC] [--options data.test.test_size=N] ..." >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PORT=${PORT:-$((29500 + RANDOM % 20000))}
PYTHON=${PYTHON:-python}
DIR=$(cd "$(dirname "$0")" && pwd)
LAUNCH=("$PYTHON" -m torch.distributed.run
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR"
    --nproc_per_node="$GPUS" --master_port="$PORT"
    "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@")
FILTER="$DIR/../mmseg/utils/launch_filter.py"
if [ -n "${THEMASK_DEBUG:-}" ] || [ ! -f "$FILTER" ]; then
    exec "${LAUNCH[@]}"
fi
# stderr goes through the filter: a user error appears once, without torchrun's failure report
set +e
{ "${LAUNCH[@]}" 2>&1 1>&3 3>&- | "$PYTHON" "$FILTER" 1>&2 3>&-; } 3>&1
exit "${PIPESTATUS[0]}"
