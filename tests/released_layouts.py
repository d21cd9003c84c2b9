"""Key names and shapes of released checkpoint layouts, for the conversion and parity tests.

The names come from the public code of each release (read, not imported): CLIFF
(huawei-noah/noah-research ``CLIFF/models/cliff_res50/cliff.py``, ``cliff_hr48/cliff.py``,
``models/backbones/resnet.py``, ``models/backbones/hrnet/cls_hrnet.py`` with
``cls_hrnet_w48_sgd_lr5e-2_wd1e-4_bs32_x100.yaml``), Multi-RoI's ``models/hrnet_re.py`` and
mmpose's HRNet (same backbone names). The backbones, hundreds of repetitive keys, are enumerated
by small generators that follow those sources' module structure (block counts, widths,
Sequential indices). ``tests/test_models/test_cliff_parity.py`` checks the CLIFF layouts against
the state dicts of the official models (recorded key counts and digests).
"""
from typing import Dict, Tuple

__all__ = [
    'Shapes', 'conv_shapes', 'bn_shapes', 'bottleneck_shapes', 'basic_shapes', 'resnet50_keys',
    'hrnet_w48_body_keys', 'cliff_cls_head_keys', 'CLIFF_HEAD', 'cliff_layout'
]

Shapes = Dict[str, Tuple[int, ...]]


def conv_shapes(name: str, out_ch: int, in_ch: int, k: int, bias: bool = False) -> Shapes:
    shapes = {f'{name}.weight': (out_ch, in_ch, k, k)}
    if bias:
        shapes[f'{name}.bias'] = (out_ch, )
    return shapes


def bn_shapes(name: str, ch: int) -> Shapes:
    return {f'{name}.{p}': (ch, ) for p in ('weight', 'bias', 'running_mean', 'running_var')} | {
        f'{name}.num_batches_tracked': ()
    }


def bottleneck_shapes(name: str, inplanes: int, planes: int, downsample: bool) -> Shapes:
    shapes = {}
    shapes |= conv_shapes(f'{name}.conv1', planes, inplanes, 1) | bn_shapes(f'{name}.bn1', planes)
    shapes |= conv_shapes(f'{name}.conv2', planes, planes, 3) | bn_shapes(f'{name}.bn2', planes)
    shapes |= conv_shapes(f'{name}.conv3', planes * 4, planes, 1)
    shapes |= bn_shapes(f'{name}.bn3', planes * 4)
    if downsample:
        shapes |= conv_shapes(f'{name}.downsample.0', planes * 4, inplanes, 1)
        shapes |= bn_shapes(f'{name}.downsample.1', planes * 4)
    return shapes


def basic_shapes(name: str, ch: int) -> Shapes:
    return (conv_shapes(f'{name}.conv1', ch, ch, 3) | bn_shapes(f'{name}.bn1', ch)
            | conv_shapes(f'{name}.conv2', ch, ch, 3) | bn_shapes(f'{name}.bn2', ch))


def resnet50_keys(prefix: str) -> Shapes:
    """SPIN/CLIFF ``ResNet(layers=[3, 4, 6, 3])`` = torchvision names = mmpose names."""
    shapes = conv_shapes(f'{prefix}conv1', 64, 3, 7) | bn_shapes(f'{prefix}bn1', 64)
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3)), 1):
        for b in range(blocks):
            shapes |= bottleneck_shapes(f'{prefix}layer{stage}.{b}', inplanes, planes, b == 0)
            inplanes = planes * 4
    return shapes


def hrnet_w48_body_keys(prefix: str, stage4_multiscale: bool) -> Shapes:
    """HRNet-W48 stem..stage4 as cls_hrnet.py / hrnet_re.py / mmpose build it."""
    shapes = conv_shapes(f'{prefix}conv1', 64, 3, 3) | bn_shapes(f'{prefix}bn1', 64)
    shapes |= conv_shapes(f'{prefix}conv2', 64, 64, 3) | bn_shapes(f'{prefix}bn2', 64)
    for b in range(4):
        shapes |= bottleneck_shapes(f'{prefix}layer1.{b}', 64 if b == 0 else 256, 64, b == 0)
    widths = (48, 96, 192, 384)
    pre = [256]
    for stage, num_modules in ((2, 1), (3, 4), (4, 3)):
        cur = list(widths[:stage])
        trans = f'{prefix}transition{stage - 1}'
        for i, ch in enumerate(cur):
            if i < len(pre):
                if ch != pre[i]:  # conv3x3 + BN + ReLU at indices 0, 1, 2
                    shapes |= conv_shapes(f'{trans}.{i}.0', ch, pre[i], 3)
                    shapes |= bn_shapes(f'{trans}.{i}.1', ch)
            else:
                for j in range(i + 1 - len(pre)):
                    out = ch if j == i - len(pre) else pre[-1]
                    shapes |= conv_shapes(f'{trans}.{i}.{j}.0', out, pre[-1], 3)
                    shapes |= bn_shapes(f'{trans}.{i}.{j}.1', out)
        for m in range(num_modules):
            mod = f'{prefix}stage{stage}.{m}'
            for i, ch in enumerate(cur):
                for b in range(4):
                    shapes |= basic_shapes(f'{mod}.branches.{i}.{b}', ch)
            multiscale = stage4_multiscale or stage < 4 or m < num_modules - 1
            for i in range(len(cur) if multiscale else 1):
                for j in range(len(cur)):
                    fuse = f'{mod}.fuse_layers.{i}.{j}'
                    if j > i:
                        shapes |= conv_shapes(f'{fuse}.0', cur[i], cur[j], 1)
                        shapes |= bn_shapes(f'{fuse}.1', cur[i])
                    elif j < i:
                        for k in range(i - j):
                            out = cur[i] if k == i - j - 1 else cur[j]
                            shapes |= conv_shapes(f'{fuse}.{k}.0', out, cur[j], 3)
                            shapes |= bn_shapes(f'{fuse}.{k}.1', out)
        pre = cur
    return shapes


def cliff_cls_head_keys() -> Shapes:
    """CLIFF-HR48's ``incre_modules`` / ``downsamp_modules`` / ``final_layer`` (2048-d)."""
    head_channels = (32, 64, 128, 256)
    shapes = {}
    for i, (ch, hc) in enumerate(zip((48, 96, 192, 384), head_channels)):
        shapes |= bottleneck_shapes(f'encoder.incre_modules.{i}.0', ch, hc, True)
    for i in range(3):
        in_ch, out_ch = head_channels[i] * 4, head_channels[i + 1] * 4
        shapes |= conv_shapes(f'encoder.downsamp_modules.{i}.0', out_ch, in_ch, 3, bias=True)
        shapes |= bn_shapes(f'encoder.downsamp_modules.{i}.1', out_ch)
    shapes |= conv_shapes('encoder.final_layer.0', 2048, 1024, 1, bias=True)
    shapes |= bn_shapes('encoder.final_layer.1', 2048)
    return shapes


CLIFF_HEAD = {
    'fc1.weight': (1024, 2048 + 3 + 144 + 10 + 3), 'fc1.bias': (1024, ),
    'fc2.weight': (1024, 1024), 'fc2.bias': (1024, ),
    'decpose.weight': (144, 1024), 'decpose.bias': (144, ),
    'decshape.weight': (10, 1024), 'decshape.bias': (10, ),
    'deccam.weight': (3, 1024), 'deccam.bias': (3, ),
    'init_pose': (1, 144), 'init_shape': (1, 10), 'init_cam': (1, 3),
}


def cliff_layout(arch: str) -> Shapes:
    """The state dict of the official CLIFF model (``arch``: ``'res50'`` or ``'hr48'``)."""
    if arch == 'res50':
        return resnet50_keys('encoder.') | CLIFF_HEAD
    if arch == 'hr48':
        return hrnet_w48_body_keys('encoder.', True) | cliff_cls_head_keys() | CLIFF_HEAD
    raise KeyError(f"CLIFF arch must be 'res50' or 'hr48', got {arch!r}")
