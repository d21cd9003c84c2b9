from .global_pooling import GlobalAveragePooling
from .hrnet_aggregation import HRNetAggregation
from .positional_encoding import NeRFPositionalEncoding
from .roi_aware_fusion import RoIAwareFusion
from .spatial_flatten import SpatialFlattenPooling

__all__ = [
    'GlobalAveragePooling', 'HRNetAggregation', 'RoIAwareFusion', 'NeRFPositionalEncoding',
    'SpatialFlattenPooling'
]
