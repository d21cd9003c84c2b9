"""TorchThreadsHook pins torch's intra-op threads before the run."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger

from mroi_plugin.engine import TorchThreadsHook


def test_sets_the_thread_count_and_validates_it():
    before = torch.get_num_threads()
    runner = SimpleNamespace(logger=MMLogger.get_instance('threads_hook_test'))
    try:
        TorchThreadsHook(num_threads=1).before_run(runner)
        assert torch.get_num_threads() == 1
        TorchThreadsHook(num_threads=None).before_run(runner)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match='num_threads must be >= 1'):
        TorchThreadsHook(num_threads=0)
