"""Data structures passed between the pipeline and the models."""
from .hmr_data_sample import (
    META_FIELDS,
    ROI_FIELDS,
    SHARED_FIELDS,
    HMRDataSample,
    stack_data_samples,
)

__all__ = ['HMRDataSample', 'stack_data_samples', 'ROI_FIELDS', 'SHARED_FIELDS', 'META_FIELDS']
