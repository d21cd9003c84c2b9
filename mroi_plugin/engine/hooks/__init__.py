from .iteration_seed_hook import IterationSeedHook
from .torch_threads_hook import TorchThreadsHook

__all__ = ['TorchThreadsHook', 'IterationSeedHook']
