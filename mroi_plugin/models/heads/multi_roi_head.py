"""Multi-RoI HMR head: one shared mesh per person, one local camera per RoI.

See docs/method.md#heads.
"""
from typing import Dict, Optional

from mmengine.model import BaseModule
from torch import Tensor

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

__all__ = ['MultiRoIHead']



@MODELS.register_module()
class MultiRoIHead(BaseModule):
    """Mesh decoder on the shared feature + a camera decoder on each RoI's feature.

    * Mesh decoder: iterative regressor on ``[F̄ ; info_0]`` (the shared feature and the
      original RoI's bbox_info) -> one pose (6D) and one set of betas per person.
    * Camera decoder (``LocalCamera`` by default): iterative regressor on ``[F_i ; info_i]``
      (and the RoI's layout relative to the original box) -> one crop camera per RoI, with
      shared weights, each RoI starting from the mean camera carried to its own box.

    Both start from the mean parameters (``mean_params``: the training data's mean pose,
    shape and crop camera of the original box). The camera decoder config gets
    ``in_channels``, ``init_cam`` (the mean camera), ``num_iters``, ``hidden_channels``,
    ``dropout`` and ``act_cfg`` from this head unless it sets them itself, and is called as
    ``decoder(roi_feats, bbox_info, roi_layout)``, so a replacement decoder type must
    accept those arguments.

    Args:
        in_channels (int): Feature size ``D`` of ``F_i`` and ``F̄``.
        mean_params (str, optional): Path of ``smpl_mean_params.npz``; None starts from the
            identity pose, zero betas and camera (0.9, 0, 0).
        num_iters (int): Feedback iterations of both decoders. Defaults to 3.
        num_betas (int): Shape coefficients. Defaults to 10.
        hidden_channels (int): Width of the regressors. Defaults to 1024.
        dropout (float): Dropout probability in the regressors. Defaults to 0.5.
        act_cfg (dict, optional): Activation in the regressors; None as in CLIFF.
        camera_decoder (dict, optional): Camera decoder config; None gives
            ``dict(type='LocalCamera')``.
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
                 camera_decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if camera_decoder is None:
            camera_decoder = dict(type='LocalCamera')
        self.in_channels = in_channels
        self.num_betas = num_betas
        camera_cfg = dict(camera_decoder)
        means = load_mean_params(mean_params, num_betas,
                                 camera_cfg.get('scale_param', 'linear'))
        settings = dict(num_iters=num_iters, hidden_channels=hidden_channels, dropout=dropout,
                        act_cfg=act_cfg)
        self.mesh_decoder = bbox_info_regressor(
            in_channels, dict(pose=means['pose'], betas=means['shape']), settings)
        camera_cfg.setdefault('in_channels', in_channels)
        camera_cfg.setdefault('init_cam', means['cam'].tolist())
        for key, value in settings.items():
            camera_cfg.setdefault(key, value)
        self.camera_decoder = MODELS.build(camera_cfg)

    def forward(self,
                roi_feats: Tensor,
                shared_feat: Tensor,
                bbox_info: Tensor,
                roi_layout: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Regress the shared mesh and the per-RoI crop cameras.

        Args:
            roi_feats (Tensor): ``(B, N, D)`` RoI-specific features ``F_i``.
            shared_feat (Tensor): ``(B, D)`` RoI-shared feature ``F̄``.
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info; RoI 0 is the original box.
            roi_layout (Tensor, optional): ``(B, N, 3)`` RoI layout relative to RoI 0
                (:func:`~mroi_plugin.geometry.relative_roi_layout`), for the camera
                decoder (``LocalCamera`` needs it for N > 1 unless it runs the released
                code's decoder).

        Returns:
            dict[str, Tensor]: ``pred_rotmat (B, 24, 3, 3)``, ``pred_pose6d (B, 144)``,
            ``pred_betas (B, num_betas)`` and ``pred_cam_crop (B, N, 3)``.
        """
        if shared_feat is None:
            raise ValueError('MultiRoIHead: shared_feat (B, D) is required (the mesh decoder '
                             'reads it); use a neck or pass roi_feats.mean(dim=1).')
        check_head_inputs(type(self).__name__, self.in_channels, roi_feats, shared_feat,
                          bbox_info)
        mesh = self.mesh_decoder(shared_feat, bbox_info[:, 0])
        return head_outputs(mesh['pose'], mesh['betas'],
                            self.camera_decoder(roi_feats, bbox_info, roi_layout))
