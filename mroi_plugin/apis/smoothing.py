"""Temporal smoothing of per-person video predictions with the One-Euro filter.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a first-order low-pass filter
whose cut-off frequency rises with the signal's speed: still poses are smoothed strongly
(less jitter), fast motion little (less lag). With ``beta = 0`` it is plain exponential
smoothing with ``alpha = 1 / (1 + fps / (2 pi min_cutoff))``.
"""
import math
from typing import Dict, Optional

import numpy as np

__all__ = ['OneEuroFilter', 'PersonSmoother']


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of an array signal, element-wise.

    Args:
        min_cutoff (float): Cut-off frequency at rest, Hz; lower is smoother.
        beta (float): Cut-off increase per unit of speed (signal units per second); higher
            follows fast motion with less lag.
        d_cutoff (float): Cut-off of the speed estimate, Hz.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f'OneEuroFilter: min_cutoff and d_cutoff must be > 0 and beta '
                             f'>= 0, got {min_cutoff}, {d_cutoff}, {beta}.')
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.value: Optional[np.ndarray] = None
        self.speed: Optional[np.ndarray] = None

    def __call__(self, value: np.ndarray, dt: float) -> np.ndarray:
        """Filter the next sample.

        Args:
            value (np.ndarray): The sample (any shape, fixed over time).
            dt (float): Seconds since the previous sample (> 0).

        Returns:
            np.ndarray: The filtered sample (float64); the first sample is returned as is.
        """
        value = np.asarray(value, dtype=np.float64)
        if self.value is None:
            self.value, self.speed = value.copy(), np.zeros_like(value)
            return value.copy()
        speed = (value - self.value) / dt
        a_d = _alpha(np.asarray(self.d_cutoff), dt)
        self.speed = a_d * speed + (1 - a_d) * self.speed
        a = _alpha(self.min_cutoff + self.beta * np.abs(self.speed), dt)
        self.value = a * value + (1 - a) * self.value
        return self.value.copy()


class PersonSmoother:
    """One-Euro filters per track for the pose (as rotation matrices), shape and camera.

    Rotation matrices are filtered element-wise and projected back onto SO(3) by the caller
    (filtering axis-angle vectors would jump where their angle wraps at pi).

    Args:
        fps (float): Frame rate of the video (sets ``dt``).
        min_cutoff (float): See :class:`OneEuroFilter`.
        beta (float): See :class:`OneEuroFilter`.
    """

    KEYS = ('rotmat', 'betas', 'cam_full')

    def __init__(self, fps: float, min_cutoff: float = 1.0, beta: float = 0.0) -> None:
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f'PersonSmoother: fps must be positive, got {fps}.')
        self.dt = 1.0 / float(fps)
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.filters: Dict[int, Dict[str, OneEuroFilter]] = {}

    def __call__(self, track_id: int, values: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Filter one person's ``rotmat`` (24, 3, 3), ``betas`` and ``cam_full`` of a frame."""
        filters = self.filters.setdefault(int(track_id), {
            key: OneEuroFilter(self.min_cutoff, self.beta) for key in self.KEYS})
        return {key: filters[key](values[key], self.dt) for key in self.KEYS}
