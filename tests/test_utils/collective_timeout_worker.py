"""One rank of ``test_destroy_distributed``'s stalled-rank run (a script, not a test).

Usage: ``RANK=.. WORLD_SIZE=2 MASTER_ADDR=.. MASTER_PORT=.. python collective_timeout_worker.py
TIMEOUT_S WAKE_FILE``. Both ranks initialise gloo through ``prepare_distributed_for_cpu``
with ``env_cfg.dist_cfg.timeout=TIMEOUT_S``; rank 0 prints ``start <time>`` and enters an
all_reduce; rank 1 stalls (no collective) until ``WAKE_FILE`` exists, then enters its own.
"""
import os
import sys
import time

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from mroi_plugin.utils import (
    destroy_distributed,
    prepare_distributed_for_cpu,
    report_collective_failures,
)


def main(timeout_s: float, wake_file: str) -> None:
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=timeout_s))))
    assert prepare_distributed_for_cpu(cfg, 'pytorch'), 'run with CUDA_VISIBLE_DEVICES='
    try:
        if torch_dist.get_rank() == 1:
            deadline = time.time() + 300
            while not os.path.exists(wake_file) and time.time() < deadline:
                time.sleep(0.1)
        print(f'start {time.time()}', flush=True)
        with report_collective_failures(cfg):
            torch_dist.all_reduce(torch.ones(2))
        print('finished', flush=True)
    finally:
        destroy_distributed()


if __name__ == '__main__':
    main(float(sys.argv[1]), sys.argv[2])
