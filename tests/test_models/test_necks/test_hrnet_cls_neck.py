"""HRNetClsNeck: HRNet's classification head as CLIFF-HR48 pools (values: test_cliff_parity)."""
import pytest
import torch

from mroi_plugin.models.necks import HRNetClsNeck
from mroi_plugin.registry import MODELS
from mroi_plugin.utils import register_all_modules


def _branches(sizes, channels=(8, 16, 32, 64), batch=2):
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(batch, c, *s, generator=gen) for c, s in zip(channels, sizes)]


def test_output_and_parameter_names():
    register_all_modules()
    neck = MODELS.build(dict(type='HRNetClsNeck', in_channels=(8, 16, 32, 64),
                             head_channels=(4, 8, 16, 32), out_channels=24)).eval()
    # Odd sizes as HRNet makes them from a 100 x 76 crop (ceil halving): the stride-2 convs
    # halve the same way, so the sums line up.
    out = neck(_branches([(25, 19), (13, 10), (7, 5), (4, 3)]))
    assert out.shape == (2, 24) and neck.out_channels == 24
    # final_layer ends in a ReLU, then a mean: non-negative features.
    assert (out >= 0).all() and out.std() > 0
    names = {k.split('.')[0] for k in neck.state_dict()}
    assert names == {'incre_modules', 'downsamp_modules', 'final_layer'}
    # cls_hrnet's layout: a Bottleneck with a projection shortcut per branch, conv (bias) + BN
    # per merge and for the final layer.
    shapes = {k: tuple(v.shape) for k, v in neck.state_dict().items()}
    assert shapes['incre_modules.0.0.conv3.weight'] == (16, 4, 1, 1)
    assert shapes['incre_modules.3.0.downsample.0.weight'] == (128, 64, 1, 1)
    assert shapes['downsamp_modules.2.0.weight'] == (128, 64, 3, 3)
    assert shapes['downsamp_modules.2.0.bias'] == (128, )
    assert shapes['final_layer.0.weight'] == (24, 128, 1, 1)


def test_batch_items_are_independent():
    neck = HRNetClsNeck(in_channels=(8, 16, 32, 64), head_channels=(2, 4, 8, 16),
                        out_channels=24).eval()
    feats = _branches([(16, 12), (8, 6), (4, 3), (2, 2)])
    with torch.no_grad():
        both = neck(feats)
        first = neck([f[:1] for f in feats])
    torch.testing.assert_close(both[:1], first)


def test_bad_inputs():
    neck = HRNetClsNeck(in_channels=(8, 16, 32, 64), head_channels=(2, 4, 8, 16))
    with pytest.raises(ValueError, match='expects 4 branch maps'):
        neck(_branches([(16, 12), (8, 6), (4, 3)])[:3])
    with pytest.raises(ValueError, match=r'branch 1 has shape .* expected \(B, 16, H, W\)'):
        neck(_branches([(16, 12), (8, 6), (4, 3), (2, 2)], channels=(8, 17, 32, 64)))
    with pytest.raises(ValueError, match='one width per branch'):
        HRNetClsNeck(in_channels=(8, 16), head_channels=(2, 4, 8))
