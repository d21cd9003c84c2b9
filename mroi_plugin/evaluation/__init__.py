from .hmr_metric import HMRMetric
from .mean_pose_baseline_metric import MeanPoseBaselineMetric, mean_rotation

__all__ = ['HMRMetric', 'MeanPoseBaselineMetric', 'mean_rotation']
