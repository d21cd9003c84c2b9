"""A small, fast CPU backbone for the synthetic quickstart and tests."""
import copy
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

from .utils import NormEvalMixin

__all__ = ['TinyConvNet']

KERNEL_SIZE = 3


@MODELS.register_module()
class TinyConvNet(NormEvalMixin, BaseModule):
    """Plain stack of conv-BN-ReLU stages; each stage halves the resolution.

    Stage i is one stride-2 3x3 conv to ``widths[i]`` channels followed by
    ``num_convs[i] - 1`` stride-1 3x3 convs (all conv(no bias) -> BN -> ReLU), so stage i
    has stride ``2**(i+1)``. The default (16, 32, 64, 128) x 2 convs costs about 40 M
    multiply-adds (~0.1 GFLOP) at a 128x96 input and has 0.29 M parameters.
    Not a model for real images: it exists so that the synthetic quickstart trains in
    minutes on a CPU.

    Args:
        in_channels (int): Input image channels. Defaults to 3.
        widths (Sequence[int]): Output channels of each stage.
        num_convs (int | Sequence[int]): Convs per stage (>= 1), one value for all
            stages or one per stage. Defaults to 2.
        out_indices (Sequence[int], optional): Stages whose outputs are returned.
            Defaults to the last stage.
        norm_eval (bool): Keep BN layers in eval mode during training.
        init_cfg (dict | list[dict], optional): Defaults to Kaiming convolutions and
            unit BN scales.

    Example:
        >>> import torch
        >>> net = TinyConvNet(widths=(8, 16), out_indices=(0, 1))
        >>> [tuple(f.shape) for f in net(torch.rand(2, 3, 64, 48))]
        [(2, 8, 32, 24), (2, 16, 16, 12)]
    """

    def __init__(self,
                 in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64, 128),
                 num_convs: Union[int, Sequence[int]] = 2,
                 out_indices: Optional[Sequence[int]] = None,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg=copy.deepcopy(init_cfg))
        widths = tuple(widths)
        if not widths or min(widths) < 1:
            raise ValueError(f'TinyConvNet: widths must be positive, got {widths}.')
        if isinstance(num_convs, int):
            num_convs = (num_convs, ) * len(widths)
        num_convs = tuple(num_convs)
        if len(num_convs) != len(widths) or min(num_convs) < 1:
            raise ValueError(f'TinyConvNet: num_convs must be >= 1, one per stage of widths '
                             f'{widths}; got {num_convs}.')
        out_indices = (len(widths) - 1, ) if out_indices is None else tuple(out_indices)
        if not out_indices or any(not 0 <= i < len(widths) for i in out_indices):
            raise ValueError(f'TinyConvNet: out_indices must index the {len(widths)} stages, '
                             f'got {out_indices}.')
        self.out_indices = out_indices
        self.norm_eval = norm_eval
        self.out_channels: Tuple[int, ...] = tuple(widths[i] for i in out_indices)

        self.stages = nn.ModuleList()
        channels = in_channels
        for width, count in zip(widths, num_convs):
            layers = []
            for k in range(count):
                layers += [
                    nn.Conv2d(channels, width, KERNEL_SIZE, stride=2 if k == 0 else 1,
                              padding=KERNEL_SIZE // 2, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True)
                ]
                channels = width
            self.stages.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract features.

        Args:
            x (Tensor): ``(B, C_in, H, W)`` normalised images.

        Returns:
            tuple[Tensor]: ``(B, widths[i], ceil(H / 2**(i+1)), ceil(W / 2**(i+1)))`` for
            each ``i`` in ``out_indices``.
        """
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
