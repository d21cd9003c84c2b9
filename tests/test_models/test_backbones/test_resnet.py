"""ResNet backbone: shapes, gradients, freezing, and loading mmpose-named checkpoints."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mroi_plugin.models.backbones import ResNet
from mroi_plugin.registry import MODELS

# torchvision's published parameter counts minus the 1000-way classifier (fc).
RESNET18_PARAMS = 11_689_512 - (512 * 1000 + 1000)
RESNET50_PARAMS = 25_557_032 - (2048 * 1000 + 1000)


def _bn_keys(prefix, channels):
    return {
        f'{prefix}.weight': (channels, ),
        f'{prefix}.bias': (channels, ),
        f'{prefix}.running_mean': (channels, ),
        f'{prefix}.running_var': (channels, ),
        f'{prefix}.num_batches_tracked': (),
    }


def mmpose_resnet50_keys():
    """Names/shapes of mmpose's ResNet-50 backbone, enumerated from its structure:
    7x7 stem conv1/bn1, stages of (3, 4, 6, 3) bottlenecks of width 64 * 2**i with
    expansion 4, downsample (1x1 conv, BN) on the first block of each stage."""
    keys = {'conv1.weight': (64, 3, 7, 7), **_bn_keys('bn1', 64)}
    in_channels = 64
    for stage, num_blocks in enumerate((3, 4, 6, 3)):
        width = 64 * 2**stage
        out_channels = 4 * width
        for block in range(num_blocks):
            p = f'layer{stage + 1}.{block}'
            keys[f'{p}.conv1.weight'] = (width, in_channels, 1, 1)
            keys.update(_bn_keys(f'{p}.bn1', width))
            keys[f'{p}.conv2.weight'] = (width, width, 3, 3)
            keys.update(_bn_keys(f'{p}.bn2', width))
            keys[f'{p}.conv3.weight'] = (out_channels, width, 1, 1)
            keys.update(_bn_keys(f'{p}.bn3', out_channels))
            if block == 0:
                keys[f'{p}.downsample.0.weight'] = (out_channels, in_channels, 1, 1)
                keys.update(_bn_keys(f'{p}.downsample.1', out_channels))
            in_channels = out_channels
    return keys


# Representative keys of an mmpose ResNet-50 checkpoint (after stripping 'backbone.').
HAND_WRITTEN_KEYS = {
    'conv1.weight': (64, 3, 7, 7),
    'bn1.running_var': (64, ),
    'layer1.0.conv1.weight': (64, 64, 1, 1),
    'layer1.0.downsample.0.weight': (256, 64, 1, 1),
    'layer1.2.conv3.weight': (256, 64, 1, 1),
    'layer2.0.conv1.weight': (128, 256, 1, 1),
    'layer2.0.conv2.weight': (128, 128, 3, 3),
    'layer2.0.downsample.1.weight': (512, ),
    'layer3.5.bn2.running_mean': (256, ),
    'layer4.0.downsample.0.weight': (2048, 1024, 1, 1),
    'layer4.2.conv3.weight': (2048, 512, 1, 1),
    'layer4.2.bn3.num_batches_tracked': (),
}


def test_key_enumeration_matches_hand_written_keys():
    keys = mmpose_resnet50_keys()
    for name, shape in HAND_WRITTEN_KEYS.items():
        assert keys[name] == shape, name
    assert 'layer1.1.downsample.0.weight' not in keys


@pytest.mark.parametrize('depth, channels, num_params', [
    (18, (64, 128, 256, 512), RESNET18_PARAMS),
    (50, (256, 512, 1024, 2048), RESNET50_PARAMS),
])
def test_shapes_strides_channels(depth, channels, num_params):
    model = ResNet(depth=depth, out_indices=(0, 1, 2, 3))
    assert model.out_channels == channels
    assert sum(p.numel() for p in model.parameters()) == num_params
    feats = model(torch.rand(2, 3, 64, 48))
    assert isinstance(feats, tuple)
    # Strides 4, 8, 16, 32 on a 64x48 input (sizes round up: 48/32 -> 2).
    expected = [(2, c, h, w) for c, (h, w) in zip(channels, [(16, 12), (8, 6), (4, 3), (2, 2)])]
    assert [tuple(f.shape) for f in feats] == expected


def test_default_returns_last_stage_tuple_and_gradients_flow():
    model = MODELS.build(dict(type='ResNet', depth=18))
    model.init_weights()
    x = torch.rand(2, 3, 64, 48, requires_grad=True)
    feats = model(x)
    assert len(feats) == 1 and feats[0].shape == (2, 512, 2, 2)
    feats[0].square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, param in model.named_parameters():
        assert param.grad is not None, name
    assert model.conv1.weight.grad.abs().sum() > 0


def test_frozen_stages_and_norm_eval():
    model = ResNet(depth=18, frozen_stages=1, norm_eval=False)
    model.train()
    for module in (model.conv1, model.bn1, model.layer1):
        assert all(not p.requires_grad for p in module.parameters())
        assert not module.training
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert model.layer2.training

    model = ResNet(depth=18, norm_eval=True)
    assert model.train() is model
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))
    before = model.bn1.running_mean.clone()
    model(torch.rand(2, 3, 32, 32))
    assert torch.equal(model.bn1.running_mean, before)


def test_pretrained_mmpose_checkpoint_loads(tmp_path):
    keys = mmpose_resnet50_keys()
    generator = torch.Generator().manual_seed(0)
    state_dict = {}
    for name, shape in keys.items():
        if name.endswith('num_batches_tracked'):
            state_dict[f'backbone.{name}'] = torch.tensor(7)
        else:
            state_dict[f'backbone.{name}'] = torch.rand(shape, generator=generator)
    # A pose head, as in mmpose checkpoints; the prefix must filter it out.
    state_dict['head.final_layer.weight'] = torch.rand(17, 2048, 1, 1, generator=generator)
    path = tmp_path / 'td-hm_res50_coco-256x192.pth'
    torch.save({'state_dict': state_dict, 'meta': {'epoch': 210}}, path)

    model = MODELS.build(
        dict(type='ResNet', depth=50,
             init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')))
    model.init_weights()
    own = model.state_dict()
    assert set(own) == set(keys)
    for name in keys:
        assert torch.equal(own[name], state_dict[f'backbone.{name}']), name


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / 'absent.pth'
    model = ResNet(depth=18,
                   init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    with pytest.raises(FileNotFoundError, match='absent.pth.*init_cfg.checkpoint'):
        model.init_weights()


@pytest.mark.parametrize('kwargs', [
    dict(depth=42), dict(depth=18, out_indices=(4, )), dict(depth=18, out_indices=()),
    dict(depth=18, frozen_stages=5), dict(depth=18, with_cp=True)
])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError, match='ResNet'):
        ResNet(**kwargs)
