"""Tests for mroi_plugin.geometry.affine (crop and rotation affines, checked against OpenCV)."""
import cv2
import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    apply_affine,
    compose_affine,
    get_crop_affine,
    get_rotation_affine,
    image_to_normalized_crop,
    invert_affine,
)

CROP_H, CROP_W = 256, 192


def test_crop_affine_maps_roi_to_crop_frame():
    center, size = np.array([300.0, 200.0]), 128.0  # 256 / 128 = 2 crop px per image px
    affine = get_crop_affine(center, size, (CROP_H, CROP_W))
    roi_w = size * CROP_W / CROP_H  # 96 image px
    points = np.array([
        center,  # centre -> (crop_w / 2, crop_h / 2)
        center + [0.0, size / 2],  # bottom edge of the RoI -> bottom of the crop
        center + [roi_w / 2, 0.0],  # right edge of the RoI -> right of the crop
        center + [-10.0, -5.0],  # isotropic: 2 crop px per image px on both axes
    ])
    expected = np.array([
        [CROP_W / 2, CROP_H / 2],
        [CROP_W / 2, CROP_H],
        [CROP_W, CROP_H / 2],
        [CROP_W / 2 - 20, CROP_H / 2 - 10],
    ])
    np.testing.assert_allclose(apply_affine(points, affine), expected, atol=1e-12)


def test_crop_affine_matches_get_rotation_matrix_2d():
    center, size, angle = (310.5, 140.25), 180.0, 37.0
    affine = get_crop_affine(np.array(center), size, (CROP_H, CROP_W), angle)
    # cv2 rotates (and scales) about `center`, which stays fixed; the crop then moves the
    # centre to (crop_w / 2, crop_h / 2).
    expected = cv2.getRotationMatrix2D(center, angle, CROP_H / size)
    expected[:, 2] += [CROP_W / 2 - center[0], CROP_H / 2 - center[1]]
    np.testing.assert_allclose(affine, expected, atol=1e-10)
    np.testing.assert_allclose(get_rotation_affine(np.array(center), angle),
                               cv2.getRotationMatrix2D(center, angle, 1.0), atol=1e-12)


def test_rotation_is_counter_clockwise_on_screen():
    # A point right of the centre, rotated by +90 deg CCW on screen (v down), ends above it.
    center = np.array([50.0, 50.0])
    rotated = apply_affine(np.array([[60.0, 50.0]]), get_rotation_affine(center, 90.0))
    np.testing.assert_allclose(rotated, [[50.0, 40.0]], atol=1e-12)
    crop = apply_affine(np.array([[60.0, 50.0]]),
                        get_crop_affine(center, float(CROP_H), (CROP_H, CROP_W), 90.0))
    np.testing.assert_allclose(crop, [[CROP_W / 2, CROP_H / 2 - 10]], atol=1e-12)


@pytest.mark.parametrize(
    'size, angle, interpolation',
    [
        (float(CROP_H), 0.0, cv2.INTER_LINEAR),  # 1 crop px per image px
        (float(CROP_H), 90.0, cv2.INTER_NEAREST),
        (float(CROP_H), -90.0, cv2.INTER_NEAREST),
        (2.0 * CROP_H, 0.0, cv2.INTER_NEAREST),  # downscale by 2
    ])
def test_crop_affine_agrees_with_warp_affine(size, angle, interpolation):
    img_h, img_w = 600, 500
    image = np.zeros((img_h, img_w), np.uint8)
    marked = (262, 318)  # (u, v): an even offset from the centre, so downscaling hits it
    image[marked[1], marked[0]] = 255
    center = np.array([250.0, 300.0])
    affine = get_crop_affine(center, size, (CROP_H, CROP_W), angle)
    crop = cv2.warpAffine(image, affine, (CROP_W, CROP_H), flags=interpolation)
    predicted = apply_affine(np.array([marked], np.float64), affine)[0]
    u, v = np.round(predicted).astype(int)
    np.testing.assert_allclose(predicted, [u, v], atol=1e-9)  # lands on a pixel centre
    assert crop[v, u] == 255
    assert (crop > 0).sum() == 1


def test_crop_affine_batched_and_torch():
    gen = torch.Generator().manual_seed(0)
    center = 100 + 400 * torch.rand(3, 4, 2, generator=gen, dtype=torch.float64)
    # cv2.getRotationMatrix2D takes the centre as float32 (Point2f): use exact float32 values.
    center = center.float().double()
    size = 50 + 300 * torch.rand(3, 4, generator=gen, dtype=torch.float64)
    angle = 60 * torch.randn(3, 4, generator=gen, dtype=torch.float64)
    affine = get_crop_affine(center, size, (CROP_H, CROP_W), angle)
    assert affine.shape == (3, 4, 2, 3) and affine.dtype == torch.float64
    for i in range(3):
        for j in range(4):
            expected = cv2.getRotationMatrix2D(tuple(center[i, j].tolist()),
                                               angle[i, j].item(), CROP_H / size[i, j].item())
            expected[:, 2] += [CROP_W / 2 - center[i, j, 0].item(),
                               CROP_H / 2 - center[i, j, 1].item()]
            np.testing.assert_allclose(affine[i, j].numpy(), expected, atol=1e-9)
    # Scalar rotation broadcasts over the batch.
    assert get_crop_affine(center, size, (CROP_H, CROP_W), 10.0).shape == (3, 4, 2, 3)


def test_inverse_compose_and_identity():
    gen = torch.Generator().manual_seed(1)
    center = 100 + 400 * torch.rand(5, 2, generator=gen, dtype=torch.float64)
    size = 50 + 300 * torch.rand(5, generator=gen, dtype=torch.float64)
    angle = 60 * torch.randn(5, generator=gen, dtype=torch.float64)
    forward = get_crop_affine(center, size, (CROP_H, CROP_W), angle)
    backward = get_crop_affine(center, size, (CROP_H, CROP_W), angle, inverse=True)
    torch.testing.assert_close(backward, invert_affine(forward))
    identity = torch.eye(2, 3, dtype=torch.float64).expand(5, 2, 3)
    torch.testing.assert_close(compose_affine(forward, backward), identity)
    torch.testing.assert_close(compose_affine(backward, forward), identity)
    points = 500 * torch.rand(5, 7, 2, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(apply_affine(apply_affine(points, forward), backward), points)
    # compose(a, b) is "a after b".
    rotation = get_rotation_affine(center, angle)
    torch.testing.assert_close(apply_affine(points, compose_affine(forward, rotation)),
                               apply_affine(apply_affine(points, rotation), forward))


def test_crop_pixels_match_normalized_crop_coordinates():
    # (x - crop_w / 2) / (crop_h / 2) in crop pixels == (u - c) / (b / 2) in image pixels.
    gen = torch.Generator().manual_seed(2)
    center = 100 + 400 * torch.rand(4, 2, generator=gen, dtype=torch.float64)
    size = 50 + 300 * torch.rand(4, generator=gen, dtype=torch.float64)
    points = 600 * torch.rand(4, 9, 2, generator=gen, dtype=torch.float64)
    crop = apply_affine(points, get_crop_affine(center, size, (CROP_H, CROP_W)))
    from_crop = (crop - torch.tensor([CROP_W / 2, CROP_H / 2], dtype=torch.float64)) / (
        CROP_H / 2)
    torch.testing.assert_close(from_crop, image_to_normalized_crop(points, center, size))


def test_apply_affine_passes_extra_channels():
    points = np.array([[10.0, 20.0, 0.5]], np.float32)
    out = apply_affine(points, get_rotation_affine(np.array([10.0, 20.0], np.float32), 33.0))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, points, atol=1e-5)


def test_numpy_dtype_preserved_and_bad_crop_size():
    affine = get_crop_affine(np.array([10.0, 20.0], np.float32), np.float32(64.0))
    assert isinstance(affine, np.ndarray) and affine.dtype == np.float32
    assert affine.shape == (2, 3)
    with pytest.raises(ValueError, match='crop_size'):
        get_crop_affine(np.array([10.0, 20.0]), 64.0, crop_size=(256, ))
