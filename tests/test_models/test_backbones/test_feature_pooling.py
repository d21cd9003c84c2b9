"""Feature pooling steps (necks): GlobalAveragePooling and HRNetAggregation."""
import pytest
import torch

from mroi_plugin.models.backbones import HRNet
from mroi_plugin.models.necks.global_pooling import GlobalAveragePooling
from mroi_plugin.models.necks.hrnet_aggregation import HRNetAggregation
from mroi_plugin.registry import MODELS


def _maps():
    torch.manual_seed(0)
    return (torch.rand(2, 3, 8, 6), torch.rand(2, 5, 4, 3))


def test_global_average_pooling_values():
    feats = _maps()
    last = MODELS.build(dict(type='GlobalAveragePooling'))(feats)
    torch.testing.assert_close(last, feats[1].sum(dim=(2, 3)) / 12)
    everything = GlobalAveragePooling(in_indices=None)(feats)
    assert everything.shape == (2, 8)
    torch.testing.assert_close(everything[:, :3], feats[0].sum(dim=(2, 3)) / 48)
    torch.testing.assert_close(everything[:, 3:], last)
    reordered = GlobalAveragePooling(in_indices=(1, 0))(feats)
    torch.testing.assert_close(reordered, torch.cat([everything[:, 3:], everything[:, :3]], 1))
    torch.testing.assert_close(GlobalAveragePooling()(feats[0]), everything[:, :3])


def test_global_average_pooling_errors():
    with pytest.raises(IndexError, match='in_indices'):
        GlobalAveragePooling(in_indices=2)(_maps())
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        GlobalAveragePooling()(torch.rand(2, 3))
    with pytest.raises(ValueError, match='empty'):
        GlobalAveragePooling(in_indices=())


def test_hrnet_aggregation_structure_and_shapes():
    neck = MODELS.build(dict(type='HRNetAggregation'))
    assert neck.out_channels == 48 + 96 + 192 + 384 == 720
    # Branch i gets 3 - i stride-2 3x3 convs that keep its width (authors' hrnet_re).
    for i, (layers, channels) in enumerate(zip(neck.downsamples, (48, 96, 192, 384))):
        convs = [m for m in layers if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) == 3 - i
        assert all(c.stride == (2, 2) and c.kernel_size == (3, 3) for c in convs)
        assert all(c.in_channels == c.out_channels == channels for c in convs)
    feats = [torch.rand(2, c, h, w) for c, (h, w) in
             zip((48, 96, 192, 384), [(16, 12), (8, 6), (4, 3), (2, 2)])]
    out = neck(feats)
    assert out.shape == (2, 720)
    # The lowest-resolution branch is passed through: its part is its spatial mean.
    torch.testing.assert_close(out[:, 336:], feats[3].mean(dim=(2, 3)))


def test_hrnet_with_aggregation_end_to_end_gradients():
    extra = dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                    num_channels=(8, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                    num_channels=(4, 8)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                    num_channels=(4, 8, 16)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(4, 8, 16, 32)))
    backbone = HRNet(extra=extra)
    neck = HRNetAggregation(in_channels=backbone.out_channels)
    neck.init_weights()
    assert neck.out_channels == 60
    out = neck(backbone(torch.rand(3, 3, 50, 38)))
    assert out.shape == (3, 60)
    out.square().sum().backward()
    for name, param in neck.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert backbone.conv1.weight.grad.abs().sum() > 0


def test_hrnet_aggregation_errors():
    neck = HRNetAggregation(in_channels=(4, 8))
    with pytest.raises(ValueError, match='expects 2 branch maps'):
        neck([torch.rand(1, 4, 8, 8)])
    with pytest.raises(ValueError, match='branch 1 has 6 channels'):
        neck([torch.rand(1, 4, 8, 8), torch.rand(1, 6, 4, 4)])
    with pytest.raises(ValueError, match='sizes differ'):
        neck([torch.rand(1, 4, 8, 8), torch.rand(1, 8, 5, 4)])


def test_spatial_flatten_pooling_keeps_layout_and_resamples():
    torch.manual_seed(0)
    pool = MODELS.build(dict(type='SpatialFlattenPooling', in_channels=5, out_channels=7,
                             squeeze_channels=4, grid=(4, 3))).eval()
    feats = _maps()
    out = pool(feats)
    assert out.shape == (2, 7)
    torch.testing.assert_close(pool(feats[1]), out)  # a map or the backbone's tuple
    # Hand-built: squeeze, flatten (channel-major, then rows), one linear layer + ReLU.
    squeezed = pool.squeeze(feats[1])
    linear = pool.project[0]
    torch.testing.assert_close(out, torch.relu(squeezed.flatten(1) @ linear.weight.T
                                               + linear.bias))
    # Unlike global average pooling, moving features around changes the output ...
    flipped = feats[1].flip(-1)
    assert not torch.allclose(pool(flipped), out)
    torch.testing.assert_close(GlobalAveragePooling()(flipped), GlobalAveragePooling()(feats[1]))
    # ... and any map size is resampled to the grid (here 8x6 -> 4x3 by 2x2 averages).
    big = feats[1].repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(pool(big), out)


def test_spatial_flatten_pooling_errors():
    with pytest.raises(ValueError, match='grid'):
        MODELS.build(dict(type='SpatialFlattenPooling', in_channels=4, out_channels=4,
                          grid=(0, 3)))
    with pytest.raises(ValueError, match='positive'):
        MODELS.build(dict(type='SpatialFlattenPooling', in_channels=0, out_channels=4))
    pool = MODELS.build(dict(type='SpatialFlattenPooling', in_channels=3, out_channels=4))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        pool(torch.rand(2, 3, 4))
