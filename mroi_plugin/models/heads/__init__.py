from .cliff_head import CliffHead
from .iterative_regressor import IterativeRegressor, default_mean_params, load_mean_params
from .local_camera import LocalCamera
from .multi_roi_head import MultiRoIHead

__all__ = [
    'CliffHead', 'MultiRoIHead', 'LocalCamera', 'IterativeRegressor', 'load_mean_params',
    'default_mean_params'
]
