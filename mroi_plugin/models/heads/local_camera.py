"""Local camera decoder of Multi-RoI HMR: one crop camera per RoI (DESIGN.md §5.3)."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.geometry import BBOX_INFO_CHANNELS, decode_crop_camera, encode_crop_camera
from mroi_plugin.registry import MODELS
from mroi_plugin.utils.typing_utils import OptConfigType

from .iterative_regressor import (
    DEFAULT_DROPOUT,
    DEFAULT_HIDDEN_CHANNELS,
    DEFAULT_INIT_CAM,
    DEFAULT_NUM_ITERS,
    IterativeRegressor,
    check_head_inputs,
)

__all__ = ['LocalCamera']



@MODELS.register_module()
class LocalCamera(BaseModule):
    """Iterative regressor on ``[F_i ; info_i]`` -> crop camera ``(s_i, tx_i, ty_i)``.

    The same weights serve every RoI: each RoI's identity reaches the regressor through its
    own fused feature ``F_i`` and its own bbox_info (not all RoIs' bbox_infos in a fixed
    order, as in the authors' regressor, official_code_notes.md §8.6).

    Args:
        in_channels (int): Feature size ``D`` of ``F_i``.
        num_iters (int): Feedback iterations. Defaults to 3.
        init_cam (Sequence[float], optional): Start camera ``(s, tx, ty)``; None gives SPIN's
            mean camera (0.9, 0, 0). :class:`MultiRoIHead` passes the mean-parameter file's.
        hidden_channels (int): Width of the regressor. Defaults to 1024.
        dropout (float): Dropout probability. Defaults to 0.5.
        act_cfg (dict, optional): Activation in the regressor; None as in CLIFF.
        scale_param (str): How the regressor encodes the crop scale ``s``: ``'linear'``
            (CLIFF) or ``'log'`` (positive by construction; steadier from scratch).
            See :func:`mroi_plugin.geometry.decode_crop_camera`. Defaults to 'linear'.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_iters: int = DEFAULT_NUM_ITERS,
                 init_cam: Optional[Sequence[float]] = None,
                 hidden_channels: int = DEFAULT_HIDDEN_CHANNELS,
                 dropout: float = DEFAULT_DROPOUT,
                 act_cfg: OptConfigType = None,
                 scale_param: str = 'linear',
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_cam is None:
            init_cam = DEFAULT_INIT_CAM
        if len(init_cam) != 3:
            raise ValueError(f'LocalCamera: init_cam must be (s, tx, ty), got {init_cam!r}.')
        self.in_channels = in_channels
        self.scale_param = scale_param
        self.regressor = IterativeRegressor(
            in_channels,
            init_params=dict(cam=encode_crop_camera(torch.as_tensor(init_cam), scale_param)),
            cond_channels=BBOX_INFO_CHANNELS,
            num_iters=num_iters,
            hidden_channels=hidden_channels,
            dropout=dropout,
            act_cfg=act_cfg)

    def forward(self, roi_feats: Tensor, bbox_info: Tensor) -> Tensor:
        """Regress one crop camera per RoI.

        Args:
            roi_feats (Tensor): ``(B, N, D)`` RoI-specific (fused) features ``F_i``.
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info of each RoI.

        Returns:
            Tensor: ``(B, N, 3)`` crop cameras ``(s, tx, ty)``.
        """
        check_head_inputs(type(self).__name__, self.in_channels, roi_feats, None, bbox_info)
        return decode_crop_camera(self.regressor(roi_feats, bbox_info)['cam'], self.scale_param)
