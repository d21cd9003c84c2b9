"""ResNet backbone: a thin wrapper of ``mmcv.cnn.ResNet`` with mmengine initialisation."""
import copy
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import ResNet as MMCVResNet
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

from .utils import check_pretrained_checkpoint, freeze_batch_norm

__all__ = ['ResNet']

# Channels of stage i are BASE_CHANNELS * 2**i * block.expansion (He et al., 2016).
BASE_CHANNELS = 64


@MODELS.register_module()
class ResNet(MMCVResNet, BaseModule):
    """ResNet backbone (He et al., CVPR'16) returning a tuple of feature maps.

    The layers are ``mmcv.cnn.ResNet``'s (pure Python, also in mmcv-lite); this class adds
    mmengine's ``init_cfg`` (so ``Pretrained`` loading works), ``norm_eval`` and
    ``frozen_stages`` as in mmpose/mmdet, and always returns a tuple.

    Parameter names are those of mmpose's / mmpretrain's ``ResNet`` (and torchvision's,
    minus ``fc``): a plain 7x7 stem ``conv1``/``bn1`` (no ``stem.*``: the deep-stem
    variants ``ResNetV1c``/``ResNetV1d`` are not supported), then ``layer{1..4}.{block}``
    with ``conv1..3``/``bn1..3`` and ``downsample.0`` (1x1 conv) / ``downsample.1`` (BN)
    on the first block of a stage. So an mmpose top-down checkpoint (e.g.
    ``td-hm_res50_8xb64-210e_coco-256x192``) or an mmpretrain classifier loads with::

        init_cfg=dict(type='Pretrained', checkpoint='path/to.pth', prefix='backbone.')

    Strides: stage i has stride ``4 * 2**i`` w.r.t. the input (4, 8, 16, 32); channels
    are (256, 512, 1024, 2048) for depth >= 50 and (64, 128, 256, 512) for 18/34.

    Args:
        depth (int): 18, 34, 50, 101 or 152. Defaults to 50.
        num_stages (int): Number of residual stages, 1..4. Defaults to 4.
        strides (Sequence[int]): Stride of the first block of each stage.
        dilations (Sequence[int]): Dilation of each stage.
        out_indices (Sequence[int]): Stages whose outputs are returned, in order.
            Defaults to ``(3, )`` (the last stage, as HMR/CLIFF use).
        style (str): ``'pytorch'`` (stride on the 3x3 conv, as mmpose) or ``'caffe'``.
        frozen_stages (int): Stages (0 = stem, i = ``layer{i}``) whose parameters are
            frozen and whose BN layers stay in eval mode; -1 freezes nothing.
        norm_eval (bool): Keep every BN layer in eval mode during training (frozen
            running statistics). Defaults to False, as HMR/SPIN/CLIFF fine-tune BN.
        with_cp (bool): Gradient checkpointing in bottleneck blocks (not depth 18/34).
        init_cfg (dict | list[dict], optional): mmengine initialisation config. Defaults
            to Kaiming-normal convolutions and unit BN scales.

    Example:
        >>> import torch
        >>> backbone = ResNet(depth=18, out_indices=(0, 3))
        >>> [tuple(f.shape) for f in backbone(torch.rand(1, 3, 64, 48))]
        [(1, 64, 16, 12), (1, 512, 2, 2)]
    """

    def __init__(self,
                 depth: int = 50,
                 num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3, ),
                 style: str = 'pytorch',
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        if depth not in self.arch_settings:
            raise ValueError(
                f'ResNet: depth must be one of {sorted(self.arch_settings)}, got {depth}.')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'ResNet: num_stages must be in 1..4, got {num_stages}.')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(
                f'ResNet: out_indices must be non-empty stage indices in [0, {num_stages}), '
                f'got {out_indices}.')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(
                f'ResNet: frozen_stages must be in [-1, {num_stages}], got {frozen_stages}.')
        if with_cp and depth < 50:
            raise ValueError('ResNet: with_cp is only supported for bottleneck ResNets '
                             f'(depth >= 50), got depth {depth}.')
        # mmcv's own train() logic (bn_eval/bn_frozen) is replaced by ours below.
        MMCVResNet.__init__(
            self,
            depth=depth,
            num_stages=num_stages,
            strides=strides,
            dilations=dilations,
            out_indices=out_indices,
            style=style,
            frozen_stages=frozen_stages,
            bn_eval=False,
            bn_frozen=False,
            with_cp=with_cp)
        # MMCVResNet.__init__ reached BaseModule.__init__ without an init_cfg.
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        self.init_cfg = copy.deepcopy(init_cfg)
        self.depth = depth
        self.norm_eval = norm_eval
        block = self.arch_settings[depth][0]
        self.out_channels: Tuple[int, ...] = tuple(
            BASE_CHANNELS * 2**i * block.expansion for i in out_indices)
        self._freeze_stages()

    def init_weights(self) -> None:
        """Initialise from ``init_cfg`` (mmengine), checking a pretrained path first."""
        check_pretrained_checkpoint(self.init_cfg, type(self).__name__)
        BaseModule.init_weights(self)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract features.

        Args:
            x (Tensor): ``(B, 3, H, W)`` normalised images.

        Returns:
            tuple[Tensor]: One ``(B, C_i, H / s_i, W / s_i)`` map per ``out_indices``
            entry (``C_i = self.out_channels[i]``, ``s_i = 4 * 2**index``; sizes round up).
        """
        outs = super().forward(x)
        return outs if isinstance(outs, tuple) else (outs, )

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for module in (self.conv1, self.bn1):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet':
        """Set train/eval mode, keeping frozen stages and (if ``norm_eval``) BN in eval."""
        nn.Module.train(self, mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            freeze_batch_norm(self)
        return self
