from .hmr_data_preprocessor import HMRDataPreprocessor

__all__ = ['HMRDataPreprocessor']
