"""HRNet's ImageNet classification head as a pooling neck: 4 branches -> one 2048-d vector."""
import copy
from typing import Optional, Sequence, Union

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.resnet import Bottleneck, make_res_layer
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['HRNetClsNeck']

# HRNet's cls_hrnet head widens branch i to head_channels[i] * Bottleneck.expansion
# (128, 256, 512, 1024) before merging; these are the widths of every released head.
DEFAULT_HEAD_CHANNELS = (32, 64, 128, 256)
DEFAULT_OUT_CHANNELS = 2048
KERNEL_SIZE = 3
STRIDE = 2


@MODELS.register_module()
class HRNetClsNeck(BaseModule):
    """HRNet's ImageNet classification head without its classifier, as CLIFF-HR48 pools.

    Branch ``i`` first goes through one Bottleneck (``incre_modules.{i}``) that widens it to
    ``4 * head_channels[i]``; then, from the highest resolution down, the running map is
    halved by a stride-2 3x3 conv (with bias) + BN + ReLU (``downsamp_modules.{i}``) and
    added to the next widened branch; a 1x1 conv (with bias) + BN + ReLU
    (``final_layer``) maps the result to ``out_channels`` and a global average pool gives
    ``(B, out_channels)``. This is ``HighResolutionNet._make_head`` / ``forward`` of HRNet's
    ``cls_hrnet.py``, which CLIFF-HR48's encoder ends with (2048-d feature); the module
    names are the same, so the weights of CLIFF-HR48 and of HRNet's ImageNet checkpoints map
    one to one (``tools/model_converters/convert_checkpoint.py``).

    Args:
        in_channels (Sequence[int]): Channels of the backbone's branches, highest resolution
            first. Defaults to HRNet-W48's ``(48, 96, 192, 384)``.
        head_channels (Sequence[int]): Bottleneck widths per branch (outputs are 4x).
            Defaults to ``(32, 64, 128, 256)``.
        out_channels (int): Width of the final 1x1 conv, i.e. of the pooled feature.
            Defaults to 2048.
        init_cfg (dict | list[dict], optional): Defaults to HRNet's own initialisation
            (Kaiming-normal fan-out convolutions, unit BN scales).

    Attributes:
        out_channels (int): ``D`` of the pooled feature.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (48, 96, 192, 384),
                 head_channels: Sequence[int] = DEFAULT_HEAD_CHANNELS,
                 out_channels: int = DEFAULT_OUT_CHANNELS,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', mode='fan_out', nonlinearity='relu', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg=copy.deepcopy(init_cfg))
        self.in_channels = tuple(int(c) for c in in_channels)
        self.head_channels = tuple(int(c) for c in head_channels)
        if not self.in_channels or len(self.head_channels) != len(self.in_channels):
            raise ValueError(
                f'HRNetClsNeck: in_channels {self.in_channels} and head_channels '
                f'{self.head_channels} must list one width per branch (same length, >= 1).')
        self.out_channels = int(out_channels)
        widths = [c * Bottleneck.expansion for c in self.head_channels]
        self.incre_modules = nn.ModuleList(
            make_res_layer(Bottleneck, in_c, head_c, 1)
            for in_c, head_c in zip(self.in_channels, self.head_channels))
        self.downsamp_modules = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(widths[i], widths[i + 1], KERNEL_SIZE, stride=STRIDE,
                          padding=KERNEL_SIZE // 2),
                nn.BatchNorm2d(widths[i + 1]),
                nn.ReLU(inplace=True)) for i in range(len(widths) - 1))
        self.final_layer = nn.Sequential(
            nn.Conv2d(widths[-1], self.out_channels, 1),
            nn.BatchNorm2d(self.out_channels),
            nn.ReLU(inplace=True))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Merge the branches and pool.

        Args:
            feats (Sequence[Tensor]): The backbone's branch maps ``(B, C_i, H_i, W_i)``
                with ``C_i = in_channels[i]`` and ``H_{i+1} = ceil(H_i / 2)`` (as HRNet
                produces; the stride-2 convs halve sizes the same way).

        Returns:
            Tensor: ``(B, out_channels)``.
        """
        if isinstance(feats, Tensor) or len(feats) != len(self.in_channels):
            got = 'a single tensor' if isinstance(feats, Tensor) else f'{len(feats)} maps'
            raise ValueError(f'HRNetClsNeck expects {len(self.in_channels)} branch maps '
                             f'(in_channels={self.in_channels}), got {got}; use an HRNet '
                             'backbone with multiscale_output=True.')
        for i, feat in enumerate(feats):
            if feat.dim() != 4 or feat.shape[1] != self.in_channels[i]:
                raise ValueError(f'HRNetClsNeck: branch {i} has shape {tuple(feat.shape)}, '
                                 f'expected (B, {self.in_channels[i]}, H, W).')
        y = self.incre_modules[0](feats[0])
        for i, downsample in enumerate(self.downsamp_modules):
            y = self.incre_modules[i + 1](feats[i + 1]) + downsample(y)
        y = self.final_layer(y)
        return F.adaptive_avg_pool2d(y, 1).flatten(1)
