"""TinyConvNet: shapes, parameter count from its definition, gradients, errors."""
import pytest
import torch

from mroi_plugin.models.backbones import TinyConvNet
from mroi_plugin.registry import MODELS


def test_default_shapes_and_parameter_count():
    model = MODELS.build(dict(type='TinyConvNet'))
    feats = model(torch.rand(2, 3, 128, 96))
    assert model.out_channels == (128, )
    assert [tuple(f.shape) for f in feats] == [(2, 128, 8, 6)]
    # Two 3x3 convs (no bias) + BN (scale, shift) per stage, widths 16, 32, 64, 128.
    expected = 0
    for c_in, c_out in [(3, 16), (16, 32), (32, 64), (64, 128)]:
        expected += 9 * c_in * c_out + 9 * c_out * c_out + 2 * (2 * c_out)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_out_indices_strides_and_gradients():
    model = TinyConvNet(widths=(4, 8, 16), num_convs=(1, 2, 1), out_indices=(0, 1, 2))
    model.init_weights()
    x = torch.rand(2, 3, 64, 48, requires_grad=True)
    feats = model(x)
    assert model.out_channels == (4, 8, 16)
    assert [tuple(f.shape) for f in feats] == [(2, 4, 32, 24), (2, 8, 16, 12), (2, 16, 8, 6)]
    # Stage 1 has two convs, the others one (conv, BN, ReLU each).
    assert [len(stage) for stage in model.stages] == [3, 6, 3]
    sum(f.square().mean() for f in feats).backward()
    assert x.grad.abs().sum() > 0
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_norm_eval_keeps_running_stats():
    model = TinyConvNet(widths=(4, 8), norm_eval=True).train()
    bn = model.stages[0][1]
    before = bn.running_mean.clone()
    model(torch.rand(2, 3, 32, 32))
    assert torch.equal(bn.running_mean, before)
    model = TinyConvNet(widths=(4, 8)).train()
    model(torch.rand(2, 3, 32, 32))
    assert not torch.equal(model.stages[0][1].running_mean, before)


@pytest.mark.parametrize('kwargs', [
    dict(widths=()), dict(widths=(4, 0)), dict(widths=(4, 8), num_convs=(1, )),
    dict(widths=(4, 8), num_convs=0), dict(widths=(4, 8), out_indices=(2, ))
])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError, match='TinyConvNet'):
        TinyConvNet(**kwargs)
