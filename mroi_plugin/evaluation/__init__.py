from .constant_camera_baseline_metric import ConstantCameraBaselineMetric
from .hmr_metric import HMRMetric
from .mean_pose_baseline_metric import MeanPoseBaselineMetric

__all__ = ['HMRMetric', 'MeanPoseBaselineMetric', 'ConstantCameraBaselineMetric']
