from .global_pooling import GlobalAveragePooling
from .hrnet_aggregation import HRNetAggregation
from .hrnet_cls_neck import HRNetClsNeck
from .positional_encoding import NeRFPositionalEncoding
from .roi_aware_fusion import RoIAwareFusion
from .roi_feature_sampler import RoIFeatureSampler
from .spatial_flatten import SpatialFlattenPooling

__all__ = [
    'GlobalAveragePooling', 'HRNetAggregation', 'HRNetClsNeck', 'RoIAwareFusion',
    'NeRFPositionalEncoding', 'SpatialFlattenPooling', 'RoIFeatureSampler'
]
