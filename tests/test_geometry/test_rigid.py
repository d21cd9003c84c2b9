"""rigid_move_about_root: closed forms, the posed-point truth, group laws, mirrors."""
import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    MIRROR_X,
    axis_angle_to_rotmat,
    rigid_move_about_root,
    rotmat_about_z,
    rotmat_to_axis_angle,
)


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    axis_angle = rng.normal(size=(n, 3))
    axis_angle *= rng.uniform(0.1, 3.0, (n, 1)) / np.linalg.norm(axis_angle, axis=1, keepdims=True)
    return axis_angle_to_rotmat(axis_angle)


def _transforms(rng: np.random.Generator) -> dict:
    """Rotations about z (image rotation), the flip, both orders, and general ones."""
    rot = rotmat_about_z(np.float64(0.7))
    general = _random_rotations(rng, 1)[0]
    return {'rotation_z': rot, 'mirror': MIRROR_X, 'rotate_then_flip': MIRROR_X @ rot,
            'flip_then_rotate': rot @ MIRROR_X, 'general': general,
            'general_mirror': general @ MIRROR_X}


def _pose(orient: np.ndarray, transl: np.ndarray, root: np.ndarray,
          rest_points: np.ndarray) -> np.ndarray:
    """SMPL's rigid root step: X = R (Y - J0) + J0 + T."""
    return (rest_points - root) @ orient.T + root + transl


def test_identity_returns_the_inputs():
    rng = np.random.default_rng(0)
    orient = _random_rotations(rng, 4)
    transl, root = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    new_orient, new_transl = rigid_move_about_root(np.eye(3), orient, transl, root)
    np.testing.assert_allclose(new_orient, orient, atol=1e-15)
    np.testing.assert_allclose(new_transl, transl, atol=1e-15)


def test_quarter_turn_about_z_by_hand():
    # R = Rz(90 deg) maps (x, y, z) -> (-y, x, z). T + J0 = (1, 1.8, 5) -> (-1.8, 1, 5);
    # minus J0 = (0, -0.2, 0) gives (-1.8, 1.2, 5). Moving T like a point would give (-2, 1, 5).
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    orient, transl = rigid_move_about_root(rot, np.eye(3), np.array([1.0, 2.0, 5.0]),
                                           np.array([0.0, -0.2, 0.0]))
    np.testing.assert_allclose(transl, [-1.8, 1.2, 5.0], atol=1e-15)
    np.testing.assert_allclose(orient, rot, atol=1e-15)


def test_flip_by_hand():
    # T'_x = -T_x - 2 J0_x; y and z unchanged; the orientation's axis-angle (a_x, -a_y, -a_z).
    axis_angle = np.array([0.3, -0.5, 1.1])
    orient, transl = rigid_move_about_root(MIRROR_X, axis_angle_to_rotmat(axis_angle),
                                           np.array([0.4, -0.3, 6.0]),
                                           np.array([0.05, -0.23, 0.02]))
    np.testing.assert_allclose(transl, [-0.4 - 0.1, -0.3, 6.0], atol=1e-15)
    np.testing.assert_allclose(rotmat_to_axis_angle(orient), axis_angle * [1, -1, -1], atol=1e-12)


def test_zero_root_joint_moves_transl_like_a_point():
    rng = np.random.default_rng(1)
    for name, transform in _transforms(rng).items():
        transl = rng.normal(size=3)
        _, moved = rigid_move_about_root(transform, np.eye(3), transl, np.zeros(3))
        np.testing.assert_allclose(moved, transform @ transl, atol=1e-14, err_msg=name)


@pytest.mark.parametrize('name', ['rotation_z', 'mirror', 'rotate_then_flip', 'flip_then_rotate',
                                  'general', 'general_mirror'])
def test_posed_points_move_with_the_transform(name):
    """Every point of the posed body lands on A X (a mirror: its left/right partner's does).

    The rest body is symmetric about the plane x = J0_x of its frame (as SMPL's template is,
    up to millimetres), so the partner of rest point y is S(y) = y with x -> 2 J0_x - x.
    """
    rng = np.random.default_rng(2)
    transform = _transforms(rng)[name]
    root = np.array([0.03, -0.22, 0.01])
    rest = rng.normal(scale=0.5, size=(50, 3))
    orient = _random_rotations(rng, 1)[0]
    transl = np.array([0.3, -0.1, 5.0])
    posed = _pose(orient, transl, root, rest)

    new_orient, new_transl = rigid_move_about_root(transform, orient, transl, root)
    assert np.linalg.det(new_orient) == pytest.approx(1.0, abs=1e-12)
    if np.linalg.det(transform) < 0:
        rest = rest * [-1, 1, 1] + [2 * root[0], 0, 0]
    np.testing.assert_allclose(_pose(new_orient, new_transl, root, rest), posed @ transform.T,
                               atol=1e-12)


def test_composition_and_inverse():
    rng = np.random.default_rng(3)
    transforms = list(_transforms(rng).values())
    orient, transl, root = _random_rotations(rng, 1)[0], rng.normal(size=3), rng.normal(size=3)
    for first in transforms:
        for second in transforms:
            step = rigid_move_about_root(first, orient, transl, root)
            twice = rigid_move_about_root(second, *step, root)
            once = rigid_move_about_root(second @ first, orient, transl, root)
            np.testing.assert_allclose(twice[0], once[0], atol=1e-12)
            np.testing.assert_allclose(twice[1], once[1], atol=1e-12)
        back = rigid_move_about_root(first.T, *rigid_move_about_root(first, orient, transl, root),
                                     root)
        np.testing.assert_allclose(back[0], orient, atol=1e-12)
        np.testing.assert_allclose(back[1], transl, atol=1e-12)


def test_batched_torch_keeps_dtype_and_gradients():
    rng = np.random.default_rng(4)
    angles = torch.tensor(rng.uniform(-1, 1, 6), dtype=torch.float32)
    transforms = rotmat_about_z(angles)
    transforms[::2] = transforms[::2] @ torch.tensor(MIRROR_X, dtype=torch.float32)
    orient = torch.tensor(_random_rotations(rng, 6), dtype=torch.float32)
    transl = torch.tensor(rng.normal(size=(6, 3)), dtype=torch.float32, requires_grad=True)
    root = torch.tensor(rng.normal(size=(6, 3)), dtype=torch.float32, requires_grad=True)
    new_orient, new_transl = rigid_move_about_root(transforms, orient, transl, root)
    assert new_orient.dtype == new_transl.dtype == torch.float32
    assert new_orient.shape == (6, 3, 3) and new_transl.shape == (6, 3)
    for i in range(6):
        single = rigid_move_about_root(transforms[i].double(), orient[i].double(),
                                       transl[i].detach().double(), root[i].detach().double())
        torch.testing.assert_close(new_orient[i].double(), single[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(new_transl[i].detach().double(), single[1], atol=1e-6, rtol=0)
    new_transl.sum().backward()
    # d T' / d J0 = A - I, so the gradient of sum(T') is (A - I)^T 1.
    expected = (transforms - torch.eye(3)).transpose(-1, -2).sum(-1)
    torch.testing.assert_close(root.grad, expected, atol=1e-6, rtol=0)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match='orthogonal'):
        rigid_move_about_root(1.001 * np.eye(3), np.eye(3), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match='global_orient'):
        rigid_move_about_root(np.eye(3), np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match='root_joint'):
        rigid_move_about_root(np.eye(3), np.eye(3), np.zeros(3), np.zeros(2))
