"""Position-keeping pooling for small backbones: squeeze channels, flatten the grid, project."""
from typing import Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['SpatialFlattenPooling']


@MODELS.register_module()
class SpatialFlattenPooling(BaseModule):
    """Map ``(B, C, H, W)`` -> ``(B, out_channels)`` keeping *where* each feature fired.

    Global average pooling suits deep backbones whose last map already encodes position
    (ResNet-50's receptive field covers the whole crop). A shallow backbone's last map
    does not, and averaging it leaves a bag of body parts with no layout, from which the
    articulation cannot be read. This pooling squeezes the channels with a 1x1 conv,
    resamples the map to a fixed ``grid`` (so any crop size works), flattens it and
    projects the ``squeeze_channels * gh * gw`` values with one linear layer.

    Args:
        in_channels (int): Channels ``C`` of the pooled backbone map.
        out_channels (int): Output vector size ``D``.
        squeeze_channels (int): Channels after the 1x1 conv. Defaults to 32.
        grid (Sequence[int]): ``(gh, gw)`` the map is resampled to. Defaults to (6, 5),
            the last map of a 4-stage stride-16 backbone on 96x72 crops.
        in_index (int): Which map of the backbone's tuple to pool. Defaults to -1.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 squeeze_channels: int = 32,
                 grid: Sequence[int] = (6, 5),
                 in_index: int = -1) -> None:
        super().__init__()
        grid = tuple(int(g) for g in grid)
        if len(grid) != 2 or min(grid) < 1:
            raise ValueError(f'SpatialFlattenPooling: grid must be (gh, gw) >= 1, got {grid}.')
        if min(in_channels, out_channels, squeeze_channels) < 1:
            raise ValueError(
                'SpatialFlattenPooling: in_channels, out_channels and squeeze_channels must be '
                f'positive, got {in_channels}, {out_channels}, {squeeze_channels}.')
        self.grid: Tuple[int, int] = grid
        self.in_index = in_index
        self.squeeze = nn.Sequential(
            nn.Conv2d(in_channels, squeeze_channels, 1, bias=False),
            nn.BatchNorm2d(squeeze_channels), nn.ReLU(inplace=True))
        self.project = nn.Sequential(
            nn.Linear(squeeze_channels * grid[0] * grid[1], out_channels), nn.ReLU(inplace=True))

    def forward(self, feats) -> Tensor:
        """Pool.

        Args:
            feats (Tensor | Sequence[Tensor]): One map ``(B, C, H, W)`` or the backbone's
                tuple of maps (``in_index`` selects one).

        Returns:
            Tensor: ``(B, out_channels)``.
        """
        feat = feats if isinstance(feats, Tensor) else feats[self.in_index]
        if feat.dim() != 4:
            raise ValueError('SpatialFlattenPooling expects (B, C, H, W) maps, got shape '
                             f'{tuple(feat.shape)}.')
        squeezed = self.squeeze(feat)
        if tuple(squeezed.shape[-2:]) != self.grid:
            squeezed = F.adaptive_avg_pool2d(squeezed, self.grid)
        return self.project(squeezed.flatten(1))
