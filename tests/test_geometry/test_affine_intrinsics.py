"""affine_intrinsics: the pinhole camera of an axis-aligned crop, checked by projecting."""
import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    affine_intrinsics,
    apply_affine,
    get_crop_affine,
    get_rotation_affine,
    perspective_projection,
)


def test_hand_derived_crop():
    # RoI centre (100, 80), height 50, crop 64x48: scale 64 / 50 = 1.28, and the centre goes to
    # (24, 32): t = (24 - 128, 32 - 102.4).
    affine = get_crop_affine(np.array([100.0, 80.0]), 50.0, (64, 48))
    focal, principal = affine_intrinsics(affine, 500.0, np.array([160.0, 120.0]))
    np.testing.assert_allclose(focal, [640.0, 640.0])
    np.testing.assert_allclose(principal, [1.28 * 160 - 104, 1.28 * 120 - 70.4])


def test_projection_commutes_with_the_crop_batched_and_anisotropic():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(3, 7, 3)) * 0.5 + [0.0, 0.0, 4.0]
    centers = rng.uniform(50, 250, size=(3, 2))
    sizes = rng.uniform(40, 200, size=3)
    affine = get_crop_affine(centers, sizes, (256, 192))
    focal_full = np.array([[900.0, 880.0]] * 3)
    principal_full = np.array([[320.0, 240.0]] * 3)
    full = perspective_projection(points, np.zeros((3, 3)), focal_full, principal_full)
    focal, principal = affine_intrinsics(affine, focal_full, principal_full)
    np.testing.assert_allclose(
        perspective_projection(points, np.zeros((3, 3)), focal, principal),
        apply_affine(full, affine), atol=1e-9)


def test_torch_in_torch_out():
    affine = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]])
    focal, principal = affine_intrinsics(affine, torch.tensor(10.0), torch.tensor([1.0, 1.0]))
    assert torch.equal(focal, torch.tensor([20.0, 30.0]))
    assert torch.equal(principal, torch.tensor([3.0, 2.0]))


def test_rotating_affine_is_refused():
    with pytest.raises(ValueError, match='rotates or shears'):
        affine_intrinsics(get_rotation_affine(np.array([10.0, 10.0]), 30.0), 500.0,
                          np.array([5.0, 5.0]))
