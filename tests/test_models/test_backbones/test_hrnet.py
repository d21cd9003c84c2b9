"""HRNet backbone: shapes, gradients, parameter counts, mmpose checkpoint names."""
import copy

import pytest
import torch

from mroi_plugin.models.backbones import HRNet
from mroi_plugin.registry import MODELS

# HRNet paper (Sun et al., CVPR'19), Table 1: pose models on COCO 256x192; the 1x1
# heatmap layer they include has < 1k parameters.
HRNET_W32_PARAMS = 28.5e6
HRNET_W48_PARAMS = 63.6e6
PAPER_ROUNDING = 0.05e6


def small_extra(width=4, multiscale_output=True):
    """A reduced HRNet (1 module per stage, 1 block per branch) for fast tests."""
    return dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                    num_channels=(8, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                    num_channels=(width, 2 * width)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                    num_channels=(width, 2 * width, 4 * width)),
        stage4=dict(num_modules=2, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(width, 2 * width, 4 * width, 8 * width),
                    multiscale_output=multiscale_output))


def _bn(prefix, channels):
    return {f'{prefix}.{n}': (channels, )
            for n in ('weight', 'bias', 'running_mean', 'running_var')} | {
                f'{prefix}.num_batches_tracked': ()}


def _conv_bn(prefix, out_c, in_c, k):
    return {f'{prefix}.0.weight': (out_c, in_c, k, k), **_bn(f'{prefix}.1', out_c)}


def mmpose_hrnet_keys(width, num_modules=(1, 4, 3), num_blocks=4, multiscale_output=False):
    """Names/shapes of mmpose's HRNet backbone, enumerated from its structure.

    Stem conv1/bn1/conv2/bn2 (64 ch); layer1 = 4 bottlenecks to 256; stage k (2..4) has
    k branches of ``width * 2**b`` channels with ``num_blocks`` basic blocks each;
    transition{k-1} makes the new branch from the previous lowest-resolution one (and
    changes the width of branch 0 after layer1); fuse_layers[i][j] is a 1x1 conv+BN for
    j > i, a chain of i-j stride-2 3x3 conv+BN (+ReLU) for j < i. The last module of
    stage 4 only outputs branch 0 unless ``multiscale_output``.
    """
    keys = {'conv1.weight': (64, 3, 3, 3), **_bn('bn1', 64),
            'conv2.weight': (64, 64, 3, 3), **_bn('bn2', 64)}
    for block in range(4):
        p = f'layer1.{block}'
        in_c = 64 if block == 0 else 256
        keys.update({f'{p}.conv1.weight': (64, in_c, 1, 1), **_bn(f'{p}.bn1', 64),
                     f'{p}.conv2.weight': (64, 64, 3, 3), **_bn(f'{p}.bn2', 64),
                     f'{p}.conv3.weight': (256, 64, 1, 1), **_bn(f'{p}.bn3', 256)})
    keys.update(_conv_bn('layer1.0.downsample', 256, 64, 1))
    prev = [256]
    for k, modules in zip((2, 3, 4), num_modules):
        channels = [width * 2**b for b in range(k)]
        if k == 2:
            keys.update(_conv_bn('transition1.0', channels[0], 256, 3))
        keys.update(_conv_bn(f'transition{k - 1}.{k - 1}.0', channels[-1], prev[-1], 3))
        for m in range(modules):
            p = f'stage{k}.{m}'
            for b, c in enumerate(channels):
                for blk in range(num_blocks):
                    q = f'{p}.branches.{b}.{blk}'
                    keys.update({f'{q}.conv1.weight': (c, c, 3, 3), **_bn(f'{q}.bn1', c),
                                 f'{q}.conv2.weight': (c, c, 3, 3), **_bn(f'{q}.bn2', c)})
            last = m == modules - 1
            outputs = 1 if (k == 4 and last and not multiscale_output) else k
            for i in range(outputs):
                for j in range(k):
                    q = f'{p}.fuse_layers.{i}.{j}'
                    if j > i:
                        keys.update(_conv_bn(q, channels[i], channels[j], 1))
                    for s in range(i - j):
                        out_c = channels[i] if s == i - j - 1 else channels[j]
                        keys.update(_conv_bn(f'{q}.{s}', out_c, channels[j], 3))
        prev = channels
    return keys


# Representative keys of mmpose's td-hm_hrnet-w48_8xb32-210e_coco-256x192 backbone
# (after stripping 'backbone.'), written out by hand.
HAND_WRITTEN_W48_KEYS = {
    'conv1.weight': (64, 3, 3, 3),
    'bn1.weight': (64, ),
    'conv2.weight': (64, 64, 3, 3),
    'bn2.running_var': (64, ),
    'layer1.0.conv1.weight': (64, 64, 1, 1),
    'layer1.0.conv3.weight': (256, 64, 1, 1),
    'layer1.0.downsample.0.weight': (256, 64, 1, 1),
    'layer1.0.downsample.1.running_mean': (256, ),
    'layer1.3.conv1.weight': (64, 256, 1, 1),
    'transition1.0.0.weight': (48, 256, 3, 3),
    'transition1.0.1.weight': (48, ),
    'transition1.1.0.0.weight': (96, 256, 3, 3),
    'transition1.1.0.1.bias': (96, ),
    'stage2.0.branches.0.0.conv1.weight': (48, 48, 3, 3),
    'stage2.0.branches.1.3.bn2.weight': (96, ),
    'stage2.0.fuse_layers.0.1.0.weight': (48, 96, 1, 1),
    'stage2.0.fuse_layers.0.1.1.weight': (48, ),
    'stage2.0.fuse_layers.1.0.0.0.weight': (96, 48, 3, 3),
    'stage2.0.fuse_layers.1.0.0.1.running_var': (96, ),
    'transition2.2.0.0.weight': (192, 96, 3, 3),
    'stage3.0.branches.2.0.conv1.weight': (192, 192, 3, 3),
    'stage3.3.fuse_layers.0.2.0.weight': (48, 192, 1, 1),
    'stage3.3.fuse_layers.2.0.0.0.weight': (48, 48, 3, 3),
    'stage3.3.fuse_layers.2.0.1.0.weight': (192, 48, 3, 3),
    'stage3.1.fuse_layers.2.1.0.0.weight': (192, 96, 3, 3),
    'transition3.3.0.0.weight': (384, 192, 3, 3),
    'stage4.0.branches.3.3.conv2.weight': (384, 384, 3, 3),
    'stage4.0.fuse_layers.3.0.2.0.weight': (384, 48, 3, 3),
    'stage4.0.fuse_layers.3.0.1.0.weight': (48, 48, 3, 3),
    'stage4.1.fuse_layers.1.3.0.weight': (96, 384, 1, 1),
    'stage4.2.fuse_layers.0.3.0.weight': (48, 384, 1, 1),
    'stage4.2.fuse_layers.0.3.1.num_batches_tracked': (),
}


def _w48_extra(multiscale_output):
    extra = copy.deepcopy(HRNet.arch_settings['w48'])
    extra['stage4']['multiscale_output'] = multiscale_output
    return extra


def test_key_enumeration_matches_hand_written_keys():
    keys = mmpose_hrnet_keys(48)
    for name, shape in HAND_WRITTEN_W48_KEYS.items():
        assert keys[name] == shape, name
    # mmpose's pose checkpoints keep only branch 0 of the last stage-4 module.
    assert 'stage4.2.fuse_layers.1.0.0.0.weight' not in keys
    assert 'stage4.1.fuse_layers.1.0.0.0.weight' in keys


# Full-size nets are built on the meta device: names and shapes are checked by
# load_state_dict(strict=True) without allocating 64 M parameters (values are checked on
# the reduced net below). BN fills the absent num_batches_tracked with a warning.
@pytest.mark.filterwarnings('ignore:.*meta parameter')
def test_w48_loads_mmpose_layout_strictly_and_counts_parameters():
    keys = mmpose_hrnet_keys(48)
    state_dict = {name: torch.empty(shape, device='meta') for name, shape in keys.items()}
    with torch.device('meta'):
        model = HRNet(extra=_w48_extra(False))
        default = HRNet()
    model.load_state_dict(state_dict, strict=True)
    num_params = sum(p.numel() for p in model.parameters())
    assert abs(num_params - HRNET_W48_PARAMS) < PAPER_ROUNDING
    assert model.out_channels == (48, )

    wrong = dict(state_dict, **{'transition1.1.0.0.weight': torch.empty(96, 256, 1, 1,
                                                                        device='meta')})
    with pytest.raises(RuntimeError, match='transition1.1.0.0.weight'):
        model.load_state_dict(wrong, strict=True)

    # The default (all four branches) adds exactly the stage-4 fuse layers that mmpose's
    # pose checkpoints lack.
    assert default.out_channels == (48, 96, 192, 384)
    result = default.load_state_dict(state_dict, strict=False)
    assert result.unexpected_keys == []
    extra_keys = set(default.state_dict()) - set(keys)
    assert extra_keys and all(
        k.startswith(('stage4.2.fuse_layers.1.', 'stage4.2.fuse_layers.2.',
                      'stage4.2.fuse_layers.3.')) for k in extra_keys)
    assert set(result.missing_keys) == {
        k for k in extra_keys if not k.endswith('num_batches_tracked')}


def test_w32_parameter_count():
    extra = copy.deepcopy(HRNet.arch_settings['w32'])
    extra['stage4']['multiscale_output'] = False
    with torch.device('meta'):
        model = HRNet(extra=extra)
    assert abs(sum(p.numel() for p in model.parameters()) - HRNET_W32_PARAMS) < PAPER_ROUNDING
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == mmpose_hrnet_keys(32)


@pytest.mark.parametrize('size, expected', [
    ((64, 48), [(16, 12), (8, 6), (4, 3), (2, 2)]),
    ((50, 38), [(13, 10), (7, 5), (4, 3), (2, 2)]),
])
def test_small_hrnet_shapes_and_gradients(size, expected):
    model = MODELS.build(dict(type='HRNet', extra=small_extra(4)))
    model.init_weights()
    x = torch.rand(2, 3, *size, requires_grad=True)
    feats = model(x)
    assert model.out_channels == (4, 8, 16, 32)
    assert [tuple(f.shape) for f in feats] == [
        (2, c, h, w) for c, (h, w) in zip(model.out_channels, expected)]
    sum(f.square().mean() for f in feats).backward()
    assert x.grad.abs().sum() > 0
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_small_hrnet_loads_pretrained_values(tmp_path):
    model = HRNet(extra=small_extra(4, multiscale_output=False))
    own = model.state_dict()
    generator = torch.Generator().manual_seed(0)
    state_dict = {f'backbone.{k}': torch.rand(v.shape, generator=generator)
                  if v.is_floating_point() else v.clone() for k, v in own.items()}
    state_dict['keypoint_head.final_layer.weight'] = torch.rand(17, 4, 1, 1)
    path = tmp_path / 'hrnet.pth'
    torch.save({'state_dict': state_dict}, path)
    model = HRNet(extra=small_extra(4, multiscale_output=False),
                  init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    for name, value in model.state_dict().items():
        assert torch.equal(value, state_dict[f'backbone.{name}']), name


def test_norm_eval_and_errors(tmp_path):
    model = HRNet(extra=small_extra(4), norm_eval=True)
    assert model.train() is model
    assert model.training and model.layer1.training
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with pytest.raises(ValueError, match='arch or extra'):
        HRNet(arch='w32', extra=small_extra())
    with pytest.raises(ValueError, match='arch must be one of'):
        HRNet(arch='w64')
    bad = small_extra()
    del bad['stage3']['num_blocks']
    with pytest.raises(KeyError, match="stage3.*num_blocks"):
        HRNet(extra=bad)
    bad = small_extra()
    bad['stage3']['multiscale_output'] = False
    with pytest.raises(KeyError, match="unknown keys.*stage3"):
        HRNet(extra=bad)
    with pytest.raises(KeyError, match="unknown extra keys.*stage5"):
        HRNet(extra=dict(small_extra(), stage5={}))
    bad = small_extra()
    bad['stage2']['num_channels'] = (4, )
    with pytest.raises(ValueError, match='num_channels'):
        HRNet(extra=bad)
    model = HRNet(extra=small_extra(),
                  init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'no.pth')))
    with pytest.raises(FileNotFoundError, match='no.pth'):
        model.init_weights()
