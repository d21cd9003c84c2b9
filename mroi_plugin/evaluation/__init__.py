from .hmr_metric import HMRMetric

__all__ = ['HMRMetric']
