"""MultiRoICrop(crop_mode='cliff'): SPIN/CLIFF's integer window + resize."""
import cv2
import numpy as np
import pytest

from mroi_plugin.datasets.transforms import MultiRoICrop
from mroi_plugin.datasets.transforms.multi_roi_crop import cliff_crop_window
from mroi_plugin.geometry import apply_affine, get_resize_affine

CROP_SIZE = (256, 192)


def _results(img, center, size, **extra):
    return dict(img=img, bbox_center=np.asarray(center, dtype=np.float64), bbox_size=size,
                focal_length=1000.0, principal_point=np.array([img.shape[1] / 2,
                                                               img.shape[0] / 2]), **extra)


def _image(height=120, width=100, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_window_rounds_half_to_even():
    # Hand-derived: a 6 x 8 RoI (crop 8 x 6) centred at (10.5, 20.5) spans x 7.5 .. 13.5 and
    # y 16.5 .. 24.5; numpy/Python round half to even: 8, 14 and 16, 24.
    ul, br = cliff_crop_window(np.array([[10.5, 20.5]]), np.array([8.0]), (8, 6))
    assert ul.tolist() == [[8, 16]] and br.tolist() == [[14, 24]]
    assert ul.dtype == np.int64


def test_crop_is_the_resized_window_padded_with_zeros():
    img = _image()
    # RoI height 100, width 75, centred at (20, 60): window x -17.5 .. 57.5 -> [-18, 58),
    # y 10 .. 110 -> [10, 110); 18 columns of padding on the left.
    out = MultiRoICrop(num_rois=1, crop_size=CROP_SIZE,
                       crop_mode='cliff').transform(_results(img, (20.0, 60.0), 100.0))
    window = np.zeros((100, 76, 3), np.float32)
    window[:, 18:] = img[10:110, 0:58]
    expected = cv2.resize(window, (CROP_SIZE[1], CROP_SIZE[0]))
    assert out['img'].shape == (1, ) + CROP_SIZE + (3, ) and out['img'].dtype == np.float32
    np.testing.assert_array_equal(out['img'][0], expected)
    # The RoI itself (not the rounded window) defines bbox_info and the camera, as in CLIFF.
    np.testing.assert_allclose(out['roi_centers'], [[20.0, 60.0]])
    np.testing.assert_allclose(out['roi_sizes'], [100.0])
    warp = MultiRoICrop(num_rois=1, crop_size=CROP_SIZE).transform(
        _results(img, (20.0, 60.0), 100.0))
    np.testing.assert_allclose(out['bbox_info'], warp['bbox_info'])


def test_crop_trans_is_the_window_resize():
    """crop_trans maps image pixels where cv2.resize puts them: warping the image with it
    reproduces the crop (up to warpAffine's 1/32-pixel coordinate quantisation)."""
    yy, xx = np.mgrid[0:120, 0:100]
    smooth = np.stack([xx * 2.0, yy * 1.5, xx + yy], axis=-1).astype(np.float32)
    out = MultiRoICrop(num_rois=1, crop_size=CROP_SIZE, crop_mode='cliff').transform(
        _results(smooth.copy(), (50.3, 61.7), 90.0))
    warped = cv2.warpAffine(smooth, out['crop_trans'][0], (CROP_SIZE[1], CROP_SIZE[0]),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inner = (slice(4, -4), slice(4, -4))  # away from the window's clamped border pixels
    np.testing.assert_allclose(warped[inner], out['img'][0][inner], atol=0.2)


def test_resize_affine_maps_pixel_edges():
    # Window of 4 x 2 pixels from (10, 20) resized to 8 x 8: pixel edge x = 9.5 -> crop
    # edge -0.5 and x = 13.5 -> 7.5; y = 19.5 -> -0.5 and y = 21.5 -> 7.5.
    affine = get_resize_affine(np.array([10.0, 20.0]), np.array([4.0, 2.0]), (8, 8))
    edges = apply_affine(np.array([[9.5, 19.5], [13.5, 21.5]]), affine)
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [7.5, 7.5]])


def test_cliff_mode_refuses_rotation_and_keeps_targets():
    img = _image()
    keypoints = np.array([[30.0, 40.0, 1.0], [60.0, 90.0, 0.5]])
    results = _results(img, (50.0, 60.0), 80.0, keypoints2d=keypoints.copy())
    out = MultiRoICrop(num_rois=1, crop_mode='cliff').transform(results)
    # Normalised crop coordinates (u - c) / (b / 2) of the RoI, as in warp mode.
    np.testing.assert_allclose(out['keypoints2d_crop'][0, :, :2],
                               (keypoints[:, :2] - [50.0, 60.0]) / 40.0)
    with pytest.raises(ValueError, match="crop_mode='cliff'.*cannot rotate"):
        MultiRoICrop(num_rois=1, crop_mode='cliff').transform(
            _results(img, (50.0, 60.0), 80.0, rotation=10.0))
    with pytest.raises(ValueError, match='crop_mode must be one of'):
        MultiRoICrop(crop_mode='spin')


def test_cliff_mode_colour_scale_is_not_rounded():
    img = _image()
    plain = MultiRoICrop(num_rois=1, crop_mode='cliff').transform(
        _results(img, (50.0, 60.0), 80.0))['img']
    scaled = MultiRoICrop(num_rois=1, crop_mode='cliff').transform(
        _results(img, (50.0, 60.0), 80.0, color_scale=np.array([0.5, 1.0, 1.3])))['img']
    expected = np.clip(plain * np.float32([0.5, 1.0, 1.3]), 0, 255)
    np.testing.assert_allclose(scaled, expected, rtol=1e-6)
    assert scaled.max() == 255.0 and not np.all(scaled == np.round(scaled))
