"""Tests for mroi_plugin.geometry.camera (docs/method.md#crop-and-full-cameras)."""
import math

import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    CLIFF_BBOX_INFO_CENTER_SCALE,
    CLIFF_BBOX_INFO_SIZE_MEAN,
    CLIFF_BBOX_INFO_SIZE_STD,
    MIN_FINITE_BBOX_SCALE,
    MIN_PERSON_BBOX_SCALE,
    apply_affine,
    backproject_pixel,
    cam_crop_to_full,
    cam_full_to_crop,
    compute_bbox_info,
    default_intrinsics,
    default_principal_point,
    estimate_focal_length,
    get_rotation_affine,
    image_to_normalized_crop,
    normalized_crop_to_image,
    perspective_projection,
    rotmat_about_z,
    weak_perspective_projection,
)

# A 640 x 480 image: f = sqrt(640^2 + 480^2) = 800 (a 3-4-5 triangle), p = (320, 240).
IMG_W, IMG_H = 640, 480
FOCAL = 800.0
PRINCIPAL = (320.0, 240.0)
# A RoI centred 80 px right of and 60 px below the principal point, 200 px high.
CENTER = (400.0, 300.0)
SIZE = 200.0


def _random_setup(batch=(4, 5), seed=0, dtype=torch.float64):
    """Random but well-conditioned RoIs and cameras, float64."""
    gen = torch.Generator().manual_seed(seed)

    def uniform(low, high, shape):
        return low + (high - low) * torch.rand(*shape, generator=gen, dtype=dtype)

    center = uniform(0, 1000, (*batch, 2))
    size = uniform(50, 600, batch)
    focal = uniform(500, 2000, batch)
    principal = uniform(200, 800, (*batch, 2))
    cam_crop = torch.stack(
        [uniform(0.3, 1.5, batch), uniform(-0.5, 0.5, batch), uniform(-0.5, 0.5, batch)], -1)
    return cam_crop, center, size, focal, principal


def test_constants_are_cliffs_h36m_statistics():
    assert (CLIFF_BBOX_INFO_CENTER_SCALE, CLIFF_BBOX_INFO_SIZE_MEAN,
            CLIFF_BBOX_INFO_SIZE_STD) == (2.8, 0.24, 0.06)


def test_focal_length_and_principal_point():
    assert estimate_focal_length(IMG_W, IMG_H) == pytest.approx(FOCAL)
    np.testing.assert_allclose(default_principal_point(IMG_W, IMG_H), PRINCIPAL)
    # Batched tensors: (3, 4, 5) scaled by 1, 2, 10.
    widths = torch.tensor([3.0, 6.0, 30.0])
    heights = torch.tensor([4.0, 8.0, 40.0])
    torch.testing.assert_close(estimate_focal_length(widths, heights),
                               torch.tensor([5.0, 10.0, 50.0]))
    torch.testing.assert_close(default_principal_point(widths, heights),
                               torch.tensor([[1.5, 2.0], [3.0, 4.0], [15.0, 20.0]]))


def test_bbox_info_hand_worked():
    # cliff: 2.8 * 80 / 800 = 0.28, 2.8 * 60 / 800 = 0.21,
    #        (200 - 0.24 * 800) / (0.06 * 800) = (200 - 192) / 48 = 1 / 6.
    info = compute_bbox_info(np.array(CENTER), np.array(SIZE), FOCAL, np.array(PRINCIPAL))
    np.testing.assert_allclose(info, [0.28, 0.21, 1 / 6], rtol=1e-12)
    # raw: 80 / 800 = 0.1, 60 / 800 = 0.075, 200 / 800 = 0.25.
    raw = compute_bbox_info(np.array(CENTER), np.array(SIZE), FOCAL, np.array(PRINCIPAL),
                            mode='raw')
    np.testing.assert_allclose(raw, [0.1, 0.075, 0.25], rtol=1e-12)


def test_bbox_info_batched_broadcast():
    _, center, size, focal, principal = _random_setup()
    info = compute_bbox_info(center, size, focal, principal)
    assert info.shape == (4, 5, 3)
    expected = torch.cat([
        2.8 * (center - principal) / focal[..., None],
        ((size / focal - 0.24) / 0.06)[..., None],
    ], -1)
    torch.testing.assert_close(info, expected)
    # One focal length and principal point for all RoIs broadcast.
    shared = compute_bbox_info(center, size, 1000.0, torch.tensor([320.0, 240.0],
                                                                  dtype=torch.float64))
    torch.testing.assert_close(shared[..., 2], (size / 1000 - 0.24) / 0.06)


def test_bbox_info_unknown_mode():
    with pytest.raises(ValueError, match="'cliff', 'raw'"):
        compute_bbox_info(np.array(CENTER), SIZE, FOCAL, np.array(PRINCIPAL), mode='paper')


def test_crop_to_full_hand_worked():
    # s = 0.8: bs = 200 * 0.8 = 160; Tz = 2 * 800 / 160 = 10;
    # Tx = 0.1 + 2 * 80 / 160 = 1.1; Ty = -0.2 + 2 * 60 / 160 = 0.55.
    cam_crop = torch.tensor([0.8, 0.1, -0.2], dtype=torch.float64)
    full = cam_crop_to_full(cam_crop, torch.tensor(CENTER, dtype=torch.float64),
                            torch.tensor(SIZE, dtype=torch.float64), FOCAL,
                            torch.tensor(PRINCIPAL, dtype=torch.float64))
    torch.testing.assert_close(full, torch.tensor([1.1, 0.55, 10.0], dtype=torch.float64))
    back = cam_full_to_crop(full, torch.tensor(CENTER, dtype=torch.float64), SIZE, FOCAL,
                            torch.tensor(PRINCIPAL, dtype=torch.float64))
    torch.testing.assert_close(back, cam_crop)


def test_crop_full_round_trips():
    cam_crop, center, size, focal, principal = _random_setup()
    full = cam_crop_to_full(cam_crop, center, size, focal, principal)
    torch.testing.assert_close(cam_full_to_crop(full, center, size, focal, principal), cam_crop,
                               atol=1e-10, rtol=0)
    # full -> crop -> full, including bodies behind the camera (negative Tz is exact too).
    gen = torch.Generator().manual_seed(1)
    cam_full = torch.randn(4, 5, 3, generator=gen, dtype=torch.float64)
    cam_full[..., 2] = cam_full[..., 2].sign() * (1 + 20 * cam_full[..., 2].abs())
    crop = cam_full_to_crop(cam_full, center, size, focal, principal)
    torch.testing.assert_close(cam_crop_to_full(crop, center, size, focal, principal), cam_full,
                               atol=1e-10, rtol=0)


def test_crop_full_gradcheck():
    cam_crop, center, size, focal, principal = _random_setup(batch=(2, 3))
    inputs = tuple(x.clone().requires_grad_() for x in (cam_crop, center, size, focal,
                                                         principal))
    assert torch.autograd.gradcheck(cam_crop_to_full, inputs)
    cam_full = cam_crop_to_full(cam_crop, center, size, focal, principal)
    inputs = (cam_full.clone().requires_grad_(), ) + inputs[1:]
    assert torch.autograd.gradcheck(cam_full_to_crop, inputs)


def test_crop_to_full_guards_zero_scale():
    center = torch.tensor([[400.0, 300.0]] * 3)
    size = torch.full((3, ), 200.0)
    cam_crop = torch.tensor([[0.0, 0.1, 0.2], [1e-30, 0.0, 0.0], [-1e-30, 0.0, 0.0]],
                            requires_grad=True)
    full = cam_crop_to_full(cam_crop, center, size, FOCAL, torch.tensor(PRINCIPAL))
    assert torch.isfinite(full).all()
    # The sign of s is kept: a tiny negative scale means a (far) negative depth.
    assert full[0, 2] > 0 and full[1, 2] > 0 and full[2, 2] < 0
    full.sum().backward()
    assert torch.isfinite(cam_crop.grad).all()


def test_full_to_crop_guards_zero_depth():
    cam_full = torch.tensor([[0.1, 0.2, 0.0], [0.1, 0.2, -3.0]], dtype=torch.float64)
    crop = cam_full_to_crop(cam_full, torch.tensor(CENTER, dtype=torch.float64), SIZE, FOCAL,
                            torch.tensor(PRINCIPAL, dtype=torch.float64))
    assert torch.isfinite(crop).all()
    assert crop[0, 0] > 0 and crop[1, 0] < 0


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match='cam_crop_to_full.*`cam_crop`.*3'):
        cam_crop_to_full(np.zeros(2), np.zeros(2), 1.0, 1.0, np.zeros(2))
    with pytest.raises(ValueError, match='`principal_point`'):
        cam_full_to_crop(np.ones(3), np.zeros(2), 1.0, 1.0, np.zeros(3))
    with pytest.raises(ValueError, match='`points`'):
        perspective_projection(np.ones(3), np.ones(3), 1.0, np.zeros(2))


def test_perspective_projection_hand_worked():
    # X = (0.5, -0.25, 1) + T = (0, 0, 1) -> (0.5, -0.25, 2): u = 800 * 0.25 + 320 = 520,
    # v = 800 * -0.125 + 240 = 140; with (fx, fy) = (800, 400): v = 400 * -0.125 + 240 = 190.
    points = np.array([[0.5, -0.25, 1.0]])
    transl = np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(perspective_projection(points, transl, FOCAL, np.array(PRINCIPAL)),
                               [[520.0, 140.0]])
    np.testing.assert_allclose(
        perspective_projection(points, transl, np.array([800.0, 400.0]), np.array(PRINCIPAL)),
        [[520.0, 190.0]])


def test_perspective_projection_focal_forms_and_rotation():
    gen = torch.Generator().manual_seed(2)
    # Two RoIs: a (B, 2) focal is one value per (person, RoI), not (fx, fy).
    points = torch.randn(3, 2, 7, 3, generator=gen, dtype=torch.float64)
    transl = torch.tensor([0.1, -0.2, 8.0], dtype=torch.float64).expand(3, 2, 3)
    principal = torch.tensor(PRINCIPAL, dtype=torch.float64).expand(3, 2, 2)
    focal = 500 + 1000 * torch.rand(3, 2, generator=gen, dtype=torch.float64)
    per_roi = perspective_projection(points, transl, focal, principal)
    for i in range(3):
        for j in range(2):
            single = perspective_projection(points[i, j], transl[i, j], focal[i, j].item(),
                                            principal[i, j])
            torch.testing.assert_close(per_roi[i, j], single)
    # (..., 2) focal with fx == fy equals the scalar focal.
    both = perspective_projection(points, transl, focal[..., None].expand(3, 2, 2), principal)
    torch.testing.assert_close(both, per_roi)
    # The rotation is applied to the points before the translation.
    rot = rotmat_about_z(torch.full((3, 2), 0.7, dtype=torch.float64))
    rotated = perspective_projection(points, transl, focal, principal, rotation=rot)
    expected = perspective_projection(points @ rot.transpose(-1, -2), transl, focal, principal)
    torch.testing.assert_close(rotated, expected)


def test_full_camera_matches_weak_perspective_crop_camera():
    """Perspective with the full camera == crop camera mapped crop -> image, at Z = 0."""
    cam_crop, center, size, focal, principal = _random_setup(batch=(6, ), seed=3)
    cam_full = cam_crop_to_full(cam_crop, center, size, focal, principal)
    gen = torch.Generator().manual_seed(4)
    xy = torch.randn(6, 10, 2, generator=gen, dtype=torch.float64) * 0.5

    def errors(depth_offset):
        points = torch.cat([xy, torch.full((6, 10, 1), depth_offset, dtype=torch.float64)], -1)
        full = perspective_projection(points, cam_full, focal, principal)
        weak = normalized_crop_to_image(weak_perspective_projection(points, cam_crop), center,
                                        size)
        return (full - weak).norm(dim=-1).max()

    # Exact for points in the root's depth plane.
    assert errors(0.0) < 1e-9
    # First order otherwise: the error shrinks linearly with the depth offset.
    ratios = [errors(dz) / dz for dz in (1e-2, 1e-3, 1e-4)]
    assert errors(1e-2) > 1e-6
    for ratio in ratios[1:]:
        assert ratio == pytest.approx(ratios[0].item(), rel=0.05)


def test_image_rotation_matches_3d_rotation_about_z():
    """Rotating the image CCW by theta about p == rotating 3D about z by -theta."""
    gen = torch.Generator().manual_seed(5)
    points = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    points[:, 2] += 6
    principal = torch.tensor(PRINCIPAL, dtype=torch.float64)
    zero = torch.zeros(3, dtype=torch.float64)
    theta_deg = 25.0
    projected = perspective_projection(points, zero, FOCAL, principal)
    rotated_image = apply_affine(projected, get_rotation_affine(principal, theta_deg))
    rot = rotmat_about_z(torch.tensor(-math.radians(theta_deg), dtype=torch.float64))
    rotated_3d = perspective_projection(points, zero, FOCAL, principal, rotation=rot)
    torch.testing.assert_close(rotated_image, rotated_3d)


def test_normalized_crop_round_trip_and_extra_channels():
    # (u - c) / (b / 2): (500, 200) in the RoI (400, 300), 200 -> (1, -1).
    points = np.array([[[500.0, 200.0, 0.7], [400.0, 300.0, 1.0]]])
    normalised = image_to_normalized_crop(points, np.array([CENTER]), np.array([SIZE]))
    np.testing.assert_allclose(normalised, [[[1.0, -1.0, 0.7], [0.0, 0.0, 1.0]]])
    np.testing.assert_allclose(
        normalized_crop_to_image(normalised, np.array([CENTER]), np.array([SIZE])), points)


def test_numpy_in_numpy_out_keeps_dtype():
    cam = np.array([[0.8, 0.1, -0.2]], dtype=np.float32)
    out = cam_crop_to_full(cam, np.array([CENTER], np.float32), np.array([SIZE], np.float32),
                           np.array([FOCAL], np.float32), np.array([PRINCIPAL], np.float32))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, [[1.1, 0.55, 10.0]], rtol=1e-6)
    out64 = cam_full_to_crop(out.astype(np.float64), np.array([CENTER]), SIZE, FOCAL,
                             np.array(PRINCIPAL))
    assert isinstance(out64, np.ndarray) and out64.dtype == np.float64
    # Integer pixel arrays compute in float64.
    info = compute_bbox_info(np.array([400, 300]), np.array(200), 800, np.array([320, 240]))
    assert info.dtype == np.float64
    # A tensor among the arguments makes the result a tensor of the tensor's dtype.
    mixed = cam_crop_to_full(torch.tensor(cam), np.array([CENTER]), SIZE, FOCAL,
                             np.array(PRINCIPAL))
    assert isinstance(mixed, torch.Tensor) and mixed.dtype == torch.float32


def test_bbox_xyxy_to_roi_by_hand():
    from mroi_plugin.geometry import bbox_xyxy_to_roi
    # A 60 x 200 box: its height wins; a 300 x 100 box: width / aspect wins.
    boxes = np.array([[10.0, 20.0, 70.0, 220.0, 0.9], [0.0, 0.0, 300.0, 100.0, 1.0]])
    centers, sizes = bbox_xyxy_to_roi(boxes, crop_aspect=0.75, padding=1.2)
    np.testing.assert_allclose(centers, [[40.0, 120.0], [150.0, 50.0]])
    np.testing.assert_allclose(sizes, [200 * 1.2, 300 / 0.75 * 1.2])
    t_centers, t_sizes = bbox_xyxy_to_roi(torch.from_numpy(boxes), 0.75, 1.2)
    assert isinstance(t_sizes, torch.Tensor)
    np.testing.assert_allclose(t_sizes.numpy(), sizes)


def test_crop_camera_scale_parameterisations():
    from mroi_plugin.geometry import decode_crop_camera, encode_crop_camera
    cam = torch.tensor([[0.9, 0.1, -0.2], [2.5, -0.3, 0.05]], dtype=torch.float64)
    # 'log' stores log s: hand-worked for s = 0.9 and the round trip.
    raw = encode_crop_camera(cam, 'log')
    assert raw[0, 0].item() == pytest.approx(math.log(0.9))
    assert torch.equal(raw[:, 1:], cam[:, 1:])
    assert torch.allclose(decode_crop_camera(raw, 'log'), cam)
    assert decode_crop_camera(cam, 'linear') is cam
    # Any raw value decodes to a positive scale (what keeps b*s away from 0).
    assert (decode_crop_camera(torch.tensor([[-30.0, 0.0, 0.0]]), 'log')[..., 0] > 0).all()
    # numpy in, numpy out.
    np.testing.assert_allclose(decode_crop_camera(np.array([0.0, 1.0, 2.0]), 'log'), [1, 1, 2])
    torch.autograd.gradcheck(lambda r: decode_crop_camera(r, 'log'),
                             (raw.clone().requires_grad_(True), ))
    with pytest.raises(ValueError, match='positive crop scale'):
        encode_crop_camera(torch.tensor([-0.5, 0.0, 0.0]), 'log')
    with pytest.raises(ValueError, match='scale_param must be one of'):
        decode_crop_camera(cam, 'softplus')


# --------------------------------------------------------------- default camera, back-projection
def test_default_intrinsics_fill_only_what_is_missing():
    # A 640x480 image: the diagonal is 800 px (3-4-5), the centre (320, 240).
    focal, principal = default_intrinsics(640, 480)
    assert focal == 800.0 and isinstance(focal, float)
    np.testing.assert_array_equal(principal, [320.0, 240.0])
    assert principal.dtype == np.float64
    given = np.array([1.0, 2.0], dtype=np.float32)
    focal, principal = default_intrinsics(640, 480, 1000.0, given)
    assert focal == 1000.0 and principal is given
    focal, principal = default_intrinsics(640, 480, principal_point=given)
    assert focal == 800.0 and principal is given


def test_backproject_pixel_inverts_the_projection():
    rng = np.random.default_rng(0)
    pixel = rng.uniform(0, 640, (4, 2))
    depth = rng.uniform(2, 20, 4)
    focal = rng.uniform(500, 1500, 4)
    principal = rng.uniform(200, 400, (4, 2))
    points = backproject_pixel(pixel, depth, focal, principal)
    assert points.shape == (4, 3)
    np.testing.assert_array_equal(points[:, 2], depth)
    projected = perspective_projection(points[:, None], np.zeros((4, 3)), focal, principal)
    np.testing.assert_allclose(projected[:, 0], pixel, rtol=1e-12)
    # The principal point back-projects onto the optical axis; one focal length off-centre
    # at depth Z is Z metres off-axis.
    centre = backproject_pixel(torch.tensor([300.0, 200.0]), torch.tensor(5.0),
                               torch.tensor(1000.0), torch.tensor([300.0, 200.0]))
    assert torch.equal(centre, torch.tensor([0.0, 0.0, 5.0]))
    np.testing.assert_array_equal(backproject_pixel([1300.0, 200.0], 5.0, 1000.0, [300.0, 200.0]),
                                  [5.0, 0.0, 5.0])


def test_the_two_bbox_scale_floors_are_what_they_say():
    # The numerical guard keeps a collapsed scale finite (2 f / 1e-6 m away); the person
    # floor of the loss puts it at 2 f metres at most.
    cam = np.array([0.0, 0.0, 0.0])
    far = cam_crop_to_full(cam, np.array([100.0, 100.0]), 200.0, 1000.0, np.array([100.0, 100.0]))
    assert far[2] == pytest.approx(2 * 1000.0 / MIN_FINITE_BBOX_SCALE)
    near = cam_crop_to_full(cam, np.array([100.0, 100.0]), 200.0, 1000.0,
                            np.array([100.0, 100.0]), eps=MIN_PERSON_BBOX_SCALE)
    assert near[2] == pytest.approx(2000.0)
    from mroi_plugin.models.losses import CameraConsistencyLoss
    assert CameraConsistencyLoss().eps == MIN_PERSON_BBOX_SCALE
