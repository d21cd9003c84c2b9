"""HRNet backbone (Sun et al., CVPR'19), parameter-compatible with mmpose's ``HRNet``."""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.resnet import BasicBlock, Bottleneck, make_res_layer
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

from .utils import NormEvalMixin, check_pretrained_checkpoint

__all__ = ['HRNet', 'HRModule']

BLOCKS = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}
# The stem (two stride-2 3x3 convs) always has this width, whatever the HRNet width.
STEM_CHANNELS = 64
STAGE_NAMES = ('stage1', 'stage2', 'stage3', 'stage4')


def _hrnet_extra(width: int) -> Dict[str, dict]:
    """mmpose's stage layout of HRNet-W{width}: branch i of stages 2-4 has width * 2**i."""
    return dict(
        stage1=dict(
            num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
            num_channels=(64, )),
        stage2=dict(
            num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
            num_channels=(width, width * 2)),
        stage3=dict(
            num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
            num_channels=(width, width * 2, width * 4)),
        stage4=dict(
            num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
            num_channels=(width, width * 2, width * 4, width * 8)))


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int,
             relu: bool) -> nn.Sequential:
    """``conv(no bias) -> BN [-> ReLU]`` with mmpose's child indices 0, 1 [, 2]."""
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels)
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """One high-resolution module: parallel residual branches, then multi-scale fusion.

    Output branch i is ``ReLU(sum_j fuse[i][j](x_j))`` where ``fuse[i][i]`` is the
    identity, ``j > i`` is a 1x1 conv + BN then upsampling to branch i's size, and
    ``j < i`` is ``i - j`` stride-2 3x3 convs (BN, and ReLU except after the last).

    Args:
        num_branches (int): Number of parallel branches.
        block (type): ``BasicBlock`` or ``Bottleneck`` (mmcv).
        num_blocks (Sequence[int]): Residual blocks per branch.
        in_channels (Sequence[int]): Input channels per branch.
        num_channels (Sequence[int]): Block widths per branch (output channels are
            ``num_channels[i] * block.expansion``).
        multiscale_output (bool): Output every branch (True) or only branch 0.
        upsample_cfg (dict): ``mode`` / ``align_corners`` of the upsampling.
    """

    def __init__(self,
                 num_branches: int,
                 block: Any,
                 num_blocks: Sequence[int],
                 in_channels: Sequence[int],
                 num_channels: Sequence[int],
                 multiscale_output: bool = True,
                 upsample_cfg: Optional[dict] = None) -> None:
        super().__init__()
        for name, value in (('num_blocks', num_blocks), ('in_channels', in_channels),
                            ('num_channels', num_channels)):
            if len(value) != num_branches:
                raise ValueError(f'HRModule: num_branches is {num_branches} but {name} has '
                                 f'{len(value)} entries ({tuple(value)}).')
        self.num_branches = num_branches
        self.multiscale_output = multiscale_output
        self.upsample_cfg: Dict[str, Any] = dict(mode='nearest', align_corners=None)
        self.upsample_cfg.update(upsample_cfg or {})
        self.branches = nn.ModuleList(
            make_res_layer(block, in_channels[i], num_channels[i], num_blocks[i])
            for i in range(num_branches))
        self.out_channels = [c * block.expansion for c in num_channels]
        self.fuse_layers = self._make_fuse_layers() if num_branches > 1 else None
        self.relu = nn.ReLU(inplace=True)

    def _make_fuse_layers(self) -> nn.ModuleList:
        channels = self.out_channels
        num_outputs = self.num_branches if self.multiscale_output else 1
        fuse_layers = nn.ModuleList()
        for i in range(num_outputs):
            fuse_layer = nn.ModuleList()
            for j in range(self.num_branches):
                if j > i:
                    # Upsampling happens in forward (to the exact size of branch i).
                    fuse_layer.append(_conv_bn(channels[j], channels[i], 1, 1, relu=False))
                elif j == i:
                    fuse_layer.append(nn.Identity())
                else:
                    steps = [
                        _conv_bn(channels[j], channels[j], 3, 2, relu=True)
                        for _ in range(i - j - 1)
                    ]
                    steps.append(_conv_bn(channels[j], channels[i], 3, 2, relu=False))
                    fuse_layer.append(nn.Sequential(*steps))
            fuse_layers.append(fuse_layer)
        return fuse_layers

    def forward(self, x: List[Tensor]) -> List[Tensor]:
        """Args: x (list[Tensor]): ``num_branches`` maps ``(B, C_i, H_i, W_i)``.

        Returns:
            list[Tensor]: ``num_branches`` maps (1 if not ``multiscale_output``).
        """
        x = [branch(feat) for branch, feat in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        outs = []
        for i, fuse_layer in enumerate(self.fuse_layers):
            size = x[i].shape[-2:]
            total = x[i]
            for j, fuse in enumerate(cast(nn.ModuleList, fuse_layer)):
                if j == i:
                    continue
                y = fuse(x[j])
                if y.shape[-2:] != size:
                    y = F.interpolate(y, size=size, **self.upsample_cfg)
                total = total + y
            outs.append(self.relu(total))
        return outs


@MODELS.register_module()
class HRNet(NormEvalMixin, BaseModule):
    """HRNet backbone returning the 4 branch maps (W48: 48/96/192/384 channels).

    Structure and parameter/buffer names follow mmpose's ``HRNet`` so that mmpose's
    top-down COCO checkpoints (e.g. ``td-hm_hrnet-w48_8xb32-210e_coco-256x192``) load with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``:
    ``conv1``/``bn1``/``conv2``/``bn2`` (stem), ``layer1`` (stage 1), ``transition{1,2,3}``,
    ``stage{2,3,4}.{module}.branches.{branch}.{block}`` and
    ``stage{k}.{module}.fuse_layers.{i}.{j}...``.

    One difference: mmpose's pose models keep only branch 0 from the last module of stage
    4 (``multiscale_output=False``), so their checkpoints lack
    ``stage4.{last}.fuse_layers.{1,2,3}``. Multi-RoI HMR needs all four branches, so
    ``multiscale_output`` defaults to True here; those fuse layers then keep their own
    initialisation (mmengine reports them as missing keys), as in the authors' code.
    Set ``extra['stage4']['multiscale_output'] = False`` for mmpose's exact layout.

    Input sizes need not be multiples of 32: branch sizes round up and upsampled maps
    are resized to the exact size of the branch they join.

    Args:
        arch (str, optional): ``'w32'`` or ``'w48'`` (mmpose's layouts). Defaults to
            ``'w48'`` when ``extra`` is None; give one of ``arch`` / ``extra``.
        extra (dict, optional): mmpose-style stage config: ``stage1``..``stage4``, each
            with ``num_modules``, ``num_branches``, ``block`` (``'BASIC'`` /
            ``'BOTTLENECK'``), ``num_blocks``, ``num_channels``; ``stage4`` may set
            ``multiscale_output``; an optional ``upsample`` dict (``mode``,
            ``align_corners``) configures the fusion upsampling.
        in_channels (int): Input image channels. Defaults to 3.
        norm_eval (bool): Keep BN layers in eval mode during training. Defaults to False.
        init_cfg (dict | list[dict], optional): mmengine initialisation config. Defaults
            to mmpose's: normal(std=0.001) convolutions and unit BN scales.

    Example:
        >>> import torch
        >>> backbone = HRNet(arch='w32')
        >>> [tuple(f.shape) for f in backbone(torch.rand(1, 3, 64, 64))]
        [(1, 32, 16, 16), (1, 64, 8, 8), (1, 128, 4, 4), (1, 256, 2, 2)]
    """

    arch_settings = {'w32': _hrnet_extra(32), 'w48': _hrnet_extra(48)}

    def __init__(self,
                 arch: Optional[str] = None,
                 extra: Optional[dict] = None,
                 in_channels: int = 3,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', std=0.001, layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg=init_cfg)
        if arch is not None and extra is not None:
            raise ValueError('HRNet: give either arch or extra, not both '
                             f'(got arch={arch!r} and an extra dict).')
        if extra is None:
            arch = 'w48' if arch is None else arch
            if arch not in self.arch_settings:
                raise ValueError(f'HRNet: arch must be one of {sorted(self.arch_settings)}, '
                                 f'got {arch!r}; or pass an mmpose-style extra dict.')
            extra = self.arch_settings[arch]
        self.extra = self._check_extra(copy.deepcopy(extra))
        self.norm_eval = norm_eval
        upsample_cfg = self.extra.get('upsample')

        self.conv1 = nn.Conv2d(in_channels, STEM_CHANNELS, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS)
        self.conv2 = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, 3, stride=2, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(STEM_CHANNELS)
        self.relu = nn.ReLU(inplace=True)

        stage1 = self.extra['stage1']
        block = BLOCKS[stage1['block']]
        self.layer1 = make_res_layer(block, STEM_CHANNELS, stage1['num_channels'][0],
                                     stage1['num_blocks'][0])
        channels = [stage1['num_channels'][0] * block.expansion]

        for k in (2, 3, 4):
            cfg = self.extra[f'stage{k}']
            block = BLOCKS[cfg['block']]
            out_channels = [c * block.expansion for c in cfg['num_channels']]
            self.add_module(f'transition{k - 1}',
                            self._make_transition(channels, out_channels))
            multiscale = cfg.get('multiscale_output', True) if k == 4 else True
            modules = []
            in_channels_k = out_channels
            for m in range(cfg['num_modules']):
                last = m == cfg['num_modules'] - 1
                modules.append(
                    HRModule(cfg['num_branches'], block, cfg['num_blocks'], in_channels_k,
                             cfg['num_channels'], multiscale_output=multiscale or not last,
                             upsample_cfg=upsample_cfg))
                in_channels_k = modules[-1].out_channels
            self.add_module(f'stage{k}', nn.Sequential(*modules))
            channels = in_channels_k
        self.out_channels: Tuple[int, ...] = tuple(
            channels if self.extra['stage4'].get('multiscale_output', True) else channels[:1])

    @staticmethod
    def _check_extra(extra: dict) -> dict:
        keys = ('num_modules', 'num_branches', 'block', 'num_blocks', 'num_channels')
        unknown = sorted(set(extra) - set(STAGE_NAMES) - {'upsample'})
        if unknown:
            raise KeyError(f'HRNet: unknown extra keys {unknown}; allowed: {STAGE_NAMES} '
                           "and 'upsample'.")
        for stage in STAGE_NAMES:
            if stage not in extra:
                raise KeyError(f"HRNet: extra has no '{stage}' (needs {STAGE_NAMES}).")
            missing = [key for key in keys if key not in extra[stage]]
            if missing:
                raise KeyError(f'HRNet: extra[{stage!r}] lacks {missing}.')
            allowed = set(keys) | ({'multiscale_output'} if stage == 'stage4' else set())
            unknown = sorted(set(extra[stage]) - allowed)
            if unknown:
                raise KeyError(f'HRNet: unknown keys {unknown} in extra[{stage!r}]; '
                               f'allowed: {sorted(allowed)}.')
            for key in ('num_blocks', 'num_channels'):
                if len(extra[stage][key]) != extra[stage]['num_branches']:
                    raise ValueError(
                        f"HRNet: extra[{stage!r}]['{key}'] has {len(extra[stage][key])} "
                        f"entries but num_branches is {extra[stage]['num_branches']}.")
            if extra[stage]['block'] not in BLOCKS:
                raise ValueError(f"HRNet: extra[{stage!r}]['block'] must be one of "
                                 f"{sorted(BLOCKS)}, got {extra[stage]['block']!r}.")
        if extra['stage1']['num_branches'] != 1:
            raise ValueError('HRNet: stage1 must have exactly one branch.')
        for prev, cur in zip(STAGE_NAMES, STAGE_NAMES[1:]):
            if extra[cur]['num_branches'] < extra[prev]['num_branches']:
                raise ValueError(f'HRNet: {cur} has fewer branches than {prev}.')
        return extra

    @staticmethod
    def _make_transition(in_channels: Sequence[int],
                         out_channels: Sequence[int]) -> nn.ModuleList:
        """Existing branches change width by a 3x3 conv (or pass through); each new
        branch comes from the lowest-resolution input by stride-2 3x3 convs."""
        layers = nn.ModuleList()
        for i, out_c in enumerate(out_channels):
            if i < len(in_channels):
                if in_channels[i] == out_c:
                    layers.append(nn.Identity())
                else:
                    layers.append(_conv_bn(in_channels[i], out_c, 3, 1, relu=True))
            else:
                steps = []
                num_steps = i + 1 - len(in_channels)
                for s in range(num_steps):
                    out_s = out_c if s == num_steps - 1 else in_channels[-1]
                    steps.append(_conv_bn(in_channels[-1], out_s, 3, 2, relu=True))
                layers.append(nn.Sequential(*steps))
        return layers

    def init_weights(self) -> None:
        """Initialise from ``init_cfg`` (mmengine), checking a pretrained path first."""
        check_pretrained_checkpoint(self.init_cfg, type(self).__name__)
        super().init_weights()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract multi-resolution features.

        Args:
            x (Tensor): ``(B, 3, H, W)`` normalised images.

        Returns:
            tuple[Tensor]: Branch maps ``(B, C_i, ceil(H / 2**(i+2)), ceil(W / 2**(i+2)))``
            at strides 4, 8, 16, 32, with ``C_i = self.out_channels[i]``.
        """
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        feats = [self.layer1(x)]
        for k in (2, 3, 4):
            transition = getattr(self, f'transition{k - 1}')
            feats = [
                layer(feats[min(i, len(feats) - 1)]) for i, layer in enumerate(transition)
            ]
            feats = getattr(self, f'stage{k}')(feats)
        return tuple(feats)
