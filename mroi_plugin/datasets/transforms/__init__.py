from .augmentation import RandomColorScale, RandomFlipHMR, RandomScaleRotation, flip_smpl_pose
from .formatting import PackHMRInputs
from .get_bbox_center_scale import GetBBoxCenterScale, pipeline_crop_box
from .loading import AnnotationOutOfImageError, ImageLoadError, LoadImage
from .multi_roi_context_crop import MultiRoIContextCrop
from .multi_roi_crop import ROI_TABLE_5, ROI_TABLE_9, MultiRoICrop, get_roi_layout

__all__ = [
    'LoadImage', 'ImageLoadError', 'AnnotationOutOfImageError', 'GetBBoxCenterScale',
    'pipeline_crop_box', 'RandomFlipHMR',
    'RandomScaleRotation', 'RandomColorScale',
    'flip_smpl_pose', 'MultiRoICrop', 'MultiRoIContextCrop', 'get_roi_layout', 'ROI_TABLE_5',
    'ROI_TABLE_9',
    'PackHMRInputs'
]
