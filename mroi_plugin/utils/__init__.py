from .dist import prepare_distributed_for_cpu
from .safe_load import allow_mmengine_checkpoint_globals, mmengine_checkpoint_globals
from .setup_env import register_all_modules

__all__ = [
    'prepare_distributed_for_cpu',
    'register_all_modules', 'allow_mmengine_checkpoint_globals',
    'mmengine_checkpoint_globals'
]
