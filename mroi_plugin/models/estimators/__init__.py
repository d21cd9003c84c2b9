from .multi_roi_hmr import CLIFF, MultiRoIHMR

__all__ = ['MultiRoIHMR', 'CLIFF']
