"""RoIAwareFusion: the fusion formula, its invariances, the ablations and gradient flow."""
import pytest
import torch
import torch.nn as nn

from mroi_plugin.models.necks import NeRFPositionalEncoding, RoIAwareFusion
from mroi_plugin.registry import MODELS

DIM = 8
NUM_FREQS = 4


def _inputs(batch=2, num_rois=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, num_rois, DIM, generator=gen)
    bbox_info = torch.randn(batch, num_rois, 3, generator=gen)
    return feats, bbox_info


def _fusion(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('num_freqs', NUM_FREQS)
    kwargs.setdefault('hidden_channels', (16, 16))
    return RoIAwareFusion(DIM, **kwargs)


@pytest.mark.parametrize('pos_encoding', ['relative', 'absolute', 'none'])
@pytest.mark.parametrize('num_rois', [1, 5])
def test_shapes_weights_and_shared_mean(pos_encoding, num_rois):
    fusion = _fusion(pos_encoding=pos_encoding)
    feats, bbox_info = _inputs(num_rois=num_rois)
    roi_feats, shared = fusion(feats, bbox_info)
    assert roi_feats.shape == (2, num_rois, DIM) and shared.shape == (2, DIM)
    torch.testing.assert_close(shared, roi_feats.mean(dim=1))
    weights = fusion.attention_weights(feats, bbox_info)
    assert weights.shape == (2, num_rois, num_rois)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, num_rois))
    torch.testing.assert_close(roi_feats, weights @ feats)
    if num_rois == 1:
        torch.testing.assert_close(roi_feats, feats)


def test_matches_explicit_double_loop_of_the_formula():
    # a_ij = MLP([f_j ; PE(info_i - info_j)]), w_i = softmax_j, F_i = sum_j w_ij f_j, built
    # here with one Linear on the concatenation (the module splits the first layer).
    fusion = _fusion()
    feats, bbox_info = _inputs(batch=1, num_rois=4)
    first = nn.Linear(DIM + fusion.encoding.out_channels, 16)
    with torch.no_grad():
        first.weight.copy_(torch.cat([fusion.feat_proj.weight, fusion.pos_proj.weight], dim=1))
        first.bias.copy_(fusion.pos_proj.bias)
    mlp = nn.Sequential(first, *fusion.score_mlp)
    encoding = NeRFPositionalEncoding(num_freqs=NUM_FREQS)
    f, info = feats[0], bbox_info[0]
    expected = torch.zeros(4, DIM)
    for i in range(4):
        logits = torch.stack(
            [mlp(torch.cat([f[j], encoding(info[i] - info[j])]))[0] for j in range(4)])
        weights = torch.softmax(logits, dim=0)
        for j in range(4):
            expected[i] += weights[j] * f[j]
    roi_feats, shared = fusion(feats, bbox_info)
    torch.testing.assert_close(roi_feats[0], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(shared[0], expected.mean(dim=0), atol=1e-5, rtol=1e-5)


def test_perturbing_one_roi_changes_the_others_with_fusion_only():
    feats, bbox_info = _inputs()
    perturbed = feats.clone()
    perturbed[:, 2] += 1.0
    fused = _fusion()
    before, _ = fused(feats, bbox_info)
    after, _ = fused(perturbed, bbox_info)
    others = [0, 1, 3, 4]
    assert (after[:, others] - before[:, others]).abs().max() > 1e-3

    plain = _fusion(fusion=False)
    before, shared_before = plain(feats, bbox_info)
    after, shared_after = plain(perturbed, bbox_info)
    torch.testing.assert_close(before, feats)
    torch.testing.assert_close(after[:, others], before[:, others])
    torch.testing.assert_close(shared_before, feats.mean(dim=1))
    torch.testing.assert_close(shared_after - shared_before, torch.full((2, DIM), 1.0 / 5))


def test_without_fusion_has_no_parameters_and_builds_from_config():
    plain = MODELS.build(dict(type='RoIAwareFusion', in_channels=DIM, fusion=False))
    assert isinstance(plain, RoIAwareFusion) and not list(plain.parameters())


def test_relative_encoding_is_translation_invariant_absolute_is_not():
    feats, bbox_info = _inputs()
    shift = torch.tensor([0.3, -0.2, 0.1])
    relative = _fusion(pos_encoding='relative')
    torch.testing.assert_close(
        relative(feats, bbox_info + shift)[0], relative(feats, bbox_info)[0])
    absolute = _fusion(pos_encoding='absolute')
    moved = absolute(feats, bbox_info + shift)[0] - absolute(feats, bbox_info)[0]
    assert moved.abs().max() > 1e-4


@pytest.mark.parametrize('pos_encoding', ['absolute', 'none'])
def test_query_independent_encodings_give_equal_fused_features(pos_encoding):
    feats, bbox_info = _inputs()
    roi_feats, _ = _fusion(pos_encoding=pos_encoding)(feats, bbox_info)
    torch.testing.assert_close(roi_feats, roi_feats[:, :1].expand_as(roi_feats))


def test_equivariant_to_roi_order():
    fusion = _fusion()
    feats, bbox_info = _inputs()
    perm = torch.tensor([3, 0, 4, 1, 2])
    roi_feats, shared = fusion(feats, bbox_info)
    roi_perm, shared_perm = fusion(feats[:, perm], bbox_info[:, perm])
    torch.testing.assert_close(roi_perm, roi_feats[:, perm])
    torch.testing.assert_close(shared_perm, shared)


def test_tanh_bounds_logits_and_plain_linear_option():
    feats, bbox_info = _inputs()
    feats = feats * 100  # large logits without the bound
    bounded = _fusion(logit_activation='tanh')
    logits = bounded.attention_logits(feats, bbox_info)
    assert logits.abs().max() <= 1.0
    weights = bounded.attention_weights(feats, bbox_info)
    assert (weights.max(-1).values / weights.min(-1).values).max() <= torch.e**2 + 1e-4

    linear = _fusion(hidden_channels=())
    assert len(linear.score_mlp) == 0 and linear.feat_proj.out_features == 1
    assert linear(feats, bbox_info)[0].shape == feats.shape


def test_gradients_reach_features_bbox_info_and_all_parameters():
    fusion = _fusion()
    feats, bbox_info = _inputs()
    feats.requires_grad_(True)
    bbox_info.requires_grad_(True)
    roi_feats, shared = fusion(feats, bbox_info)
    (roi_feats.square().sum() + shared.sum()).backward()
    assert feats.grad.abs().sum() > 0 and bbox_info.grad.abs().sum() > 0
    for name, param in fusion.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_float64_gradcheck():
    fusion = _fusion().double()
    feats, bbox_info = _inputs(batch=1, num_rois=3)
    feats = feats.double().requires_grad_(True)
    bbox_info = bbox_info.double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f, b: fusion(f, b)[0], (feats, bbox_info))


def test_bad_inputs_raise_clear_errors():
    fusion = _fusion()
    feats, bbox_info = _inputs()
    with pytest.raises(ValueError, match='in_channels'):
        fusion(feats[..., :4], bbox_info)
    with pytest.raises(ValueError, match='bbox_info'):
        fusion(feats, bbox_info[:, :3])
    with pytest.raises(ValueError, match='pos_encoding'):
        RoIAwareFusion(DIM, pos_encoding='sinusoid')
    with pytest.raises(ValueError, match='logit_activation'):
        RoIAwareFusion(DIM, logit_activation='sigmoid')
