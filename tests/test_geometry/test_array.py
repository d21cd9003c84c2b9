"""The numpy path of the geometry functions shares input memory but never writes to it."""
import numpy as np

from mroi_plugin.geometry import (
    apply_affine,
    cam_crop_to_full,
    compute_bbox_info,
    get_crop_affine,
    normalized_crop_to_image,
)


def test_numpy_inputs_are_left_untouched_and_outputs_are_new_arrays():
    rng = np.random.default_rng(0)
    center, size = rng.random((5, 2)) * 100, rng.random(5) * 100 + 50
    focal, principal = np.full(5, 500.0), np.tile([160.0, 120.0], (5, 1))
    cam = rng.random((5, 3)) + 0.5
    points = rng.random((5, 24, 3))
    inputs = [center, size, focal, principal, cam, points]
    before = [a.copy() for a in inputs]
    affine = get_crop_affine(center, size, (256, 192), 10.0)
    outputs = [
        compute_bbox_info(center, size, focal, principal),
        cam_crop_to_full(cam, center, size, focal, principal),
        affine,
        apply_affine(points, affine),
        normalized_crop_to_image(points, center, size),
    ]
    for array, original in zip(inputs, before):
        np.testing.assert_array_equal(array, original)
    for out in outputs:
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        assert not any(np.shares_memory(out, a) for a in inputs)
