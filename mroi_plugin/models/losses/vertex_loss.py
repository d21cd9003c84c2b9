"""L1 loss on mesh vertices."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mroi_plugin.registry import MODELS

from .utils import check_same_shape, select_valid, valid_sample_mask, zero_loss

__all__ = ['VertexL1Loss']


@MODELS.register_module()
class VertexL1Loss(nn.Module):
    """L1 between predicted and ground-truth vertices, masked by per-sample availability.

    ``loss = loss_weight * sum_{valid s, v, d} |pred_svd - target_svd| / (S_valid V 3)``
    (mean over every coordinate of the available samples; unavailable samples are
    dropped, not zero-filled).

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        center (bool): Translate each mesh so its reference point is at the origin
            before comparing. The reference point is ``pred_root`` / ``target_root`` if
            given to ``forward`` (e.g. the pelvis regressed from the mesh, as the
            Multi-RoI authors do), else the vertex centroid. Defaults to False
            (SPIN/CLIFF compare body-frame vertices as they are).
    """

    def __init__(self, loss_weight: float = 1.0, center: bool = False) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.center = center

    def forward(self,
                pred: Tensor,
                target: Tensor,
                valid: Optional[Tensor] = None,
                pred_root: Optional[Tensor] = None,
                target_root: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(*S, V, 3)`` predicted vertices (metres).
            target (Tensor): ``(*S, V, 3)`` ground-truth vertices.
            valid (Tensor, optional): Per-sample availability, a prefix of ``S``;
                ``> 0`` = available. Defaults to all.
            pred_root, target_root (Tensor, optional): ``(*S, 3)`` reference points for
                ``center=True``; give both or neither.

        Returns:
            Tensor: Scalar; a graph-connected zero when no sample is available.
        """
        name = type(self).__name__
        target = torch.as_tensor(target).to(pred)
        check_same_shape(pred, target, name)
        if (pred_root is None) != (target_root is None):
            raise ValueError(f'{name}: give both pred_root and target_root, or neither.')
        if pred_root is not None and not self.center:
            raise ValueError(f'{name}: pred_root/target_root were given but center=False; '
                             'set center=True in the loss config to use them.')
        if self.center:
            if pred_root is None:
                pred_root, target_root = pred.mean(dim=-2), target.mean(dim=-2)
            else:
                target_root = torch.as_tensor(target_root).to(pred)
                for root_name, root in (('pred_root', pred_root), ('target_root', target_root)):
                    if root.shape != pred.shape[:-2] + pred.shape[-1:]:
                        raise ValueError(f'{name}: {root_name} {tuple(root.shape)} must be '
                                         f'{tuple(pred.shape[:-2] + pred.shape[-1:])}.')
            pred = pred - pred_root.unsqueeze(-2)
            target = target - target_root.unsqueeze(-2)
        mask = valid_sample_mask(valid, pred.shape[:-2], pred.device, name)
        if not mask.any():
            return zero_loss(pred)
        pred, target = select_valid(mask, pred, target)
        return self.loss_weight * (pred - target).abs().mean()
