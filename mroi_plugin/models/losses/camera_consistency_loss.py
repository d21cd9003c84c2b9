"""Camera consistency between the local cameras of a person's RoIs.

See docs/method.md#camera-consistency-loss.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mroi_plugin.geometry import MIN_PERSON_BBOX_SCALE, cam_crop_to_full
from mroi_plugin.registry import MODELS

__all__ = ['CameraConsistencyLoss']

# Per-axis weights (lambda_x, lambda_y, lambda_s) of the paper
# (docs/method.md#camera-consistency-loss).
DEFAULT_AXIS_WEIGHTS = (0.1, 0.1, 1e-4)
# With the log depth term, lambda_s weighs a squared log ratio: 1.0 makes a 10 % depth
# disagreement cost 0.1 * (0.1 m)^2-scale translation terms' order (0.01 * 1.0).
DEFAULT_LOG_AXIS_WEIGHTS = (0.1, 0.1, 1.0)
PAIR_MODES = ('all', 'star')
# How the depths of two RoIs' cameras are compared: 'bs' the paper's (b_i s_i - b_j s_j)^2
# in (px/m)^2, 'log' (log(b_i s_i) - log(b_j s_j))^2 = (log(Tz_j / Tz_i))^2.
DEPTH_TERMS = ('bs', 'log')
# The released code's constants (docs/method.md#what-differs-from-the-authors-code-and-why):
# 1e-4 multiplies the b*s difference inside the square, and b*s gets + 1e-9 (here: the clamp
# above instead).
OFFICIAL_SCALE_FACTOR = 1e-4


@MODELS.register_module()
class CameraConsistencyLoss(nn.Module):
    """All RoIs of a person see one full-image camera; penalise disagreement.

    With ``bs_k = b_k s_k`` and the full camera ``T_k = cam_crop_to_full(cam_k, ...)`` of
    RoI ``k`` (CLIFF's formulas, :mod:`mroi_plugin.geometry`), over the chosen pairs
    ``(i, j)`` of each person::

        L = lambda_x mean (Tx_i - Tx_j)^2 + lambda_y mean (Ty_i - Ty_j)^2
            + lambda_s mean (bs_i - bs_j)^2                   (means over pairs and people)

    Equal ``b s`` is equal depth ``Tz = 2 f / (b s)``, compared in pixels per metre as the
    paper does (``depth_term='bs'``). That term's size grows with the image resolution
    (``b`` is in pixels), so one ``lambda_s`` does not suit two datasets, and it is weakest
    where the depth error in metres is largest (far people have small ``b s``).
    ``depth_term='log'`` compares relative depth instead::

        lambda_s mean (log |b_i s_i| - log |b_j s_j|)^2  =  lambda_s mean (log(Tz_j / Tz_i))^2

    which is dimensionless, the same for any resolution or focal length, and charges a 10 %
    depth disagreement alike at any distance (``|b s|`` is clamped to ``eps`` first).
    ``pairs='all'`` uses every unordered pair ``i < j``; ``'star'`` the pairs ``(0, j)``,
    j >= 1, with the original RoI. Every axis is its own term.

    ``compat_official=True`` reproduces the released code for comparisons
    (docs/method.md#what-differs-from-the-authors-code-and-why): star pairs
    including the self pair (0, 0) in the mean, x and y summed before squaring, and the scale
    factor 1e-4 inside the square::

        L = mean_{b, j} (dTx_0j + dTy_0j)^2 + mean_{b, j} (1e-4 (bs_j - bs_0))^2

    ``axis_weights`` and ``pairs`` then cannot be set (it would be an unused value), except
    ``pairs='star'``.

    ``|b s|`` is clamped to at least ``eps`` in the crop -> full conversion, so a scale
    collapsing to 0 gives finite values and gradients (the b*s term needs no guard).

    Args:
        loss_weight (float): Multiplies the loss. Defaults to 1.0.
        axis_weights (Sequence[float], optional): ``(lambda_x, lambda_y, lambda_s)``; None
            gives the paper's (0.1, 0.1, 1e-4), or (0.1, 0.1, 1.0) with
            ``depth_term='log'``.
        pairs (str, optional): ``'all'`` (default) or ``'star'``.
        compat_official (bool): Use the released code's formula. Defaults to False.
        eps (float): Smallest ``|b s|``, pixels per metre. Defaults to
            ``MIN_PERSON_BBOX_SCALE`` (1.0), the smallest scale of a real person.
        depth_term (str): ``'bs'`` (default, the paper's) or ``'log'`` (relative depth).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 axis_weights: Optional[Sequence[float]] = None,
                 pairs: Optional[str] = None,
                 compat_official: bool = False,
                 eps: float = MIN_PERSON_BBOX_SCALE,
                 depth_term: str = 'bs') -> None:
        super().__init__()
        if depth_term not in DEPTH_TERMS:
            raise ValueError(f'CameraConsistencyLoss: depth_term must be one of {DEPTH_TERMS}, '
                             f'got {depth_term!r}.')
        if compat_official:
            if depth_term != 'bs':
                raise ValueError('CameraConsistencyLoss: compat_official=True uses the released '
                                 "code's b*s depth term; remove depth_term or set "
                                 'compat_official=False.')
            if axis_weights is not None:
                raise ValueError('CameraConsistencyLoss: axis_weights is not used with '
                                 'compat_official=True (the released formula has fixed '
                                 'weights); remove it or set compat_official=False.')
            if pairs not in (None, 'star'):
                raise ValueError(f'CameraConsistencyLoss: compat_official=True uses star pairs; '
                                 f'got pairs={pairs!r}.')
            pairs = 'star'
        pairs = 'all' if pairs is None else pairs
        if pairs not in PAIR_MODES:
            raise ValueError(f'CameraConsistencyLoss: pairs must be one of {PAIR_MODES}, got '
                             f'{pairs!r}.')
        if axis_weights is None:
            axis_weights = DEFAULT_LOG_AXIS_WEIGHTS if depth_term == 'log' else DEFAULT_AXIS_WEIGHTS
        axis_weights = tuple(axis_weights)
        if len(axis_weights) != 3:
            raise ValueError(f'CameraConsistencyLoss: axis_weights must be (lambda_x, '
                             f'lambda_y, lambda_s), got {axis_weights!r}.')
        if eps <= 0:
            raise ValueError(f'CameraConsistencyLoss: eps must be > 0, got {eps!r}.')
        self.loss_weight = loss_weight
        self.axis_weights = tuple(float(w) for w in axis_weights)
        self.pairs = pairs
        self.compat_official = compat_official
        self.eps = eps
        self.depth_term = depth_term

    def pair_indices(self, num_rois: int, device: torch.device) -> Tuple[Tensor, Tensor]:
        """Index vectors ``(i, j)`` of the compared RoI pairs, each ``(P,)``."""
        if self.compat_official:
            first = torch.zeros(num_rois, dtype=torch.long, device=device)
            return first, torch.arange(num_rois, device=device)
        if self.pairs == 'star':
            second = torch.arange(1, num_rois, device=device)
            return torch.zeros_like(second), second
        first, second = torch.triu_indices(num_rois, num_rois, offset=1, device=device)
        return first, second

    def forward(self, pred_cam_crop: Tensor, roi_centers: Tensor, roi_sizes: Tensor,
                focal_length: Tensor, principal_point: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred_cam_crop (Tensor): ``(B, N, 3)`` crop cameras ``(s, tx, ty)``.
            roi_centers (Tensor): ``(B, N, 2)`` RoI centres, pixels (virtual full image).
            roi_sizes (Tensor): ``(B, N)`` RoI sizes ``b`` (heights), pixels.
            focal_length (Tensor): ``(B,)`` focal length, pixels.
            principal_point (Tensor): ``(B, 2)`` principal point, pixels.

        Returns:
            Tensor: scalar loss (0, attached to the graph, when N = 1).
        """
        self._check_inputs(pred_cam_crop, roi_centers, roi_sizes, focal_length,
                           principal_point)
        num_rois = pred_cam_crop.shape[1]
        if num_rois < 2:
            return pred_cam_crop.sum() * 0
        focal = focal_length.unsqueeze(1).expand_as(roi_sizes)
        principal = principal_point.unsqueeze(1).expand_as(roi_centers)
        cam_full = cam_crop_to_full(
            pred_cam_crop, roi_centers, roi_sizes, focal, principal, eps=self.eps)
        bbox_scale = roi_sizes.to(pred_cam_crop.dtype) * pred_cam_crop[..., 0]  # (B, N)
        first, second = self.pair_indices(num_rois, pred_cam_crop.device)
        diff_xy = cam_full[:, first, :2] - cam_full[:, second, :2]  # (B, P, 2)
        if self.depth_term == 'log':
            log_bs = bbox_scale.abs().clamp(min=self.eps).log()
            diff_bs = log_bs[:, first] - log_bs[:, second]  # (B, P)
        else:
            diff_bs = bbox_scale[:, first] - bbox_scale[:, second]  # (B, P)
        if self.compat_official:
            loss = (diff_xy.sum(dim=-1)**2).mean() + ((OFFICIAL_SCALE_FACTOR * diff_bs)**2).mean()
        else:
            weight_x, weight_y, weight_s = self.axis_weights
            loss = (weight_x * (diff_xy[..., 0]**2).mean() + weight_y *
                    (diff_xy[..., 1]**2).mean() + weight_s * (diff_bs**2).mean())
        return self.loss_weight * loss

    @staticmethod
    def _check_inputs(pred_cam_crop: Tensor, roi_centers: Tensor, roi_sizes: Tensor,
                      focal_length: Tensor, principal_point: Tensor) -> None:
        if pred_cam_crop.dim() != 3 or pred_cam_crop.shape[-1] != 3:
            raise ValueError(f'CameraConsistencyLoss: pred_cam_crop must have shape (B, N, 3),'
                             f' got {tuple(pred_cam_crop.shape)}.')
        batch, num_rois = pred_cam_crop.shape[:2]
        expected = {
            'roi_centers': (roi_centers, (batch, num_rois, 2)),
            'roi_sizes': (roi_sizes, (batch, num_rois)),
            'focal_length': (focal_length, (batch, )),
            'principal_point': (principal_point, (batch, 2)),
        }
        for name, (value, shape) in expected.items():
            if tuple(value.shape) != shape:
                raise ValueError(f'CameraConsistencyLoss: {name} must have shape {shape} to '
                                 f'match pred_cam_crop (B, N, 3) = {(batch, num_rois, 3)}, got '
                                 f'{tuple(value.shape)}.')
