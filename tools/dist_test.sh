#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Launches tools/test.py with torchrun; on a machine without CUDA the processes
# use gloo on the CPU, so GPUS is then the number of CPU processes.
usage="Usage: $0 CONFIG CHECKPOINT GPUS [test.py options]
  GPUS: processes on this node (one per GPU; CPU processes without CUDA),
  e.g. $0 configs/quickstart/mroi_synthetic.py work_dirs/mroi_synthetic/epoch_16.pth 2"
source "$(dirname "$0")/launch_checks.sh"
require_args 3 "CONFIG, CHECKPOINT and GPUS" $#
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
require_count "GPUS (the 3rd argument)" "$GPUS"
# The checkpoint may be a URL; tools/test.py checks it.
require_config "$CONFIG"
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
torchrun \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
