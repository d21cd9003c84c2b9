from .hmr_metric import HMRMetric
from .mean_pose_baseline_metric import MeanPoseBaselineMetric

__all__ = ['HMRMetric', 'MeanPoseBaselineMetric']
