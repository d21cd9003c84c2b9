"""Pin the number of intra-op CPU threads torch uses in the training process."""
from typing import Optional

import torch
from mmengine.hooks import Hook

from mroi_plugin.registry import HOOKS

__all__ = ['TorchThreadsHook']


@HOOKS.register_module()
class TorchThreadsHook(Hook):
    """Set ``torch.set_num_threads`` before the run starts.

    On a small CPU machine the training process shares the cores with its
    DataLoader workers; torch's OpenMP threads then spin against them and a
    step can take several times longer than with one thread per process.
    Matching ``num_threads + num_workers`` to the cores avoids that.

    Args:
        num_threads (int, optional): Threads for the main process; None keeps
            torch's default.
    """

    priority = 'VERY_HIGH'

    def __init__(self, num_threads: Optional[int] = 1) -> None:
        if num_threads is not None and num_threads < 1:
            raise ValueError(f'TorchThreadsHook: num_threads must be >= 1, got {num_threads}.')
        self.num_threads = num_threads

    def before_run(self, runner) -> None:
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
            runner.logger.info(f'torch uses {self.num_threads} CPU thread(s) in this process.')
