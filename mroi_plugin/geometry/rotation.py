"""Rotation representations: 6D (SPIN/CLIFF), axis-angle, rotation matrices.

Rotation matrices act on column vectors (``x' = R x``). Axis-angle vectors ``r = theta * n``
have ``theta`` in radians, ``|r| = theta`` in ``[0, pi]`` on output.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from ._array import array_function, check_last_dim

__all__ = [
    'mean_rotation',
    'rot6d_to_rotmat', 'rotmat_to_rot6d', 'axis_angle_to_rotmat', 'rotmat_to_axis_angle',
    'rotmat_about_z'
]

# Norm floor in the 6D Gram-Schmidt (F.normalize's default), so degenerate inputs stay finite.
_GRAM_SCHMIDT_EPS = 1e-12
# Floor on the squared sine-half-angle terms in the matrix -> quaternion step; only the branch
# with the largest term (always >= 1) is used, the floor keeps the others' gradients finite.
_QUATERNION_TERM_FLOOR = 1e-6


def _small_angle_threshold(dtype: torch.dtype) -> float:
    """Squared angle below which Taylor series replace ``sin(x) / x``-type ratios.

    ``sqrt(machine eps)`` of the dtype: the 3-term series' error ``O(x^6)`` is then far
    below the dtype's precision, and the closed forms are never evaluated at 0.
    """
    return float(torch.finfo(dtype).eps)**0.5


@array_function('rot6d')
def rot6d_to_rotmat(rot6d: Tensor) -> Tensor:
    """6D rotation representation -> rotation matrix (Zhou et al. 2019, SPIN/CLIFF layout).

    The 6 numbers are viewed as a ``(3, 2)`` matrix in row-major order, so its columns are
    ``a1 = (x0, x2, x4)`` and ``a2 = (x1, x3, x5)``; Gram-Schmidt gives ``b1 = a1 / |a1|``,
    ``b2 = normalise(a2 - (b1 . a2) b1)``, ``b3 = b1 x b2``, and ``R = [b1 b2 b3]`` (columns).

    Args:
        rot6d (Tensor | ndarray): ``(.., 6)``.

    Returns:
        Tensor | ndarray: ``(.., 3, 3)`` proper rotation matrices.
    """
    check_last_dim(rot6d, (6, ), 'rot6d', 'rot6d_to_rotmat')
    columns = rot6d.reshape(*rot6d.shape[:-1], 3, 2)
    a1, a2 = columns[..., 0], columns[..., 1]
    b1 = F.normalize(a1, dim=-1, eps=_GRAM_SCHMIDT_EPS)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=_GRAM_SCHMIDT_EPS)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


@array_function('rotmat')
def rotmat_to_rot6d(rotmat: Tensor) -> Tensor:
    """Rotation matrix -> 6D (the first two columns, in the layout of rot6d_to_rotmat).

    Args:
        rotmat (Tensor | ndarray): ``(.., 3, 3)``.

    Returns:
        Tensor | ndarray: ``(.., 6)``; ``rot6d_to_rotmat`` maps it back to ``rotmat``.
    """
    check_last_dim(rotmat, (3, 3), 'rotmat', 'rotmat_to_rot6d')
    return rotmat[..., :2].reshape(*rotmat.shape[:-2], 6)


def _skew(vec: Tensor) -> Tensor:
    """``(.., 3) -> (.., 3, 3)`` cross-product matrix ``[v]_x``."""
    x, y, z = vec.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([
        torch.stack([zero, -z, y], -1),
        torch.stack([z, zero, -x], -1),
        torch.stack([-y, x, zero], -1),
    ], -2)


@array_function('axis_angle')
def axis_angle_to_rotmat(axis_angle: Tensor) -> Tensor:
    """Axis-angle -> rotation matrix (Rodrigues): ``R = I + A K + B K^2``, ``K = [r]_x``.

    ``A = sin(theta) / theta`` and ``B = (1 - cos(theta)) / theta^2 = 2 sin^2(theta / 2) /
    theta^2`` (the half-angle form avoids cancellation); near ``theta = 0`` both come from
    their Taylor series, so values and gradients are exact and finite at 0.

    Args:
        axis_angle (Tensor | ndarray): ``(.., 3)`` axis times angle (radians).

    Returns:
        Tensor | ndarray: ``(.., 3, 3)``.
    """
    check_last_dim(axis_angle, (3, ), 'axis_angle', 'axis_angle_to_rotmat')
    theta2 = (axis_angle * axis_angle).sum(-1)
    small = theta2 < _small_angle_threshold(axis_angle.dtype)
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    coef_a = torch.where(small, 1 - theta2 / 6 + theta2**2 / 120, torch.sin(theta) / theta)
    half_sinc = torch.sin(theta / 2) / theta
    coef_b = torch.where(small, 0.5 - theta2 / 24 + theta2**2 / 720, 2 * half_sinc**2)
    skew = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return (eye + coef_a[..., None, None] * skew +
            coef_b[..., None, None] * torch.matmul(skew, skew))


def _rotmat_to_quaternion(rotmat: Tensor) -> Tensor:
    """``(.., 3, 3) -> (.., 4)`` unit quaternion ``(w, x, y, z)`` with ``w >= 0``.

    Shepperd's method: of the four ways to read the quaternion off the matrix, use the one
    whose divisor (``4 q_k^2``, the largest of the four) is biggest, so it is accurate for
    every angle including pi.
    """
    r = rotmat
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    # terms[k] = 4 q_k^2 for k = w, x, y, z.
    terms = torch.stack([
        1 + r00 + r11 + r22,
        1 + r00 - r11 - r22,
        1 - r00 + r11 - r22,
        1 - r00 - r11 + r22,
    ], -1)
    # candidates[..., k, :] = 4 q_k * q (each row read with a different q_k).
    candidates = torch.stack([
        torch.stack([terms[..., 0], r21 - r12, r02 - r20, r10 - r01], -1),
        torch.stack([r21 - r12, terms[..., 1], r01 + r10, r02 + r20], -1),
        torch.stack([r02 - r20, r01 + r10, terms[..., 2], r12 + r21], -1),
        torch.stack([r10 - r01, r02 + r20, r12 + r21, terms[..., 3]], -1),
    ], -2)
    denominators = 2 * torch.sqrt(terms.clamp(min=_QUATERNION_TERM_FLOOR))
    candidates = candidates / denominators.unsqueeze(-1)
    best = terms.argmax(dim=-1)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    quat = torch.gather(candidates, -2, index).squeeze(-2)
    # q and -q are the same rotation; w >= 0 puts the angle in [0, pi].
    return torch.where(quat[..., :1] < 0, -quat, quat)


@array_function('rotmat')
def rotmat_to_axis_angle(rotmat: Tensor) -> Tensor:
    """Rotation matrix -> axis-angle with angle in ``[0, pi]``.

    Goes through the quaternion (Shepperd's method), then ``theta = 2 atan2(|v|, w)`` and
    ``r = theta v / |v|``; ``2 atan2(n, w) / n`` comes from its Taylor series when ``n`` is
    small. Accurate near 0 and near pi, in float32 and float64. At exactly pi the sign of the
    axis is arbitrary (both are the same rotation).

    Args:
        rotmat (Tensor | ndarray): ``(.., 3, 3)`` rotation matrices.

    Returns:
        Tensor | ndarray: ``(.., 3)``.
    """
    check_last_dim(rotmat, (3, 3), 'rotmat', 'rotmat_to_axis_angle')
    quat = _rotmat_to_quaternion(rotmat)
    w, vec = quat[..., 0], quat[..., 1:]
    n2 = (vec * vec).sum(-1)
    small = n2 < _small_angle_threshold(rotmat.dtype)
    n = torch.sqrt(torch.where(small, torch.ones_like(n2), n2))
    # For small n, w ~ 1: 2 atan(n / w) / n = (2 / w) (1 - n^2 / (3 w^2) + n^4 / (5 w^4)).
    ratio = n2 / (w * w).clamp(min=_QUATERNION_TERM_FLOOR)
    series = (2 / w.clamp(min=_QUATERNION_TERM_FLOOR)) * (1 - ratio / 3 + ratio**2 / 5)
    factor = torch.where(small, series, 2 * torch.atan2(n, w) / n)
    return factor.unsqueeze(-1) * vec


@array_function('angle_rad')
def rotmat_about_z(angle_rad: Tensor) -> Tensor:
    """Right-handed rotation about the camera z axis: ``[[c, -s, 0], [s, c, 0], [0, 0, 1]]``.

    In the camera frame (x right, y down) a positive angle turns x towards y, i.e. clockwise
    on screen. The 3D rotation that matches rotating the image by ``theta`` degrees
    counter-clockwise about the principal point (``get_rotation_affine(p, theta)``) is
    ``rotmat_about_z(-radians(theta))``.

    Args:
        angle_rad (Tensor | ndarray | float): ``(..)`` angle, radians.

    Returns:
        Tensor | ndarray: ``(.., 3, 3)``.
    """
    cos, sin = torch.cos(angle_rad), torch.sin(angle_rad)
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    return torch.stack([
        torch.stack([cos, -sin, zero], -1),
        torch.stack([sin, cos, zero], -1),
        torch.stack([zero, zero, one], -1),
    ], -2)


@array_function('rotmats')
def mean_rotation(rotmats: Tensor) -> Tensor:
    """Chordal L2 mean of rotations: the SO(3) projection of their average.

    Args:
        rotmats (Tensor | ndarray): ``(M, .., 3, 3)`` rotation matrices; the mean is over
            the first axis.

    Returns:
        Tensor | ndarray: ``(.., 3, 3)`` the rotation closest (Frobenius) to the average.
    """
    check_last_dim(rotmats, (3, 3), 'rotmats', 'mean_rotation')
    u, _, vh = torch.linalg.svd(rotmats.mean(dim=0))
    # Flip the last singular direction where needed so the result is a proper rotation.
    fix = torch.ones_like(u[..., 0])
    fix[..., -1] = torch.det(u @ vh)
    return u @ torch.diag_embed(fix) @ vh
