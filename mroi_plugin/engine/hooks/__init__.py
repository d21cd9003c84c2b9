from .torch_threads_hook import TorchThreadsHook

__all__ = ['TorchThreadsHook']
