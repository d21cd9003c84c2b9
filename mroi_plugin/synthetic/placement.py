"""Where the synthetic camera is and where it sees the person.

A pinhole camera with a focal length of ``FOCAL_RANGE_IN_DIAGONALS`` image diagonals and a
principal point near the image centre; the pelvis placed in depth and in the image.
"""
from typing import Tuple

import numpy as np

from mroi_plugin.geometry import backproject_pixel

__all__ = ['FOCAL_RANGE_IN_DIAGONALS', 'DEPTH_RANGE', 'TRUNCATION_PROB', 'sample_intrinsics',
           'place_person']

# --- camera and placement -------------------------------------------------------------------
# Focal length as a multiple of the image diagonal (CLIFF's estimate): 500-1500 px at 640x480,
# i.e. horizontal fields of view of about 65 to 24 degrees.
FOCAL_RANGE_IN_DIAGONALS = (0.625, 1.875)
# Principal point offset from the image centre: normal with this std (fraction of W and H),
# clipped at PRINCIPAL_POINT_CLIP standard deviations.
PRINCIPAL_POINT_STD = 0.02
PRINCIPAL_POINT_CLIP = 2.0
# Pelvis depth, metres.
DEPTH_RANGE = (3.0, 10.0)
# Largest fraction of the image height an untruncated person may fill.
MAX_HEIGHT_FILL = 0.95
TRUNCATION_PROB = 0.15
# Fraction of the body box pushed past the image border when truncating.
TRUNCATION_FRACTION = (0.1, 0.4)


def sample_intrinsics(rng: np.random.Generator, image_size: Tuple[int, int],
                      focal_range: Tuple[float, float]) -> Tuple[np.float32, np.ndarray]:
    """A focal length in ``focal_range`` and a principal point jittered about the centre.

    Both are rounded to float32 first, so the stored values are the ones used.

    Args:
        rng (np.random.Generator): Random generator.
        image_size (Tuple[int, int]): ``(W, H)`` pixels.
        focal_range (Tuple[float, float]): Focal length range, pixels.

    Returns:
        tuple: ``focal`` (float32, pixels) and ``principal`` (``(2,)`` float32, pixels).
    """
    width, height = image_size
    focal = np.float32(rng.uniform(*focal_range))
    jitter = np.clip(rng.normal(0.0, PRINCIPAL_POINT_STD, size=2), -PRINCIPAL_POINT_CLIP *
                     PRINCIPAL_POINT_STD, PRINCIPAL_POINT_CLIP * PRINCIPAL_POINT_STD)
    principal = (np.array([width, height]) * (0.5 + jitter)).astype(np.float32)
    return focal, principal


def place_person(rng: np.random.Generator, relative: np.ndarray, focal: float,
                 principal: np.ndarray, image_size: Tuple[int, int],
                 depth_range: Tuple[float, float], truncation_prob: float) -> np.ndarray:
    """Pelvis position in the camera frame for a body with vertices ``relative``.

    The depth is uniform in apparent size within ``depth_range`` (no nearer than the whole
    body fits in ``MAX_HEIGHT_FILL`` of the image height), the pelvis anywhere that keeps the
    body in the image, or with probability ``truncation_prob`` partly past a border.

    Args:
        rng (np.random.Generator): Random generator.
        relative (np.ndarray): ``(V, 3)`` vertices in camera axes, pelvis at the origin, metres.
        focal (float): Focal length, pixels.
        principal (np.ndarray): ``(2,)`` principal point, pixels.
        image_size (Tuple[int, int]): ``(W, H)`` pixels.
        depth_range (Tuple[float, float]): Pelvis depth range, metres.
        truncation_prob (float): Probability that the body crosses the image border.

    Returns:
        np.ndarray: ``(3,)`` float64 pelvis position, metres.
    """
    width, height = image_size
    z_near, z_far = depth_range
    extent_low, extent_high = relative[:, :2].min(axis=0), relative[:, :2].max(axis=0)
    body_height = float(extent_high[1] - extent_low[1])
    # Nearest depth at which the whole body still fits in the image height.
    z_fit = focal * body_height / (MAX_HEIGHT_FILL * height)
    z_low = min(max(z_near, z_fit), z_far)
    # Uniform in inverse depth = uniform in apparent size.
    depth = 1.0 / rng.uniform(1.0 / z_far, 1.0 / z_low)
    box_low = focal * extent_low / depth  # (2,) px offsets of the box from the pelvis
    box_high = focal * extent_high / depth
    limits = np.array([width - 1.0, height - 1.0])
    lo, hi = -box_low, limits - box_high
    pelvis_px = np.where(hi >= lo, lo + rng.uniform(size=2) * np.maximum(hi - lo, 0.0),
                         limits / 2)
    if rng.uniform() < truncation_prob:
        axis = int(rng.integers(2))
        size = box_high[axis] - box_low[axis]
        outside = rng.uniform(*TRUNCATION_FRACTION) * size
        if rng.uniform() < 0.5:  # past the left / top border
            pelvis_px[axis] = -box_low[axis] - outside
        else:  # past the right / bottom border
            pelvis_px[axis] = limits[axis] - box_high[axis] + outside
    return backproject_pixel(pelvis_px, depth, focal, principal)
