"""CLIFF's regression head: pose, shape and crop camera from each RoI's feature + bbox_info."""
from typing import Dict, Optional

from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.geometry import decode_crop_camera, encode_crop_camera
from mroi_plugin.registry import MODELS
from mroi_plugin.utils.typing_utils import OptConfigType

from .iterative_regressor import (
    DEFAULT_DROPOUT,
    DEFAULT_HIDDEN_CHANNELS,
    DEFAULT_NUM_ITERS,
    bbox_info_regressor,
    check_head_inputs,
    head_outputs,
    load_mean_params,
)

__all__ = ['CliffHead']



@MODELS.register_module()
class CliffHead(BaseModule):
    """CLIFF head (Li et al., ECCV'22): one iterative regressor on ``[f_i ; bbox_info_i]``.

    Pose (24 rotations in 6D), betas and the crop camera ``(s, tx, ty)`` are regressed
    jointly from each RoI's feature and its bbox_info, starting from the SMPL mean
    parameters (docs/method.md#mesh-decoder). With N = 1 this is CLIFF. With N > 1 (e.g.
    Multi-RoI crops without the Multi-RoI head) every RoI gets its own crop camera, but the
    mesh (pose and betas) is taken from RoI 0, the original box, as the authors' released
    code evaluates (docs/method.md#what-differs-from-the-authors-code-and-why),
    so the body model runs once per person; the pose and betas regressed for RoIs 1..N-1 only
    feed their own camera iterations.

    Args:
        in_channels (int): Feature size ``D`` of each RoI.
        mean_params (str, optional): Path of ``smpl_mean_params.npz`` (``pose (144,)``,
            ``shape (10,)``, ``cam (3,)``). None starts from the identity pose, zero betas and
            camera (0.9, 0, 0).
        num_iters (int): Feedback iterations. Defaults to 3.
        num_betas (int): Shape coefficients. Defaults to 10.
        hidden_channels (int): Width of the regressor. Defaults to 1024.
        dropout (float): Dropout probability in the regressor. Defaults to 0.5.
        act_cfg (dict, optional): Activation in the regressor; None as in CLIFF.
        scale_param (str): How the regressor encodes the crop scale ``s``: ``'linear'``
            (CLIFF) or ``'log'`` (positive by construction; steadier from scratch).
            See :func:`mroi_plugin.geometry.decode_crop_camera`. Defaults to 'linear'.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 mean_params: Optional[str] = None,
                 num_iters: int = DEFAULT_NUM_ITERS,
                 num_betas: int = 10,
                 hidden_channels: int = DEFAULT_HIDDEN_CHANNELS,
                 dropout: float = DEFAULT_DROPOUT,
                 act_cfg: OptConfigType = None,
                 scale_param: str = 'linear',
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_betas = num_betas
        self.scale_param = scale_param
        means = load_mean_params(mean_params, num_betas, scale_param)
        settings = dict(num_iters=num_iters, hidden_channels=hidden_channels, dropout=dropout,
                        act_cfg=act_cfg)
        self.regressor = bbox_info_regressor(
            in_channels,
            dict(pose=means['pose'], betas=means['shape'],
                 cam=encode_crop_camera(means['cam'], scale_param)), settings)

    def forward(self,
                roi_feats: Tensor,
                shared_feat: Optional[Tensor],
                bbox_info: Tensor,
                roi_layout: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Regress SMPL parameters and crop cameras.

        Args:
            roi_feats (Tensor): ``(B, N, D)`` per-RoI features.
            shared_feat (Tensor, optional): ``(B, D)``; not used by CLIFF (kept for the
                common head interface).
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info of each RoI.
            roi_layout (Tensor, optional): ``(B, N, 3)``; not used by CLIFF (kept for the
                common head interface: every RoI is regressed from its own crop).

        Returns:
            dict[str, Tensor]: ``pred_rotmat (B, 24, 3, 3)``, ``pred_pose6d (B, 144)``,
            ``pred_betas (B, num_betas)`` (from RoI 0) and ``pred_cam_crop (B, N, 3)``.
        """
        check_head_inputs(type(self).__name__, self.in_channels, roi_feats, shared_feat,
                          bbox_info)
        out = self.regressor(roi_feats, bbox_info)
        return head_outputs(out['pose'][:, 0], out['betas'][:, 0],
                            decode_crop_camera(out['cam'], self.scale_param))
