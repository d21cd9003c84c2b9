"""The Multi-RoI authors' HRNet feature aggregation: 4 branches -> one vector per crop."""
import copy
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['HRNetAggregation']

KERNEL_SIZE = 3
STRIDE = 2


@MODELS.register_module()
class HRNetAggregation(BaseModule):
    """Bring every HRNet branch to the lowest resolution, concatenate, average-pool.

    Branch i of ``n`` goes through ``n - 1 - i`` blocks of stride-2 3x3 conv (channels
    kept) + BN + ReLU, so all branches reach the last branch's resolution (1/32 for
    HRNet); the maps are concatenated along channels and adaptive-average-pooled to
    ``(B, sum(in_channels))``: D = 48 + 96 + 192 + 384 = 720 for W48, 480 for W32
    (docs/method.md#roi-aware-fusion; the authors' ``hrnet_w48(downsample=True,
    use_conv=True)``). ``downsamples.{i}.{k}`` hold the same layers, in the same
    order, as the authors' ``downsample_stage_{i+1}.{k}``.

    Args:
        in_channels (Sequence[int]): Channels of the branches, highest resolution first.
            Defaults to HRNet-W48's ``(48, 96, 192, 384)``.
        init_cfg (dict | list[dict], optional): Defaults to the authors' (and mmpose's
            HRNet) normal(std=0.001) convolutions and unit BN scales.

    Attributes:
        out_channels (int): ``D = sum(in_channels)``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (48, 96, 192, 384),
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', std=0.001, layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg=copy.deepcopy(init_cfg))
        self.in_channels = tuple(in_channels)
        if not self.in_channels:
            raise ValueError('HRNetAggregation: in_channels must list the branch widths.')
        num_branches = len(self.in_channels)
        self.downsamples = nn.ModuleList()
        for i, channels in enumerate(self.in_channels):
            layers = []
            for _ in range(num_branches - 1 - i):
                layers += [
                    nn.Conv2d(channels, channels, KERNEL_SIZE, stride=STRIDE,
                              padding=KERNEL_SIZE // 2, bias=False),
                    nn.BatchNorm2d(channels),
                    nn.ReLU(inplace=True)
                ]
            self.downsamples.append(nn.Sequential(*layers))
        self.out_channels = sum(self.in_channels)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Aggregate.

        Args:
            feats (Sequence[Tensor]): The backbone's branch maps ``(B, C_i, H_i, W_i)``,
                ``H_{i+1} = ceil(H_i / 2)`` (as HRNet produces), ``C_i = in_channels[i]``.

        Returns:
            Tensor: ``(B, sum(in_channels))``.
        """
        if isinstance(feats, Tensor) or len(feats) != len(self.in_channels):
            got = 'a single tensor' if isinstance(feats, Tensor) else f'{len(feats)} maps'
            raise ValueError(f'HRNetAggregation expects {len(self.in_channels)} branch maps '
                             f'(in_channels={self.in_channels}), got {got}; use an HRNet '
                             'backbone with multiscale_output=True.')
        maps = []
        for i, (feat, downsample) in enumerate(zip(feats, self.downsamples)):
            if feat.shape[1] != self.in_channels[i]:
                raise ValueError(f'HRNetAggregation: branch {i} has {feat.shape[1]} channels, '
                                 f'in_channels says {self.in_channels[i]}.')
            maps.append(downsample(feat))
        sizes = {tuple(m.shape[-2:]) for m in maps}
        if len(sizes) != 1:
            raise ValueError(f'HRNetAggregation: downsampled branch sizes differ ({sorted(sizes)})'
                             '; branch i+1 must be branch i at half resolution (rounded up).')
        return F.adaptive_avg_pool2d(torch.cat(maps, dim=1), 1).flatten(1)
