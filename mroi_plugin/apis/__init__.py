from .prepare_data import prepare_data
from .runner import build_runner, default_work_dir

__all__ = ['prepare_data', 'build_runner', 'default_work_dir']
