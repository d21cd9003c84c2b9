"""Confidence-weighted keypoint losses (2D reprojection and pelvis-centred 3D)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mroi_plugin.registry import MODELS

from .utils import check_same_shape, select_valid, valid_sample_mask, zero_loss

__all__ = ['KeypointMSELoss', 'Keypoint3DLoss']

# left_hip and right_hip in the smpl_24 convention (mroi_plugin.body_models): the pelvis
# is taken as their midpoint, as SPIN/CLIFF and the Multi-RoI code do.
SMPL24_HIP_INDICES = (1, 2)


def _split_target(pred: Tensor, target: Tensor, target_weight: Optional[Tensor],
                  loss: str) -> Tuple[Tensor, Tensor]:
    """Return ``(target (.., K, D), weight (.., K))`` with the weight defaulting to ones."""
    target = torch.as_tensor(target).to(pred)
    if target.shape[-1] == pred.shape[-1] + 1 and target.shape[:-1] == pred.shape[:-1]:
        if target_weight is not None:
            raise ValueError(f'{loss}: the target carries a confidence column '
                             f'({tuple(target.shape)}) and target_weight was given too; '
                             'pass only one of them.')
        return target[..., :-1], target[..., -1]
    check_same_shape(pred, target, loss)
    if target_weight is None:
        return target, pred.new_ones(pred.shape[:-1])
    target_weight = torch.as_tensor(target_weight).to(pred)
    if target_weight.shape != pred.shape[:-1]:
        raise ValueError(f'{loss}: target_weight {tuple(target_weight.shape)} must be '
                         f'{tuple(pred.shape[:-1])} (one confidence per keypoint).')
    return target, target_weight


@MODELS.register_module()
class KeypointMSELoss(nn.Module):
    """Confidence-weighted MSE on keypoints, masked by per-sample availability.

    ``loss = loss_weight * sum_{valid s, k, d} w_sk (pred_skd - target_skd)^2 / (S_valid K D)``

    i.e. the mean over every coordinate of the *available* samples, with the keypoint
    confidences as weights (SPIN/CLIFF; zero-confidence keypoints still count in the
    denominator). Unavailable samples are dropped, not zero-filled, so they neither
    contribute nor dilute the mean. Used for 2D keypoints in normalised crop coordinates
    ``(B, N, K, 2)`` (averaged over people and RoIs) and for 3D keypoints ``(B, K, 3)``.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                pred: Tensor,
                target: Tensor,
                target_weight: Optional[Tensor] = None,
                valid: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(*S, K, D)`` predicted keypoints; ``S`` are sample dims such
                as ``(B, )`` or ``(B, N)``.
            target (Tensor): ``(*S, K, D)``, or ``(*S, K, D + 1)`` with the confidence
                in the last column (then ``target_weight`` must be None).
            target_weight (Tensor, optional): ``(*S, K)`` keypoint confidences.
                Defaults to ones.
            valid (Tensor, optional): Per-sample availability, a prefix of ``S``
                (e.g. ``(B, )`` or ``(B, N)``); ``> 0`` = available. Defaults to all.

        Returns:
            Tensor: Scalar; a graph-connected zero when no sample is available.
        """
        name = type(self).__name__
        if pred.dim() < 2:
            raise ValueError(f'{name}: pred must be (*S, K, D), got {tuple(pred.shape)}.')
        target, weight = _split_target(pred, target, target_weight, name)
        pred, target = self._prepare(pred, target)
        mask = valid_sample_mask(valid, pred.shape[:-2], pred.device, name)
        if not mask.any():
            return zero_loss(pred)
        pred, target, weight = select_valid(mask, pred, target, weight)
        loss = (weight.unsqueeze(-1) * (pred - target)**2).mean()
        return self.loss_weight * loss

    def _prepare(self, pred: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        """Hook for subclasses to transform both point sets before the error."""
        return pred, target


@MODELS.register_module()
class Keypoint3DLoss(KeypointMSELoss):
    """:class:`KeypointMSELoss` on 3D keypoints after pelvis centring.

    Prediction and target are each translated so that their own pelvis (the mean of
    the ``pelvis_indices`` joints) is at the origin, which removes the global translation
    the network does not predict in the body frame. The target's pelvis is taken from
    its coordinates regardless of confidences, as SPIN/CLIFF do.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        pelvis_indices (Sequence[int]): Joints whose mean is the pelvis. Defaults to the
            hips of the ``smpl_24`` convention, ``(1, 2)``; use ``(0, )`` for a
            convention with a pelvis joint at index 0 (e.g. ``h36m_17``).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 pelvis_indices: Sequence[int] = SMPL24_HIP_INDICES) -> None:
        super().__init__(loss_weight=loss_weight)
        pelvis_indices = tuple(int(i) for i in pelvis_indices)
        if not pelvis_indices:
            raise ValueError('Keypoint3DLoss: pelvis_indices must name at least one joint.')
        self.pelvis_indices = pelvis_indices

    def _prepare(self, pred: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        num_joints = pred.shape[-2]
        if any(not -num_joints <= i < num_joints for i in self.pelvis_indices):
            raise ValueError(f'Keypoint3DLoss: pelvis_indices {self.pelvis_indices} out of '
                             f'range for {num_joints} keypoints; set them for the '
                             'keypoint convention in use.')
        index = list(self.pelvis_indices)
        pelvis_pred = pred[..., index, :].mean(dim=-2, keepdim=True)
        pelvis_target = target[..., index, :].mean(dim=-2, keepdim=True)
        return pred - pelvis_pred, target - pelvis_target
