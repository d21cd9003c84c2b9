"""2D affine transforms between the (virtual) full image and the crops.

An affine is a ``(.., 2, 3)`` matrix ``[A | t]`` mapping a pixel ``x`` to ``A x + t`` — the
layout ``cv2.warpAffine`` takes, so one matrix can warp an image (``cv2.warpAffine(img, M,
(crop_w, crop_h))``) and map keypoints (:func:`apply_affine`) identically.

Pixel convention (docs/CONVENTIONS.md, and OpenCV's): pixel centres are at integer
coordinates. The RoI centre ``c`` maps to ``(crop_w / 2, crop_h / 2)`` as in CLIFF/SPIN; with
integer pixel centres the crop's geometric centre is ``((crop_w - 1) / 2, (crop_h - 1) / 2)``,
so the RoI sits half a crop pixel right of and below the exact middle. That choice keeps the
normalised crop coordinates ``(u - c) / (b / 2)`` equal to ``(x - crop_w / 2) / (crop_h / 2)``
in crop pixels, which the 2D losses rely on.

Angles are degrees, positive = counter-clockwise on screen (``cv2.getRotationMatrix2D``).
"""
import math
from typing import Tuple

import torch
from torch import Tensor

from ._array import array_function, check_last_dim

__all__ = [
    'DEFAULT_CROP_SIZE', 'get_crop_affine', 'get_resize_affine', 'get_rotation_affine',
    'apply_affine', 'invert_affine', 'compose_affine', 'affine_intrinsics'
]

# Largest off-diagonal term of an intrinsics-preserving affine, relative to its diagonal.
_AXIS_ALIGNED_TOL = 1e-6
# CLIFF's crop resolution, (height, width).
DEFAULT_CROP_SIZE = (256, 192)


def _screen_rotation(angle_deg: Tensor) -> Tensor:
    """``(.., 2, 2)`` matrix rotating pixel offsets counter-clockwise on screen (v down).

    ``[[cos, sin], [-sin, cos]]``: the linear part of ``cv2.getRotationMatrix2D``.
    """
    angle = angle_deg * (math.pi / 180)
    cos, sin = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)


def _make_affine(linear: Tensor, translation: Tensor) -> Tensor:
    """``[linear | translation]`` from ``(.., 2, 2)`` and ``(.., 2)``, broadcast."""
    batch_shape = torch.broadcast_shapes(linear.shape[:-2], translation.shape[:-1])
    linear = linear.expand(*batch_shape, 2, 2)
    translation = translation.expand(*batch_shape, 2)
    return torch.cat([linear, translation.unsqueeze(-1)], dim=-1)


@array_function('center', 'size', 'rotation')
def get_crop_affine(center: Tensor,
                    size: Tensor,
                    crop_size: Tuple[int, int] = DEFAULT_CROP_SIZE,
                    rotation: Tensor = 0.,  # type: ignore[assignment]  # made a tensor by array_function
                    inverse: bool = False) -> Tensor:
    """Affine mapping source image pixels to crop pixels for a RoI.

    The RoI has height ``size`` and width ``size * crop_w / crop_h``; it is scaled
    isotropically by ``crop_h / size``, rotated by ``rotation`` degrees (counter-clockwise on
    screen, as ``cv2.getRotationMatrix2D``) about its centre, and its centre lands at
    ``(crop_w / 2, crop_h / 2)``: ``x_crop = (crop_h / b) R(rotation) (x - c) + (crop_w / 2,
    crop_h / 2)``.

    Args:
        center (Tensor | ndarray): ``(.., 2)`` RoI centre ``c``, source pixels.
        size (Tensor | ndarray | float): ``(..)`` RoI height ``b``, source pixels.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)``, crop pixels (height first).
        rotation (Tensor | ndarray | float): ``(..)`` angle, degrees. Default 0.
        inverse (bool): Return the crop -> source affine instead.

    Returns:
        Tensor | ndarray: ``(.., 2, 3)`` affine, usable directly by ``cv2.warpAffine(img, M,
        (crop_w, crop_h))`` (one un-batched matrix at a time, as float32/float64 numpy).
    """
    if len(crop_size) != 2 or min(crop_size) <= 0:
        raise ValueError('get_crop_affine(): `crop_size` must be (crop_h, crop_w) with positive '
                         f'sizes, got {crop_size!r}.')
    check_last_dim(center, (2, ), 'center', 'get_crop_affine')
    crop_h, crop_w = crop_size
    scale = (crop_h / size)[..., None, None]
    linear = scale * _screen_rotation(rotation)
    crop_center = center.new_tensor([crop_w / 2, crop_h / 2])
    translation = crop_center - torch.matmul(linear, center.unsqueeze(-1)).squeeze(-1)
    affine = _make_affine(linear, translation)
    return invert_affine(affine) if inverse else affine


@array_function('top_left', 'window_size')
def get_resize_affine(top_left: Tensor,
                      window_size: Tensor,
                      crop_size: Tuple[int, int] = DEFAULT_CROP_SIZE) -> Tensor:
    """Affine of cutting a pixel window out of an image and resizing it to the crop.

    The window holds the pixels ``x0 .. x0 + w - 1`` and ``y0 .. y0 + h - 1``; resizing it to
    ``(crop_w, crop_h)`` as ``cv2.resize`` does aligns the outer edges of the pixel areas
    (``x_src + 0.5 = (x_dst + 0.5) w / crop_w``), so a source pixel ``x`` lands at
    ``x_crop = (x - x0 + 0.5) crop_w / w - 0.5`` (and likewise in y): an axis-aligned affine,
    anisotropic when the window's aspect differs from the crop's. This is the crop that
    SPIN/CLIFF cut (``MultiRoICrop(crop_mode='cliff')``).

    Args:
        top_left (Tensor | ndarray): ``(.., 2)`` ``(x0, y0)``, the window's first pixel.
        window_size (Tensor | ndarray): ``(.., 2)`` ``(w, h)`` in pixels, > 0.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)``, crop pixels (height first).

    Returns:
        Tensor | ndarray: ``(.., 2, 3)`` affine, source pixels -> crop pixels.
    """
    if len(crop_size) != 2 or min(crop_size) <= 0:
        raise ValueError('get_resize_affine(): `crop_size` must be (crop_h, crop_w) with '
                         f'positive sizes, got {crop_size!r}.')
    check_last_dim(top_left, (2, ), 'top_left', 'get_resize_affine')
    check_last_dim(window_size, (2, ), 'window_size', 'get_resize_affine')
    crop_h, crop_w = crop_size
    scale = window_size.new_tensor([crop_w, crop_h]) / window_size
    translation = (0.5 - top_left) * scale - 0.5
    return _make_affine(torch.diag_embed(scale), translation)


@array_function('center', 'angle')
def get_rotation_affine(center: Tensor, angle: Tensor) -> Tensor:
    """Rotation of the image plane about a point (``cv2.getRotationMatrix2D(c, angle, 1)``).

    Args:
        center (Tensor | ndarray): ``(.., 2)`` rotation centre, pixels.
        angle (Tensor | ndarray | float): ``(..)`` angle, degrees, counter-clockwise on screen.

    Returns:
        Tensor | ndarray: ``(.., 2, 3)`` affine, pixels -> pixels.
    """
    check_last_dim(center, (2, ), 'center', 'get_rotation_affine')
    linear = _screen_rotation(angle)
    center = center.expand(*torch.broadcast_shapes(center.shape[:-1], linear.shape[:-2]), 2)
    translation = center - torch.matmul(linear, center.unsqueeze(-1)).squeeze(-1)
    return _make_affine(linear, translation)


@array_function('points', 'affine')
def apply_affine(points: Tensor, affine: Tensor) -> Tensor:
    """Map 2D points with an affine: ``A x + t``.

    Args:
        points (Tensor | ndarray): ``(.., J, C)`` with ``u, v`` in the first two channels;
            further channels (e.g. a confidence) are passed through unchanged.
        affine (Tensor | ndarray): ``(.., 2, 3)``.

    Returns:
        Tensor | ndarray: ``(.., J, C)``.
    """
    check_last_dim(affine, (2, 3), 'affine', 'apply_affine')
    if points.dim() < 2 or points.shape[-1] < 2:
        raise ValueError('apply_affine(): `points` must have shape (..., J, C) with C >= 2, '
                         f'got {tuple(points.shape)}.')
    linear, translation = affine[..., :2], affine[..., 2]
    uv = torch.matmul(points[..., :2], linear.transpose(-1, -2)) + translation.unsqueeze(-2)
    if points.shape[-1] == 2:
        return uv
    extra = points[..., 2:]
    batch_shape = torch.broadcast_shapes(uv.shape[:-1], extra.shape[:-1])
    return torch.cat([uv.expand(*batch_shape, 2), extra.expand(*batch_shape, extra.shape[-1])],
                     dim=-1)


@array_function('affine')
def invert_affine(affine: Tensor) -> Tensor:
    """Inverse of an affine: ``[A^-1 | -A^-1 t]``.

    Args:
        affine (Tensor | ndarray): ``(.., 2, 3)`` with an invertible linear part.

    Returns:
        Tensor | ndarray: ``(.., 2, 3)``.
    """
    check_last_dim(affine, (2, 3), 'affine', 'invert_affine')
    linear_inv = torch.linalg.inv(affine[..., :2])
    translation = -torch.matmul(linear_inv, affine[..., 2:]).squeeze(-1)
    return _make_affine(linear_inv, translation)


@array_function('a', 'b')
def compose_affine(a: Tensor, b: Tensor) -> Tensor:
    """``a`` after ``b``: ``x -> A_a (A_b x + t_b) + t_a``.

    Args:
        a (Tensor | ndarray): ``(.., 2, 3)``, applied second.
        b (Tensor | ndarray): ``(.., 2, 3)``, applied first.

    Returns:
        Tensor | ndarray: ``(.., 2, 3)``.
    """
    check_last_dim(a, (2, 3), 'a', 'compose_affine')
    check_last_dim(b, (2, 3), 'b', 'compose_affine')
    linear = torch.matmul(a[..., :2], b[..., :2])
    translation = torch.matmul(a[..., :2], b[..., 2:]).squeeze(-1) + a[..., 2]
    return _make_affine(linear, translation)


@array_function('affine', 'focal_length', 'principal_point')
def affine_intrinsics(affine: Tensor, focal_length: Tensor,
                      principal_point: Tensor) -> Tuple[Tensor, Tensor]:
    """Pinhole intrinsics of an image warped by an axis-aligned affine (a crop of it).

    A pixel ``x = f X / Z + c`` of the source image maps to ``A x + t``; with a diagonal
    ``A`` that is again a pinhole projection of the same camera-frame points, with focal
    length ``(A_00 f_x, A_11 f_y)`` and principal point ``A c + t``. So a mesh in the camera
    frame of the (virtual) full image renders straight into a crop of it
    (``crop_trans`` of :class:`~mroi_plugin.datasets.transforms.MultiRoICrop` is such an
    affine).

    Args:
        affine (Tensor | ndarray): ``(.., 2, 3)`` source pixels -> warped pixels, with a
            diagonal linear part.
        focal_length (Tensor | ndarray | float): ``(..)`` or ``(.., 2)`` ``(fx, fy)`` of the
            source image, pixels (read as ``(fx, fy)`` when it has one dimension more than
            the batch shape of ``affine`` and its last size is 2).
        principal_point (Tensor | ndarray): ``(.., 2)`` of the source image, pixels.

    Returns:
        tuple: ``focal_length`` ``(.., 2)`` and ``principal_point`` ``(.., 2)`` of the warped
        image, pixels.

    Raises:
        ValueError: The affine rotates or shears (off-diagonal terms): the warped image is
            then not a pinhole image of the same camera frame.
    """
    check_last_dim(affine, (2, 3), 'affine', 'affine_intrinsics')
    check_last_dim(principal_point, (2, ), 'principal_point', 'affine_intrinsics')
    linear = affine[..., :2]
    diagonal = torch.diagonal(linear, dim1=-2, dim2=-1)
    off_diagonal = torch.stack([linear[..., 0, 1], linear[..., 1, 0]], dim=-1)
    scale = diagonal.abs().amax(dim=-1, keepdim=True)
    if bool((off_diagonal.abs() > _AXIS_ALIGNED_TOL * scale).any()):
        raise ValueError(
            'affine_intrinsics(): the affine rotates or shears (off-diagonal terms '
            f'{off_diagonal.tolist()}); only axis-aligned scales and shifts keep a pinhole '
            'camera. Rotate the 3D points about the camera z axis instead.')
    batch_dim = affine.dim() - 2
    if focal_length.dim() == batch_dim + 1 and focal_length.shape[-1] == 2:
        focal = focal_length
    else:
        focal = focal_length.unsqueeze(-1).expand(*focal_length.shape, 2)
    principal = torch.matmul(linear, principal_point.unsqueeze(-1)).squeeze(-1) + affine[..., 2]
    return diagonal * focal, principal
