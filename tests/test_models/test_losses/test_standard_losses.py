"""Standard HMR losses: hand-computed values, masking, zero-valid batches, gradients."""
import math

import pytest
import torch

from mroi_plugin.body_models.keypoint_conventions import get_keypoint_names
from mroi_plugin.models.losses.keypoint_loss import Keypoint3DLoss, KeypointMSELoss
from mroi_plugin.models.losses.smpl_loss import SMPLPoseLoss
from mroi_plugin.models.losses.vertex_loss import VertexL1Loss
from mroi_plugin.registry import MODELS

# Two samples, three 2D keypoints; predictions are all zero so errors are the targets.
TARGET_2D = torch.tensor([[[1., 2.], [3., 0.], [5., 5.]],
                          [[0., 1.], [1., 1.], [2., 0.]]])
CONF_2D = torch.tensor([[1., 0.5, 0.], [1., 1., 1.]])
# sample 0: 1*(1+4) + 0.5*(9+0) + 0*50 = 9.5;  sample 1: 1 + 2 + 4 = 7;  12 coordinates.
SUM_SAMPLE0, SUM_SAMPLE1, COORDS_PER_SAMPLE = 9.5, 7.0, 6


def _pred(shape):
    return torch.zeros(shape, requires_grad=True)


def _assert_zero_with_graph(loss, pred):
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert pred.grad is not None and torch.count_nonzero(pred.grad) == 0


def test_keypoint_mse_hand_values():
    loss_fn = MODELS.build(dict(type='KeypointMSELoss', loss_weight=2.0))
    loss = loss_fn(_pred((2, 3, 2)), TARGET_2D, CONF_2D)
    assert loss.item() == pytest.approx(2.0 * (SUM_SAMPLE0 + SUM_SAMPLE1) / 12)
    # Confidence as the last target column gives the same value.
    packed = torch.cat([TARGET_2D, CONF_2D.unsqueeze(-1)], dim=-1)
    assert loss_fn(_pred((2, 3, 2)), packed).item() == pytest.approx(loss.item())
    # Mask out sample 1: the mean is over sample 0's coordinates only (no dilution).
    masked = loss_fn(_pred((2, 3, 2)), TARGET_2D, CONF_2D, torch.tensor([1., 0.]))
    assert masked.item() == pytest.approx(2.0 * SUM_SAMPLE0 / COORDS_PER_SAMPLE)


def test_keypoint_mse_masked_sample_has_no_influence():
    loss_fn = KeypointMSELoss()
    valid = torch.tensor([True, False])
    pred = torch.rand(2, 3, 2)
    reference = loss_fn(pred, TARGET_2D, CONF_2D, valid)
    changed = pred.clone()
    changed[1] += 100
    target = TARGET_2D.clone()
    target[1] = float('nan')  # unavailable targets may hold anything
    changed.requires_grad_(True)
    loss = loss_fn(changed, target, CONF_2D, valid)
    assert loss.item() == pytest.approx(reference.item())
    loss.backward()
    assert torch.isfinite(changed.grad).all() and torch.count_nonzero(changed.grad[1]) == 0


def test_keypoint_mse_per_roi_validity_averages_over_rois():
    # (B=2, N=2 RoIs, K=3, 2): person 0's RoIs carry the two target sets, person 1 none.
    target = torch.stack([TARGET_2D, TARGET_2D])
    conf = torch.stack([CONF_2D, CONF_2D])
    loss_fn = KeypointMSELoss()
    per_person = loss_fn(_pred((2, 2, 3, 2)), target, conf, torch.tensor([1., 0.]))
    assert per_person.item() == pytest.approx((SUM_SAMPLE0 + SUM_SAMPLE1) / 12)
    per_roi = loss_fn(_pred((2, 2, 3, 2)), target, conf, torch.tensor([[1., 0.], [0., 0.]]))
    assert per_roi.item() == pytest.approx(SUM_SAMPLE0 / COORDS_PER_SAMPLE)


def test_keypoint_mse_no_valid_sample_returns_graph_zero():
    pred = _pred((2, 3, 2))
    loss = KeypointMSELoss(loss_weight=5.0)(pred, TARGET_2D, CONF_2D, torch.zeros(2))
    _assert_zero_with_graph(loss, pred)


def test_keypoint_mse_errors():
    loss_fn = KeypointMSELoss()
    with pytest.raises(ValueError, match='KeypointMSELoss.*same shape'):
        loss_fn(torch.zeros(2, 3, 2), torch.zeros(2, 4, 2))
    with pytest.raises(ValueError, match='validity flags of shape'):
        loss_fn(torch.zeros(2, 3, 2), TARGET_2D, CONF_2D, torch.ones(3))
    with pytest.raises(ValueError, match='only one of them'):
        loss_fn(torch.zeros(2, 3, 2), torch.zeros(2, 3, 3), CONF_2D)
    with pytest.raises(ValueError, match='target_weight'):
        loss_fn(torch.zeros(2, 3, 2), TARGET_2D, torch.ones(2, 4))


def test_keypoint3d_default_pelvis_is_smpl24_hip_midpoint():
    names = get_keypoint_names('smpl_24')
    assert [names[i] for i in Keypoint3DLoss().pelvis_indices] == ['left_hip', 'right_hip']


def test_keypoint3d_pelvis_centring_hand_value():
    target = torch.tensor([[[0., 0., 0.], [1., 0., 0.], [-1., 0., 0.]]])
    # Same hips shifted by t, head joint 1 m off in y: after centring one coordinate is off.
    shift = torch.tensor([0.3, -2.0, 5.0])
    pred = torch.tensor([[[0., 1., 0.], [1., 0., 0.], [-1., 0., 0.]]]) + shift
    loss_fn = Keypoint3DLoss(loss_weight=3.0, pelvis_indices=(1, 2))
    assert loss_fn(pred, target).item() == pytest.approx(3.0 * 1.0 / 9)
    # A rigid translation of the prediction costs nothing.
    assert loss_fn(target + shift, target).item() == pytest.approx(0.0, abs=1e-12)
    # Single-joint pelvis: centring on joint 0 instead.
    on_root = Keypoint3DLoss(pelvis_indices=(0, ))(pred, target)
    # Relative to joint 0, pred joints 1 and 2 are off by (0, -1, 0): 2 coordinates of 9.
    assert on_root.item() == pytest.approx(2.0 / 9)


def test_keypoint3d_masking_gradcheck_and_errors():
    torch.manual_seed(0)
    target = torch.rand(3, 4, 4, dtype=torch.float64)  # last column = confidence
    valid = torch.tensor([1., 0., 1.], dtype=torch.float64)
    loss_fn = Keypoint3DLoss(pelvis_indices=(1, 2))
    pred = torch.rand(3, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: loss_fn(p, target, valid=valid), (pred, ))
    pred = _pred((3, 4, 3))
    _assert_zero_with_graph(loss_fn(pred, target.float(), valid=torch.zeros(3)), pred)
    with pytest.raises(ValueError, match='pelvis_indices'):
        Keypoint3DLoss(pelvis_indices=(1, 9))(torch.zeros(1, 4, 3), torch.zeros(1, 4, 3))


def test_vertex_l1_hand_values_and_centring():
    target = torch.zeros(2, 4, 3)
    pred = torch.zeros(2, 4, 3)
    pred[0, 0] = torch.tensor([1., -2., 0.])   # |.| sum 3 over 12 coordinates
    pred[1] += torch.tensor([0.5, 0.5, 0.5])   # translated mesh: 12 * 0.5 = 6
    loss_fn = MODELS.build(dict(type='VertexL1Loss', loss_weight=2.0))
    assert loss_fn(pred, target).item() == pytest.approx(2.0 * (3 + 6) / 24)
    assert loss_fn(pred, target, torch.tensor([0, 1])).item() == pytest.approx(2.0 * 6 / 12)
    centred = VertexL1Loss(center=True)
    # Centroid centring removes sample 1's translation entirely.
    assert centred(pred, target, torch.tensor([0, 1])).item() == pytest.approx(0.0, abs=1e-7)
    # Explicit roots: centring sample 0 on its (displaced) vertex 0 moves the error to
    # the three other vertices: 3 * 3 = 9 over 12 coordinates.
    roots = pred[:, 0]
    value = centred(pred, target, torch.tensor([1, 0]), pred_root=roots,
                    target_root=target[:, 0])
    assert value.item() == pytest.approx(9 / 12)


def test_vertex_l1_masking_zero_case_and_errors():
    loss_fn = VertexL1Loss()
    pred = torch.rand(2, 5, 3)
    target = torch.rand(2, 5, 3)
    valid = torch.tensor([1., 0.])
    reference = loss_fn(pred, target, valid)
    pred2, target2 = pred.clone(), target.clone()
    pred2[1] = -7
    target2[1] = float('nan')
    assert loss_fn(pred2, target2, valid).item() == pytest.approx(reference.item())
    pred = _pred((2, 5, 3))
    _assert_zero_with_graph(loss_fn(pred, target, torch.zeros(2)), pred)
    with pytest.raises(ValueError, match='center=False'):
        loss_fn(pred, target, pred_root=pred[:, 0], target_root=target[:, 0])
    with pytest.raises(ValueError, match='both'):
        VertexL1Loss(center=True)(pred, target, pred_root=pred[:, 0])


def test_smpl_pose_loss_hand_value_and_target_formats():
    # Joint 0: identity vs zero rotation (error 0). Joint 1: identity vs 90 deg about z,
    # whose matrix differs from I in 4 entries by 1: squared error 4 over 9 entries.
    pred = torch.eye(3).expand(1, 2, 3, 3).clone().requires_grad_(True)
    axis_angle = torch.tensor([[[0., 0., 0.], [0., 0., math.pi / 2]]])
    loss_fn = MODELS.build(dict(type='SMPLPoseLoss', loss_weight=0.5))
    expected = 0.5 * 4 / 18
    assert loss_fn(pred, axis_angle).item() == pytest.approx(expected, abs=1e-6)
    assert loss_fn(pred, axis_angle.reshape(1, 6)).item() == pytest.approx(expected, abs=1e-6)
    rotz = torch.tensor([[0., -1., 0.], [1., 0., 0.], [0., 0., 1.]])
    rotmats = torch.stack([torch.eye(3), rotz]).unsqueeze(0)
    assert loss_fn(pred, rotmats).item() == pytest.approx(expected, abs=1e-6)


def test_smpl_pose_loss_masking_and_zero_case():
    torch.manual_seed(0)
    pred = torch.rand(3, 24, 3, 3)
    target = torch.rand(3, 24, 3)
    valid = torch.tensor([1, 0, 1])
    loss_fn = SMPLPoseLoss()
    reference = loss_fn(pred, target, valid)
    pred2 = pred.clone()
    pred2[1] = 3
    assert loss_fn(pred2, target, valid).item() == pytest.approx(reference.item())
    assert reference.item() == pytest.approx(loss_fn(pred[[0, 2]], target[[0, 2]]).item())
    leaf = torch.zeros(3, 24, 3, 3, requires_grad=True)
    _assert_zero_with_graph(loss_fn(leaf, target, torch.zeros(3)), leaf)
    with pytest.raises(ValueError, match='SMPLPoseLoss'):
        loss_fn(pred, torch.rand(3, 23, 3))


def test_smpl_betas_loss_hand_value_masking_zero_case():
    pred = torch.tensor([[1., 2.], [0., 0.]])
    target = torch.tensor([[0., 0.], [3., 3.]])
    loss_fn = MODELS.build(dict(type='SMPLBetasLoss', loss_weight=0.001))
    assert loss_fn(pred, target).item() == pytest.approx(0.001 * (1 + 4 + 9 + 9) / 4)
    assert loss_fn(pred, target, torch.tensor([1., 0.])).item() == pytest.approx(
        0.001 * 5 / 2)
    leaf = torch.zeros(2, 2, requires_grad=True)
    _assert_zero_with_graph(loss_fn(leaf, target, torch.tensor([False, False])), leaf)
    with pytest.raises(ValueError, match='SMPLBetasLoss'):
        loss_fn(torch.zeros(2, 10), torch.zeros(2, 11))
