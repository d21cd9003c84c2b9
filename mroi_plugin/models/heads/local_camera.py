"""Local camera decoder of Multi-RoI HMR: one crop camera per RoI.

See docs/method.md#localcamera-decoder.
"""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.geometry import (
    DEFAULT_CROP_CAMERA,
    ROI_LAYOUT_CHANNELS,
    carry_crop_camera,
    decode_crop_camera,
    encode_crop_camera,
)
from mroi_plugin.registry import MODELS
from mroi_plugin.utils.typing_utils import OptConfigType

from .iterative_regressor import (
    DEFAULT_DROPOUT,
    DEFAULT_HIDDEN_CHANNELS,
    DEFAULT_NUM_ITERS,
    bbox_info_regressor,
    check_head_inputs,
)

__all__ = ['LocalCamera', 'INIT_MODES']

# 'carried': each RoI starts at the mean camera carried to its own box; 'shared': every RoI
# starts at the same camera (the authors' released code).
INIT_MODES = ('carried', 'shared')


@MODELS.register_module()
class LocalCamera(BaseModule):
    """Iterative regressor on ``[F_i ; info_i (; layout_i)]`` -> crop camera of each RoI.

    The same weights serve every RoI, so the regressor must be told which RoI it decodes,
    and it must start near that RoI's camera. Neither comes for free:

    * **Start.** A RoI ``k`` of size ``r_k b_0`` centred ``d_k b_0`` away from the original
      box sees the body with crop scale ``s_0 / r_k`` and translation ``t_0 - 2 d_k / s_0``
      (:func:`~mroi_plugin.geometry.carry_crop_camera`); with the paper's RoIs (0.65x-1.5x)
      the true scales differ by 2.3x between RoIs. ``init_mode='carried'`` starts RoI ``k``
      at the mean camera ``init_cam`` (of the original box) carried to its own box, so the
      regressor predicts a residual that is the same for every RoI when the person is at
      the mean place, and the start cameras of a person's RoIs are consistent (the
      camera-consistency loss is zero there). ``'shared'`` starts every RoI at
      ``init_cam``, as the authors' regressor does.
    * **Identity.** Absolute bbox_info does not name a RoI (``b / f`` varies several-fold
      across images), and the fused features ``F_i`` of a person's RoIs are made alike by
      the contrastive loss. ``layout_input=True`` appends the RoI's
      :func:`~mroi_plugin.geometry.relative_roi_layout` ``[log r_k, d_k]``, which does.

    ``init_mode='shared', layout_input=False`` is the released code's decoder (for
    comparisons).

    Args:
        in_channels (int): Feature size ``D`` of ``F_i``.
        num_iters (int): Feedback iterations. Defaults to 3.
        init_cam (Sequence[float], optional): Mean camera ``(s, tx, ty)`` of the original
            box; None gives SPIN's (0.9, 0, 0). :class:`MultiRoIHead` passes the
            mean-parameter file's (the training data's mean when the file has one).
        hidden_channels (int): Width of the regressor. Defaults to 1024.
        dropout (float): Dropout probability. Defaults to 0.5.
        act_cfg (dict, optional): Activation in the regressor; None as in CLIFF.
        scale_param (str): How the regressor encodes the crop scale ``s``: ``'linear'``
            (CLIFF) or ``'log'`` (positive by construction; steadier from scratch).
            See :func:`mroi_plugin.geometry.decode_crop_camera`. Defaults to 'linear'.
        init_mode (str): ``'carried'`` (default) or ``'shared'``, see above.
        layout_input (bool): Condition on the RoI layout as well as on bbox_info.
            Defaults to True.
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
                 init_mode: str = 'carried',
                 layout_input: bool = True,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_cam is None:
            init_cam = DEFAULT_CROP_CAMERA
        if len(init_cam) != 3:
            raise ValueError(f'LocalCamera: init_cam must be (s, tx, ty), got {init_cam!r}.')
        if init_mode not in INIT_MODES:
            raise ValueError(f'LocalCamera: init_mode must be one of {INIT_MODES}, got '
                             f'{init_mode!r}.')
        self.in_channels = in_channels
        self.scale_param = scale_param
        self.init_mode = init_mode
        self.layout_input = layout_input
        start = encode_crop_camera(torch.as_tensor(init_cam, dtype=torch.float32), scale_param)
        self.regressor = bbox_info_regressor(
            in_channels, dict(cam=start),
            dict(num_iters=num_iters, hidden_channels=hidden_channels, dropout=dropout,
                 act_cfg=act_cfg),
            extra_cond_channels=ROI_LAYOUT_CHANNELS if layout_input else 0)

    @property
    def needs_layout(self) -> bool:
        """Whether :meth:`forward` reads ``roi_layout``."""
        return self.init_mode == 'carried' or self.layout_input

    def start_cameras(self, roi_layout: Tensor) -> Tensor:
        """Where each RoI's iterations start (``init_mode``), ``(B, N, 3)`` crop cameras.

        Args:
            roi_layout (Tensor): ``(B, N, 3)`` from
                :func:`~mroi_plugin.geometry.relative_roi_layout`.
        """
        # The regressor's buffer holds the start in its own parameterisation.
        init_cam = decode_crop_camera(self.regressor.init_value('cam'), self.scale_param)
        init_cam = init_cam.to(roi_layout.dtype)
        if self.init_mode == 'shared':
            return init_cam.expand_as(roi_layout)
        return carry_crop_camera(init_cam, roi_layout)

    def forward(self, roi_feats: Tensor, bbox_info: Tensor,
                roi_layout: Optional[Tensor] = None) -> Tensor:
        """Regress one crop camera per RoI.

        Args:
            roi_feats (Tensor): ``(B, N, D)`` RoI-specific (fused) features ``F_i``.
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info of each RoI.
            roi_layout (Tensor, optional): ``(B, N, 3)`` layout of the RoIs relative to
                RoI 0 (:func:`~mroi_plugin.geometry.relative_roi_layout`); needed unless
                ``init_mode='shared'`` and ``layout_input=False``. With one RoI it is zeros
                and may be left out.

        Returns:
            Tensor: ``(B, N, 3)`` crop cameras ``(s, tx, ty)``.
        """
        check_head_inputs(type(self).__name__, self.in_channels, roi_feats, None, bbox_info)
        if not self.needs_layout:
            return decode_crop_camera(self.regressor(roi_feats, bbox_info)['cam'],
                                      self.scale_param)
        if roi_layout is None:
            if roi_feats.shape[1] != 1:
                raise ValueError(
                    f'LocalCamera(init_mode={self.init_mode!r}, layout_input='
                    f'{self.layout_input}) needs roi_layout (B, N, 3) for N = '
                    f'{roi_feats.shape[1]} RoIs: pass mroi_plugin.geometry.relative_roi_layout'
                    '(roi_centers, roi_sizes) (MultiRoIHMR does), or set init_mode=\'shared\', '
                    'layout_input=False for the released code\'s decoder.')
            roi_layout = bbox_info.new_zeros(bbox_info.shape[:2] + (ROI_LAYOUT_CHANNELS, ))
        if roi_layout.shape != bbox_info.shape[:2] + (ROI_LAYOUT_CHANNELS, ):
            raise ValueError(f'LocalCamera: roi_layout must have shape (B, N, 3) = '
                             f'{tuple(bbox_info.shape[:2]) + (ROI_LAYOUT_CHANNELS, )}, got '
                             f'{tuple(roi_layout.shape)}.')
        roi_layout = roi_layout.to(roi_feats.dtype)
        cond = torch.cat([bbox_info.to(roi_feats.dtype), roi_layout], dim=-1) \
            if self.layout_input else bbox_info
        init = dict(cam=encode_crop_camera(self.start_cameras(roi_layout), self.scale_param))
        return decode_crop_camera(self.regressor(roi_feats, cond, init=init)['cam'],
                                  self.scale_param)
