"""Tests for mroi_plugin.geometry.rotation (6D, axis-angle, rotation matrices)."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    axis_angle_to_rotmat,
    rot6d_to_rotmat,
    rotmat_about_z,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
)

MEAN_PARAMS = Path('/work/shared/data/smpl_mean_params.npz')


def _assert_proper_rotations(rotmat, atol):
    rotmat = torch.as_tensor(rotmat, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand_as(rotmat)
    torch.testing.assert_close(rotmat.transpose(-1, -2) @ rotmat, eye, atol=atol, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rotmat), torch.ones(rotmat.shape[:-2],
                                                                     dtype=torch.float64),
                               atol=atol, rtol=0)


def _random_axis_angle(num, seed, low=0.0, high=math.pi):
    gen = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(num, 3, generator=gen,
                                                     dtype=torch.float64), dim=-1)
    angle = low + (high - low) * torch.rand(num, 1, generator=gen, dtype=torch.float64)
    return axis * angle


def test_rot6d_layout_hand_worked():
    # (3, 2) row-major: rows (a1_i, a2_i). a1 = (0, 0, 5), a2 = (0, 2, 2):
    # b1 = (0, 0, 1); a2 - (b1.a2) b1 = (0, 2, 0) -> b2 = (0, 1, 0); b3 = b1 x b2 = (-1, 0, 0).
    rot6d = np.array([0.0, 0.0, 0.0, 2.0, 5.0, 2.0])
    expected = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(rot6d_to_rotmat(rot6d), expected, atol=1e-15)
    # Unnormalised, non-orthogonal columns of the identity: a1 = (2, 0, 0), a2 = (1, 3, 0).
    np.testing.assert_allclose(rot6d_to_rotmat(np.array([2.0, 1.0, 0.0, 3.0, 0.0, 0.0])),
                               np.eye(3), atol=1e-15)


def test_rot6d_round_trip_and_proper():
    rotmat = axis_angle_to_rotmat(_random_axis_angle(20, seed=0))
    torch.testing.assert_close(rot6d_to_rotmat(rotmat_to_rot6d(rotmat)), rotmat)
    gen = torch.Generator().manual_seed(1)
    _assert_proper_rotations(rot6d_to_rotmat(torch.randn(4, 24, 6, generator=gen,
                                                         dtype=torch.float64)), atol=1e-12)


@pytest.mark.skipif(not MEAN_PARAMS.exists(), reason='smpl_mean_params.npz not available')
def test_rot6d_smpl_mean_pose_gives_proper_rotations():
    pose = np.load(MEAN_PARAMS)['pose']
    assert pose.shape == (144, )
    rotmat = rot6d_to_rotmat(pose.reshape(24, 6))
    assert rotmat.shape == (24, 3, 3) and rotmat.dtype == pose.dtype
    _assert_proper_rotations(rotmat, atol=1e-5)
    # The mean global orientation (1, 0, 0, -1, 0, ~0) reads as columns a1 = (1, 0, 0) and
    # a2 = (0, -1, 0): a half turn about x (SMPL's y-up body in the y-down camera).
    np.testing.assert_allclose(rotmat[0], np.diag([1.0, -1.0, -1.0]), atol=1e-5)


def test_rot6d_gradcheck():
    gen = torch.Generator().manual_seed(2)
    rot6d = torch.randn(3, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rot6d_to_rotmat, (rot6d, ))


def test_axis_angle_hand_worked():
    # A quarter turn about z: columns are the images of x, y, z: x -> y, y -> -x, z -> z.
    quarter = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T
    np.testing.assert_allclose(axis_angle_to_rotmat(np.array([0.0, 0.0, math.pi / 2])), quarter,
                               atol=1e-15)
    np.testing.assert_allclose(rotmat_about_z(math.pi / 2), quarter, atol=1e-15)
    # A half turn about (1, 1, 0)/sqrt(2): R = 2 n n^T - I.
    n = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    np.testing.assert_allclose(axis_angle_to_rotmat(math.pi * n), 2 * np.outer(n, n) - np.eye(3),
                               atol=1e-15)
    np.testing.assert_allclose(rotmat_to_axis_angle(2 * np.outer(n, n) - np.eye(3)) @ n,
                               math.pi, atol=1e-12)


@pytest.mark.parametrize('angle', [0.0, 1e-12, 1e-7, 1e-4, 0.3, 2.0, math.pi - 1e-3,
                                   math.pi - 1e-6, math.pi - 1e-9])
def test_axis_angle_round_trip_float64(angle):
    gen = torch.Generator().manual_seed(3)
    axis = torch.nn.functional.normalize(torch.randn(50, 3, generator=gen, dtype=torch.float64),
                                         dim=-1)
    axis_angle = axis * angle
    rotmat = axis_angle_to_rotmat(axis_angle)
    _assert_proper_rotations(rotmat, atol=1e-12)
    torch.testing.assert_close(rotmat_to_axis_angle(rotmat), axis_angle, atol=1e-10, rtol=0)


def test_axis_angle_at_exactly_pi_gives_same_rotation():
    axis_angle = _random_axis_angle(50, seed=4, low=math.pi, high=math.pi)
    rotmat = axis_angle_to_rotmat(axis_angle)
    recovered = rotmat_to_axis_angle(rotmat)
    # +-axis are the same half turn: compare the rotations and the angle.
    torch.testing.assert_close(recovered.norm(dim=-1), axis_angle.norm(dim=-1))
    torch.testing.assert_close(axis_angle_to_rotmat(recovered), rotmat, atol=1e-12, rtol=0)


def test_axis_angle_round_trip_float32():
    for low, high in ((0.0, 1e-3), (1e-3, math.pi - 1e-3), (math.pi - 1e-3, math.pi - 1e-5)):
        axis_angle = _random_axis_angle(100, seed=5, low=low, high=high).float()
        recovered = rotmat_to_axis_angle(axis_angle_to_rotmat(axis_angle))
        assert recovered.dtype == torch.float32
        torch.testing.assert_close(recovered, axis_angle, atol=2e-5, rtol=0)


def test_rotmat_to_axis_angle_matches_trace_formula():
    # Independent truth for the angle: cos(theta) = (trace(R) - 1) / 2.
    axis_angle = _random_axis_angle(30, seed=6, low=0.2, high=3.0)
    rotmat = axis_angle_to_rotmat(axis_angle)
    trace = rotmat.diagonal(dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(torch.acos((trace - 1) / 2), axis_angle.norm(dim=-1))
    torch.testing.assert_close(rotmat_to_axis_angle(rotmat), axis_angle)


def test_axis_angle_gradients_finite_and_correct():
    axis_angle = _random_axis_angle(4, seed=7).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_rotmat, (axis_angle, ))
    rotmat = axis_angle_to_rotmat(_random_axis_angle(4, seed=8, low=0.2, high=2.8))
    assert torch.autograd.gradcheck(rotmat_to_axis_angle, (rotmat.requires_grad_(), ))
    # At zero: d R / d r_i = [e_i]_x, and the gradient of the inverse is finite.
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jacobian = torch.autograd.functional.jacobian(axis_angle_to_rotmat, zero)
    torch.testing.assert_close(jacobian[..., 2], torch.tensor(
        [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64, requires_grad=True)
    rotmat_to_axis_angle(eye).sum().backward()
    assert torch.isfinite(eye.grad).all()


def test_rotmat_about_z_composes_and_batches():
    angles = torch.tensor([[0.3, -1.2], [2.0, 0.0]], dtype=torch.float64)
    rot = rotmat_about_z(angles)
    assert rot.shape == (2, 2, 3, 3)
    torch.testing.assert_close(rot[0, 0] @ rot[0, 1], rotmat_about_z(angles[0].sum()))
    torch.testing.assert_close(rot, axis_angle_to_rotmat(
        torch.stack([torch.zeros_like(angles), torch.zeros_like(angles), angles], -1)))


def test_numpy_in_numpy_out_keeps_dtype():
    aa = np.array([[0.1, -0.2, 0.3]], np.float32)
    rotmat = axis_angle_to_rotmat(aa)
    assert isinstance(rotmat, np.ndarray) and rotmat.dtype == np.float32
    back = rotmat_to_axis_angle(rotmat)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_allclose(back, aa, atol=1e-6)
    assert rot6d_to_rotmat(np.zeros((2, 6)) + [1, 0, 0, 1, 0, 0]).dtype == np.float64
    with pytest.raises(ValueError, match='`rot6d`'):
        rot6d_to_rotmat(np.zeros((2, 5)))
