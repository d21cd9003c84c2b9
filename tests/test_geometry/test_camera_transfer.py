"""Carrying crop cameras between RoIs and fusing full cameras (mroi_plugin.geometry.camera)."""
import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    cam_crop_to_full,
    cam_full_to_crop,
    carry_crop_camera,
    fuse_full_cameras,
    relative_roi_layout,
    transfer_crop_camera,
)

FOCAL = 800.0
PRINCIPAL = torch.tensor([320.0, 240.0], dtype=torch.float64)


def _rois(seed=0, batch=6, num_rois=5):
    gen = torch.Generator().manual_seed(seed)
    centers = 100 + 400 * torch.rand(batch, num_rois, 2, generator=gen, dtype=torch.float64)
    sizes = 50 + 300 * torch.rand(batch, num_rois, generator=gen, dtype=torch.float64)
    cams = torch.stack([
        0.5 + torch.rand(batch, num_rois, generator=gen, dtype=torch.float64),
        0.4 * torch.randn(batch, num_rois, generator=gen, dtype=torch.float64),
        0.4 * torch.randn(batch, num_rois, generator=gen, dtype=torch.float64)], dim=-1)
    return centers, sizes, cams


def _through_full(cam, src_c, src_b, dst_c, dst_b, focal=FOCAL, principal=PRINCIPAL):
    full = cam_crop_to_full(cam, src_c, src_b, torch.full_like(src_b, focal),
                            principal.expand_as(src_c))
    return cam_full_to_crop(full, dst_c, dst_b, torch.full_like(dst_b, focal),
                            principal.expand_as(dst_c))


def test_transfer_equals_crop_to_full_then_full_to_crop():
    centers, sizes, cams = _rois()
    dst_c, dst_b = centers.roll(1, dims=1), sizes.roll(1, dims=1)
    expected = _through_full(cams, centers, sizes, dst_c, dst_b)
    got = transfer_crop_camera(cams, centers, sizes, dst_c, dst_b)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('focal,principal', [(500.0, (10.0, 700.0)), (3000.0, (0.0, 0.0))])
def test_transfer_does_not_depend_on_the_intrinsics(focal, principal):
    centers, sizes, cams = _rois(seed=1)
    dst_c, dst_b = centers.flip(1), sizes.flip(1)
    expected = _through_full(cams, centers, sizes, dst_c, dst_b, focal,
                             torch.tensor(principal, dtype=torch.float64))
    torch.testing.assert_close(
        transfer_crop_camera(cams, centers, sizes, dst_c, dst_b), expected, rtol=1e-12,
        atol=1e-12)


def test_transfer_hand_derived_case():
    # b s = 200 px/m; the destination is twice as large and 100 px to the right:
    # s' = 200 / 400 = 0.5, tx' = 0.1 + 2 (-100) / 200 = -0.9, ty' unchanged.
    got = transfer_crop_camera(np.array([1.0, 0.1, -0.2]), np.array([300.0, 200.0]), 200.0,
                               np.array([400.0, 200.0]), 400.0)
    np.testing.assert_allclose(got, [0.5, -0.9, -0.2], rtol=0, atol=1e-15)


def test_transfer_round_trip_and_identity():
    centers, sizes, cams = _rois(seed=2)
    dst_c, dst_b = centers.roll(2, dims=1), sizes.roll(2, dims=1)
    there = transfer_crop_camera(cams, centers, sizes, dst_c, dst_b)
    torch.testing.assert_close(transfer_crop_camera(there, dst_c, dst_b, centers, sizes), cams,
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(transfer_crop_camera(cams, centers, sizes, centers, sizes), cams)


def test_relative_layout_of_the_paper_table():
    # Original box: centre (300, 200), height 100; RoI 1 is the 1.5x box shifted 0.1 b0 right.
    centers = np.array([[300.0, 200.0], [310.0, 200.0], [300.0, 190.0]])
    sizes = np.array([100.0, 150.0, 65.0])
    layout = relative_roi_layout(centers, sizes)
    np.testing.assert_allclose(layout, [[0, 0, 0], [np.log(1.5), 0.1, 0], [np.log(0.65), 0, -0.1]],
                               atol=1e-15)
    # Invariant to where the person stands and how large the image is.
    np.testing.assert_allclose(relative_roi_layout(3 * centers + 17, 3 * sizes), layout,
                               atol=1e-12)


def test_carried_camera_is_the_full_camera_of_roi0_seen_by_each_roi():
    centers, sizes, cams = _rois(seed=3)
    cam0 = cams[:, 0]
    expected = _through_full(cam0.unsqueeze(1).expand_as(cams), centers[:, :1].expand_as(centers),
                             sizes[:, :1].expand_as(sizes), centers, sizes)
    got = carry_crop_camera(cam0, relative_roi_layout(centers, sizes))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    # A single mean camera (3,) broadcasts over people and RoIs; RoI 0 keeps it.
    mean = torch.tensor([0.9, 0.01, 0.1], dtype=torch.float64)
    carried = carry_crop_camera(mean, relative_roi_layout(centers, sizes))
    assert carried.shape == cams.shape
    torch.testing.assert_close(carried[:, 0], mean.expand(len(cams), 3))
    # Every RoI then sees one full camera: the full cameras agree.
    full = cam_crop_to_full(carried, centers, sizes, torch.full_like(sizes, FOCAL),
                            PRINCIPAL.expand_as(centers))
    torch.testing.assert_close(full, full[:, :1].expand_as(full), rtol=1e-12, atol=1e-12)


def test_carry_has_gradients_to_the_start_camera():
    centers, sizes, _ = _rois(seed=4, batch=2)
    mean = torch.tensor([0.9, 0.0, 0.1], dtype=torch.float64, requires_grad=True)
    carried = carry_crop_camera(mean, relative_roi_layout(centers, sizes))
    carried[..., 0].sum().backward()
    # d s_k / d s_0 = 1 / r_k = b_0 / b_k
    torch.testing.assert_close(mean.grad[0], (sizes[:, :1] / sizes).sum())


def test_fuse_agreeing_cameras_is_identity():
    cam = torch.tensor([[0.3, -0.2, 7.0]], dtype=torch.float64).expand(4, 3)
    torch.testing.assert_close(fuse_full_cameras(cam), cam[0])


def test_fuse_hand_derived_geometric_depth():
    # Depths 5 and 20 -> geometric mean 10; directions (0.1, 0) and (0.3, 0.2) -> (0.2, 0.1).
    cams = np.array([[0.5, 0.0, 5.0], [6.0, 4.0, 20.0]])
    np.testing.assert_allclose(fuse_full_cameras(cams), [2.0, 1.0, 10.0], rtol=1e-14)
    # Weights (3, 1): log-depth 0.75 log 5 + 0.25 log 20, direction 0.75 d0 + 0.25 d1.
    depth = np.exp(0.75 * np.log(5) + 0.25 * np.log(20))
    np.testing.assert_allclose(fuse_full_cameras(cams, np.array([3.0, 1.0])),
                               [0.15 * depth, 0.05 * depth, depth], rtol=1e-14)


def test_fuse_cancels_reciprocal_scale_errors():
    # One RoI's crop scale 25 % too high, another's 25 % too low (reciprocal factors): the
    # fused depth is exact; the arithmetic mean of the translations is not.
    true = torch.tensor([0.4, -0.3, 8.0], dtype=torch.float64)
    factors = torch.tensor([1.25, 1 / 1.25], dtype=torch.float64)
    cams = true.expand(2, 3) * factors[:, None]
    torch.testing.assert_close(fuse_full_cameras(cams), true, rtol=1e-12, atol=1e-12)
    assert (cams.mean(dim=0) - true).norm() > 0.1
