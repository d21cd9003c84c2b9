from .eval_progress_bar_hook import EvalProgressBarHook
from .hmr_visualization_hook import HMRVisualizationHook
from .iteration_seed_hook import IterationSeedHook
from .torch_threads_hook import TorchThreadsHook

__all__ = ['TorchThreadsHook', 'IterationSeedHook', 'HMRVisualizationHook', 'EvalProgressBarHook']
