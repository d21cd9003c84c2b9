"""Losses on SMPL parameters: pose (as rotation matrices) and shape."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mroi_plugin.geometry import axis_angle_to_rotmat
from mroi_plugin.registry import MODELS

from .utils import check_same_shape, select_valid, valid_sample_mask, zero_loss

__all__ = ['SMPLPoseLoss', 'SMPLBetasLoss']


class _MaskedMSELoss(nn.Module):
    """What the SMPL parameter losses share: a weight and an MSE over available samples.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def masked_mse(self, pred: Tensor, target: Tensor, valid: Optional[Tensor],
                   sample_shape: torch.Size) -> Tensor:
        """``loss_weight`` x the mean squared error over the samples ``valid`` marks.

        Args:
            pred (Tensor): ``(*S, ...)`` predictions.
            target (Tensor): Targets of ``pred``'s shape.
            valid (Tensor, optional): Per-sample availability, a prefix of ``S``;
                ``> 0`` = available. Defaults to all.
            sample_shape (torch.Size): ``S``.

        Returns:
            Tensor: Scalar; a graph-connected zero when no sample is available.
        """
        name = type(self).__name__
        check_same_shape(pred, target, name)
        mask = valid_sample_mask(valid, sample_shape, pred.device, name)
        if not mask.any():
            return zero_loss(pred)
        pred, target = select_valid(mask, pred, target)
        return self.loss_weight * ((pred - target)**2).mean()


@MODELS.register_module()
class SMPLPoseLoss(_MaskedMSELoss):
    """MSE between predicted rotation matrices and the ground-truth pose (SPIN/CLIFF).

    The ground truth may be axis-angle (converted with
    :func:`mroi_plugin.geometry.axis_angle_to_rotmat`) or rotation matrices.
    ``loss = loss_weight * sum_{valid s, j, 3x3} (R_pred - R_gt)^2 / (S_valid J 9)``
    (mean over every matrix entry of the available samples; unavailable samples are
    dropped, not zero-filled).

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(*S, J, 3, 3)`` predicted rotations (J = 24 for SMPL:
                global orientation first).
            target (Tensor): ``(*S, J, 3)`` or ``(*S, 3 J)`` axis-angle (radians), or
                ``(*S, J, 3, 3)`` rotation matrices.
            valid (Tensor, optional): Per-sample availability, a prefix of ``S``;
                ``> 0`` = available. Defaults to all.

        Returns:
            Tensor: Scalar; a graph-connected zero when no sample is available.
        """
        name = type(self).__name__
        if pred.dim() < 3 or pred.shape[-2:] != (3, 3):
            raise ValueError(f'{name}: pred must be (*S, J, 3, 3) rotation matrices, got '
                             f'{tuple(pred.shape)}.')
        target = torch.as_tensor(target).to(pred)
        sample_shape, num_joints = pred.shape[:-3], pred.shape[-3]
        if target.shape == sample_shape + (3 * num_joints, ):
            target = target.reshape(sample_shape + (num_joints, 3))
        if target.shape == sample_shape + (num_joints, 3):
            target = axis_angle_to_rotmat(target)
        return self.masked_mse(pred, target, valid, sample_shape)


@MODELS.register_module()
class SMPLBetasLoss(_MaskedMSELoss):
    """MSE on SMPL shape coefficients, masked by per-sample availability.

    ``loss = loss_weight * sum_{valid s, k} (beta_pred - beta_gt)^2 / (S_valid K)``.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(*S, K)`` predicted betas (K = 10).
            target (Tensor): ``(*S, K)`` ground-truth betas.
            valid (Tensor, optional): Per-sample availability, a prefix of ``S``;
                ``> 0`` = available. Defaults to all.

        Returns:
            Tensor: Scalar; a graph-connected zero when no sample is available.
        """
        target = torch.as_tensor(target).to(pred)
        return self.masked_mse(pred, target, valid, pred.shape[:-1])
