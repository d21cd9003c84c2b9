"""Tests for mroi_plugin.geometry.procrustes (similarity alignment for PA-MPJPE)."""
import numpy as np
import pytest
import torch

from mroi_plugin.geometry import axis_angle_to_rotmat, similarity_procrustes


def _random_similarity(batch, seed):
    gen = torch.Generator().manual_seed(seed)
    source = torch.randn(batch, 14, 3, generator=gen, dtype=torch.float64)
    rot = axis_angle_to_rotmat(torch.randn(batch, 3, generator=gen, dtype=torch.float64))
    scale = 0.5 + 1.5 * torch.rand(batch, generator=gen, dtype=torch.float64)
    transl = torch.randn(batch, 3, generator=gen, dtype=torch.float64)
    target = scale[:, None, None] * source @ rot.transpose(-1, -2) + transl[:, None]
    return source, target, (scale, rot, transl), gen


def _alignment_error(aligned, target):
    return (aligned - target).norm(dim=-1).mean(dim=-1)


def test_recovers_known_similarity():
    source, target, (scale, rot, transl), _ = _random_similarity(8, seed=0)
    aligned, (est_scale, est_rot, est_transl) = similarity_procrustes(source, target,
                                                                      return_transform=True)
    torch.testing.assert_close(aligned, target, atol=1e-10, rtol=0)
    torch.testing.assert_close(est_scale, scale)
    torch.testing.assert_close(est_rot, rot)
    torch.testing.assert_close(est_transl, transl)
    # The returned transform is the one applied.
    torch.testing.assert_close(
        est_scale[:, None, None] * source @ est_rot.transpose(-1, -2) + est_transl[:, None],
        aligned)


def _assert_locally_optimal(source, target, scale, rot, transl, gen):
    """Every small perturbation of (s, R, t), R kept a rotation, increases the squared error."""
    best = ((scale[:, None, None] * source @ rot.transpose(-1, -2) + transl[:, None] -
             target)**2).sum(dim=(-1, -2))
    for _ in range(20):
        delta = 1e-3 * torch.randn(scale.shape[0], 7, generator=gen, dtype=torch.float64)
        pert_rot = axis_angle_to_rotmat(delta[:, :3]) @ rot
        pert = ((scale + delta[:, 3])[:, None, None] * source @ pert_rot.transpose(-1, -2) +
                (transl + delta[:, 4:])[:, None])
        assert (((pert - target)**2).sum(dim=(-1, -2)) > best).all()


def test_with_noise_beats_the_generating_transform_and_perturbations():
    source, target, _, gen = _random_similarity(6, seed=1)
    noisy = target + 0.05 * torch.randn(target.shape, generator=gen, dtype=torch.float64)
    aligned, transform = similarity_procrustes(source, noisy, return_transform=True)
    best = ((aligned - noisy)**2).sum(dim=(-1, -2))
    truth = ((target - noisy)**2).sum(dim=(-1, -2))
    assert (best <= truth + 1e-12).all()
    _assert_locally_optimal(source, noisy, *transform, gen)


def test_reflection_gives_a_proper_rotation():
    source, _, _, gen = _random_similarity(5, seed=2)
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    target = source @ mirror  # a mirror image: no rotation can match it exactly
    aligned, (scale, rot, transl) = similarity_procrustes(source, target,
                                                          return_transform=True)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(5, dtype=torch.float64))
    assert (scale > 0).all()
    assert (_alignment_error(aligned, target) > 1e-2).all()
    # Still the best proper rotation (the unconstrained fit would be the mirror itself).
    _assert_locally_optimal(source, target, scale, rot, transl, gen)


def test_planar_points_align_exactly():
    # Coplanar points: the third singular value is 0; a reflection through the plane fits as
    # well as a rotation, and the result must still be a proper rotation that matches exactly.
    source, _, (scale, rot, transl), _ = _random_similarity(4, seed=3)
    source = source.clone()
    source[..., 2] = 0
    target = scale[:, None, None] * source @ rot.transpose(-1, -2) + transl[:, None]
    aligned, (_, est_rot, _) = similarity_procrustes(source, target, return_transform=True)
    torch.testing.assert_close(aligned, target, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.linalg.det(est_rot), torch.ones(4, dtype=torch.float64))


def test_numpy_float32_and_broadcast():
    source, target, _, _ = _random_similarity(3, seed=4)
    aligned = similarity_procrustes(source.numpy().astype(np.float32),
                                    target.numpy().astype(np.float32))
    assert isinstance(aligned, np.ndarray) and aligned.dtype == np.float32
    np.testing.assert_allclose(aligned, target.numpy(), atol=1e-4)
    # One source aligned to a batch of targets.
    batched = similarity_procrustes(source[0], target)
    assert batched.shape == (3, 14, 3)


def test_mismatched_joints_raise():
    with pytest.raises(ValueError, match='same J'):
        similarity_procrustes(np.zeros((14, 3)), np.zeros((17, 3)))
