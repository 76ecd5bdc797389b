#!/usr/bin/env bash
# torchrun for tools/dist_train.sh and tools/dist_test.sh: dist_launch.sh GPUS SCRIPT [SCRIPT arguments]
#   NNODES, NODE_RANK, MASTER_ADDR, PORT   several nodes: set them on every node (one PORT for all)
#   PYTHON                                 the interpreter (default python)
#   THEMASK_DEBUG=1                        show torchrun's own failure report (and tracebacks)
set -euo pipefail
GPUS=$1
shift
case "$GPUS" in
    ''|*[!0-9]*|0*) echo "error: GPUS (processes per node) must be a positive integer such as 2, got '$GPUS'" >&2
                    exit 1 ;;
esac
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PORT=${PORT:-$((29500 + RANDOM % 20000))}
PYTHON=${PYTHON:-python}
DIR=$(cd "$(dirname "$0")" && pwd)
LAUNCH=("$PYTHON" -m torch.distributed.run
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR"
    --nproc_per_node="$GPUS" --master_port="$PORT" "$@")
FILTER="$DIR/toolkit/launch_filter.py"
if [ -n "${THEMASK_DEBUG:-}" ] || [ ! -f "$FILTER" ]; then
    exec "${LAUNCH[@]}"
fi
# stderr goes through the filter: a user error appears once, without torchrun's failure report
set +e
{ "${LAUNCH[@]}" 2>&1 1>&3 3>&- | "$PYTHON" "$FILTER" 1>&2 3>&-; } 3>&1
exit "${PIPESTATUS[0]}"
