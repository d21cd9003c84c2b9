from .camera_consistency_loss import CameraConsistencyLoss
from .contrastive_loss import MultiRoIContrastiveLoss, multi_roi_supcon_loss, supcon_loss
from .keypoint_loss import Keypoint3DLoss, KeypointMSELoss
from .smpl_loss import SMPLBetasLoss, SMPLPoseLoss
from .vertex_loss import VertexL1Loss

__all__ = [
    'KeypointMSELoss', 'Keypoint3DLoss', 'SMPLPoseLoss', 'SMPLBetasLoss', 'VertexL1Loss',
    'CameraConsistencyLoss', 'MultiRoIContrastiveLoss', 'supcon_loss', 'multi_roi_supcon_loss'
]
