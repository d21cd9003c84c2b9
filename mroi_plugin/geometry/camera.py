"""Camera formulas: focal length, bbox_info, crop <-> full cameras, projections.

Frames and units follow docs/CONVENTIONS.md: pixels with ``u`` right and ``v`` down, camera
frame x right / y down / z forward in metres, a RoI is a centre ``c`` and a height ``b`` in
pixels, the weak-perspective crop camera ``(s, tx, ty)`` maps a 3D point ``X`` to normalised
crop coordinates ``s * (X_xy + (tx, ty))`` where normalised means ``(u - c) / (b / 2)``.
The formulas are those of CLIFF (Li et al., ECCV'22), derived in
docs/method.md#crop-and-full-cameras.
"""
from typing import Any, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from ._array import array_function, cat_broadcast, check_last_dim
from .bbox import roi_size

__all__ = [
    'CLIFF_BBOX_INFO_CENTER_SCALE', 'CLIFF_BBOX_INFO_SIZE_MEAN', 'CLIFF_BBOX_INFO_SIZE_STD',
    'BBOX_INFO_MODES', 'BBOX_INFO_CHANNELS', 'MIN_FINITE_BBOX_SCALE', 'MIN_PERSON_BBOX_SCALE',
    'MIN_DEPTH', 'DEFAULT_CROP_CAMERA', 'estimate_focal_length', 'default_principal_point',
    'default_intrinsics', 'backproject_pixel', 'compute_bbox_info', 'cam_crop_to_full',
    'cam_full_to_crop', 'perspective_projection', 'weak_perspective_projection',
    'image_to_normalized_crop', 'normalized_crop_to_image',
    'CROP_SCALE_PARAMS', 'decode_crop_camera',
    'encode_crop_camera', 'transfer_crop_camera', 'relative_roi_layout', 'carry_crop_camera',
    'fuse_full_cameras', 'ROI_LAYOUT_CHANNELS', 'fit_translation_to_box'
]

# CLIFF's normalised bbox_info. The constants are statistics of Human3.6M boxes (CLIFF's
# released code, `bbox_info` in its demo/datasets): the centre offset over f is multiplied by
# 2.8, and the box size over f is standardised with mean 0.24 and standard deviation 0.06, so
# all three values lie roughly in [-1, 1] for typical images.
CLIFF_BBOX_INFO_CENTER_SCALE = 2.8
CLIFF_BBOX_INFO_SIZE_MEAN = 0.24
CLIFF_BBOX_INFO_SIZE_STD = 0.06

BBOX_INFO_MODES = ('cliff', 'raw')
# bbox_info is a 3-vector per RoI in both modes (docs/method.md#bbox_info).
BBOX_INFO_CHANNELS = 3

# Two floors on |b * s| (pixels per metre) in crop -> full, where a predicted scale s -> 0
# would put the body at infinite depth (tz = 2 f / (b s)); both clamp the magnitude and keep
# the sign.
# - A numerical guard, the default everywhere: it caps the depth at 2 f / 1e-6 and keeps
#   values and gradients finite without changing any sensible camera.
MIN_FINITE_BBOX_SCALE = 1e-6
# - The smallest scale of a real person, for losses: below 1 px/m the body would be more than
#   2 f metres (kilometres) away, so the clamp changes nothing for sensible predictions, and it
#   bounds the translation terms to about (2 |c - p| / 1)^2 when a predicted scale collapses
#   to 0 (instead of ~1e16 with the numerical guard).
MIN_PERSON_BBOX_SCALE = 1.0
# Smallest |depth| (metres) divided by in full -> crop and in perspective projection; points at
# the camera centre would otherwise project to infinity. The sign is kept.
MIN_DEPTH = 1e-6

# SPIN's mean crop camera (s, tx, ty): where a regressor starts when no mean-parameter file
# gives the data's own.
DEFAULT_CROP_CAMERA = (0.9, 0.0, 0.0)

# How a regressor's raw output encodes the crop scale ``s`` (see decode_crop_camera).
CROP_SCALE_PARAMS = ('linear', 'log')
# A RoI's place relative to the original box: (log size ratio, centre offset x, y); see
# relative_roi_layout.
ROI_LAYOUT_CHANNELS = 3


def _clamp_magnitude(x: Tensor, min_abs: float) -> Tensor:
    """Clamp ``|x|`` to at least ``min_abs`` keeping the sign (0 becomes ``+min_abs``)."""
    sign = torch.where(x < 0, -torch.ones_like(x), torch.ones_like(x))
    return torch.where(x.abs() < min_abs, sign * min_abs, x)


@array_function('img_w', 'img_h')
def estimate_focal_length(img_w: Tensor, img_h: Tensor) -> Tensor:
    """CLIFF's focal length estimate ``f = sqrt(W^2 + H^2)`` (the image diagonal).

    Args:
        img_w (float | Tensor | ndarray): Image width ``(..)``, pixels.
        img_h (float | Tensor | ndarray): Image height ``(..)``, pixels.

    Returns:
        Tensor | ndarray | float: ``(..)`` focal length, pixels.
    """
    return torch.sqrt(img_w**2 + img_h**2)


@array_function('img_w', 'img_h')
def default_principal_point(img_w: Tensor, img_h: Tensor) -> Tensor:
    """CLIFF's default principal point ``(W / 2, H / 2)``.

    Args:
        img_w (float | Tensor | ndarray): Image width ``(..)``, pixels.
        img_h (float | Tensor | ndarray): Image height ``(..)``, pixels.

    Returns:
        Tensor | ndarray: ``(.., 2)`` principal point ``(px, py)``, pixels.
    """
    img_w, img_h = torch.broadcast_tensors(img_w, img_h)
    return torch.stack([img_w / 2, img_h / 2], dim=-1)


def default_intrinsics(img_w: float,
                       img_h: float,
                       focal_length: Optional[Any] = None,
                       principal_point: Optional[Any] = None) -> Tuple[Any, Any]:
    """The camera of an image that comes without one (CLIFF's convention).

    What a file, a caller or a user gives is kept; what is missing becomes
    :func:`estimate_focal_length` (the image diagonal) and :func:`default_principal_point`
    (the image centre), computed in float64.

    Args:
        img_w (float): Image width, pixels.
        img_h (float): Image height, pixels.
        focal_length (optional): The known focal length, returned as it is.
        principal_point (optional): The known principal point, returned as it is.

    Returns:
        tuple: ``focal_length`` (``float`` pixels when estimated) and ``principal_point``
        (``(2,)`` float64 ndarray ``(px, py)`` pixels when estimated).
    """
    if focal_length is None:
        focal_length = float(estimate_focal_length(float(img_w), float(img_h)))
    if principal_point is None:
        principal_point = np.asarray(default_principal_point(float(img_w), float(img_h)))
    return focal_length, principal_point


@array_function('pixel', 'depth', 'focal_length', 'principal_point')
def backproject_pixel(pixel: Tensor, depth: Tensor, focal_length: Tensor,
                      principal_point: Tensor) -> Tensor:
    """The camera-frame point at depth ``Z`` that projects to ``pixel``.

    ``X = (u - px) Z / f``, ``Y = (v - py) Z / f``: the inverse of
    :func:`perspective_projection` (with ``R = I``, ``T = 0``) for a point of known depth.

    Args:
        pixel (Tensor | ndarray): ``(.., 2)`` pixel ``(u, v)``.
        depth (Tensor | ndarray | float): ``(..)`` depth ``Z``, metres.
        focal_length (Tensor | ndarray | float): ``(..)`` focal length, pixels.
        principal_point (Tensor | ndarray): ``(.., 2)`` principal point, pixels.

    Returns:
        Tensor | ndarray: ``(.., 3)`` point ``(X, Y, Z)``, metres.
    """
    check_last_dim(pixel, (2, ), 'pixel', 'backproject_pixel')
    check_last_dim(principal_point, (2, ), 'principal_point', 'backproject_pixel')
    xy = (pixel - principal_point) * depth.unsqueeze(-1) / focal_length.unsqueeze(-1)
    return cat_broadcast([xy, depth.unsqueeze(-1)])


@array_function('center', 'size', 'focal_length', 'principal_point')
def compute_bbox_info(center: Tensor,
                      size: Tensor,
                      focal_length: Tensor,
                      principal_point: Tensor,
                      mode: str = 'cliff') -> Tensor:
    """The per-RoI bbox information fed to the CLIFF regressor (docs/method.md#bbox_info).

    ``mode='cliff'`` (CLIFF's released code):
    ``[2.8 (cx - px) / f, 2.8 (cy - py) / f, (b - 0.24 f) / (0.06 f)]``.
    ``mode='raw'`` (CLIFF's paper): ``[(cx - px) / f, (cy - py) / f, b / f]``.

    Args:
        center (Tensor | ndarray): ``(.., 2)`` RoI centre ``(cx, cy)``, pixels.
        size (Tensor | ndarray): ``(..)`` RoI size ``b`` (height), pixels.
        focal_length (Tensor | ndarray | float): ``(..)`` focal length ``f``, pixels.
        principal_point (Tensor | ndarray): ``(.., 2)`` principal point ``(px, py)``, pixels.
        mode (str): ``'cliff'`` or ``'raw'``.

    Returns:
        Tensor | ndarray: ``(.., 3)`` bbox information (dimensionless).
    """
    if mode not in BBOX_INFO_MODES:
        raise ValueError(f'compute_bbox_info(): unknown mode {mode!r}; valid modes are '
                         f'{BBOX_INFO_MODES}.')
    check_last_dim(center, (2, ), 'center', 'compute_bbox_info')
    check_last_dim(principal_point, (2, ), 'principal_point', 'compute_bbox_info')
    focal = focal_length.unsqueeze(-1)
    offset = (center - principal_point) / focal
    relative_size = (size / focal_length).unsqueeze(-1)
    if mode == 'cliff':
        offset = CLIFF_BBOX_INFO_CENTER_SCALE * offset
        relative_size = (relative_size - CLIFF_BBOX_INFO_SIZE_MEAN) / CLIFF_BBOX_INFO_SIZE_STD
    return cat_broadcast([offset, relative_size])


@array_function('cam_crop', 'center', 'size', 'focal_length', 'principal_point')
def cam_crop_to_full(cam_crop: Tensor,
                     center: Tensor,
                     size: Tensor,
                     focal_length: Tensor,
                     principal_point: Tensor,
                     eps: float = MIN_FINITE_BBOX_SCALE) -> Tensor:
    """Crop weak-perspective camera -> full-image translation (CLIFF).

    Derived in docs/method.md#crop-and-full-cameras.

    With ``bs = b * s``: ``Tz = 2 f / bs``, ``Tx = tx + 2 (cx - px) / bs``,
    ``Ty = ty + 2 (cy - py) / bs``. ``|bs|`` is clamped to at least ``eps`` keeping its sign
    (``bs = 0`` becomes ``+eps``), so the result is always finite; a negative ``s`` gives a
    negative depth, which :func:`cam_full_to_crop` maps back exactly.

    Args:
        cam_crop (Tensor | ndarray): ``(.., 3)`` crop camera ``(s, tx, ty)``; ``s`` in 1/m,
            ``tx, ty`` in metres.
        center (Tensor | ndarray): ``(.., 2)`` RoI centre, pixels.
        size (Tensor | ndarray): ``(..)`` RoI size ``b`` (height), pixels.
        focal_length (Tensor | ndarray | float): ``(..)`` focal length, pixels.
        principal_point (Tensor | ndarray): ``(.., 2)`` principal point, pixels.
        eps (float): Smallest ``|b s|`` (pixels per metre).

    Returns:
        Tensor | ndarray: ``(.., 3)`` translation ``(Tx, Ty, Tz)`` in the camera frame, metres.
    """
    check_last_dim(cam_crop, (3, ), 'cam_crop', 'cam_crop_to_full')
    check_last_dim(center, (2, ), 'center', 'cam_crop_to_full')
    check_last_dim(principal_point, (2, ), 'principal_point', 'cam_crop_to_full')
    scale, trans_xy = cam_crop[..., :1], cam_crop[..., 1:]
    bs = _clamp_magnitude(size.unsqueeze(-1) * scale, eps)
    trans_xy_full = trans_xy + 2 * (center - principal_point) / bs
    depth = 2 * focal_length.unsqueeze(-1) / bs
    return cat_broadcast([trans_xy_full, depth])


@array_function('cam_full', 'center', 'size', 'focal_length', 'principal_point')
def cam_full_to_crop(cam_full: Tensor,
                     center: Tensor,
                     size: Tensor,
                     focal_length: Tensor,
                     principal_point: Tensor,
                     eps: float = MIN_DEPTH) -> Tensor:
    """Full-image translation -> crop weak-perspective camera (inverse of cam_crop_to_full).

    Solving the equations of :func:`cam_crop_to_full` for ``(s, tx, ty)``:
    ``s = 2 f / (b Tz)``, ``tx = Tx - (cx - px) Tz / f``, ``ty = Ty - (cy - py) Tz / f``.

    ``Tz <= 0`` (a body at or behind the camera) is not an error: it gives a guarded value.
    ``|Tz|`` is clamped to at least ``eps`` keeping its sign (``Tz = 0`` becomes ``+eps``), so
    the result is finite; a negative ``Tz`` gives a negative ``s``, and
    :func:`cam_crop_to_full` maps it back exactly. Callers that need to reject such targets
    check ``cam_full[..., 2] > 0`` themselves.

    Args:
        cam_full (Tensor | ndarray): ``(.., 3)`` translation ``(Tx, Ty, Tz)``, metres.
        center (Tensor | ndarray): ``(.., 2)`` RoI centre, pixels.
        size (Tensor | ndarray): ``(..)`` RoI size ``b`` (height), pixels.
        focal_length (Tensor | ndarray | float): ``(..)`` focal length, pixels.
        principal_point (Tensor | ndarray): ``(.., 2)`` principal point, pixels.
        eps (float): Smallest ``|Tz|``, metres.

    Returns:
        Tensor | ndarray: ``(.., 3)`` crop camera ``(s, tx, ty)``.
    """
    check_last_dim(cam_full, (3, ), 'cam_full', 'cam_full_to_crop')
    check_last_dim(center, (2, ), 'center', 'cam_full_to_crop')
    check_last_dim(principal_point, (2, ), 'principal_point', 'cam_full_to_crop')
    trans_xy, depth = cam_full[..., :2], _clamp_magnitude(cam_full[..., 2:], eps)
    focal = focal_length.unsqueeze(-1)
    scale = 2 * focal / (size.unsqueeze(-1) * depth)
    trans_xy_crop = trans_xy - (center - principal_point) * depth / focal
    return cat_broadcast([scale, trans_xy_crop])


@array_function('points', 'translation', 'focal_length', 'principal_point', 'rotation')
def perspective_projection(points: Tensor,
                           translation: Tensor,
                           focal_length: Tensor,
                           principal_point: Tensor,
                           rotation: Optional[Tensor] = None,
                           eps: float = MIN_DEPTH) -> Tensor:
    """Pinhole projection of 3D points to pixels.

    ``X_cam = R X + T`` then ``u = fx X_cam / Z_cam + px``, ``v = fy Y_cam / Z_cam + py``.
    ``|Z_cam|`` is clamped to at least ``eps`` keeping its sign, so a point at the camera
    centre gives a large but finite value instead of inf/NaN.

    Args:
        points (Tensor | ndarray): ``(.., J, 3)`` points, metres.
        translation (Tensor | ndarray): ``(.., 3)`` translation ``T``, metres.
        focal_length (Tensor | ndarray | float): ``(..)`` one focal length per batch element
            or ``(.., 2)`` ``(fx, fy)``, pixels. It is read as ``(fx, fy)`` exactly when it
            has one more dimension than the batch shape ``(..)`` of ``points`` and its last
            size is 2; otherwise it must broadcast against ``(..)``.
        principal_point (Tensor | ndarray): ``(.., 2)`` principal point, pixels.
        rotation (Tensor | ndarray, optional): ``(.., 3, 3)`` rotation ``R`` applied to the
            points before the translation. Identity when ``None``.
        eps (float): Smallest ``|Z_cam|``, metres.

    Returns:
        Tensor | ndarray: ``(.., J, 2)`` pixel coordinates.
    """
    check_last_dim(points, (3, ), 'points', 'perspective_projection')
    check_last_dim(translation, (3, ), 'translation', 'perspective_projection')
    check_last_dim(principal_point, (2, ), 'principal_point', 'perspective_projection')
    if points.dim() < 2:
        raise ValueError('perspective_projection(): `points` must have shape (..., J, 3), got '
                         f'{tuple(points.shape)}.')
    if rotation is not None:
        check_last_dim(rotation, (3, 3), 'rotation', 'perspective_projection')
        points = torch.matmul(points, rotation.transpose(-1, -2))
    points = points + translation.unsqueeze(-2)
    batch_dim = points.dim() - 2
    if focal_length.dim() == batch_dim + 1 and focal_length.shape[-1] == 2:
        focal = focal_length.unsqueeze(-2)
    else:
        focal = focal_length.unsqueeze(-1).unsqueeze(-1)
    depth = _clamp_magnitude(points[..., 2:], eps)
    return focal * points[..., :2] / depth + principal_point.unsqueeze(-2)


@array_function('points', 'cam_crop')
def weak_perspective_projection(points: Tensor, cam_crop: Tensor) -> Tensor:
    """Weak-perspective projection with a crop camera: ``s * (X_xy + (tx, ty))``.

    Args:
        points (Tensor | ndarray): ``(.., J, 3)`` points, metres (only x, y are used).
        cam_crop (Tensor | ndarray): ``(.., 3)`` crop camera ``(s, tx, ty)``.

    Returns:
        Tensor | ndarray: ``(.., J, 2)`` normalised crop coordinates.
    """
    check_last_dim(points, (3, ), 'points', 'weak_perspective_projection')
    check_last_dim(cam_crop, (3, ), 'cam_crop', 'weak_perspective_projection')
    scale = cam_crop[..., None, :1]
    return scale * (points[..., :2] + cam_crop[..., None, 1:])


def _check_points2d(points: Tensor, func: str) -> None:
    if points.dim() < 2 or points.shape[-1] < 2:
        raise ValueError(f'{func}(): `points` must have shape (..., J, C) with C >= 2 '
                         f'(u, v[, extra channels]), got {tuple(points.shape)}.')


@array_function('points', 'center', 'size')
def image_to_normalized_crop(points: Tensor, center: Tensor, size: Tensor) -> Tensor:
    """Image pixels -> normalised crop coordinates ``(u - c) / (b / 2)``.

    Args:
        points (Tensor | ndarray): ``(.., J, C)`` with ``u, v`` (pixels) in the first two
            channels; further channels (e.g. a confidence) are passed through unchanged.
        center (Tensor | ndarray): ``(.., 2)`` RoI centre, pixels.
        size (Tensor | ndarray): ``(..)`` RoI size ``b`` (height), pixels.

    Returns:
        Tensor | ndarray: ``(.., J, C)``; ``y`` spans [-1, 1] over the RoI height.
    """
    _check_points2d(points, 'image_to_normalized_crop')
    check_last_dim(center, (2, ), 'center', 'image_to_normalized_crop')
    half_size = (size / 2)[..., None, None]
    uv = (points[..., :2] - center.unsqueeze(-2)) / half_size
    return _with_extra_channels(uv, points)


@array_function('points', 'center', 'size')
def normalized_crop_to_image(points: Tensor, center: Tensor, size: Tensor) -> Tensor:
    """Normalised crop coordinates -> image pixels ``c + x b / 2``.

    Args:
        points (Tensor | ndarray): ``(.., J, C)`` normalised coordinates in the first two
            channels; further channels are passed through unchanged.
        center (Tensor | ndarray): ``(.., 2)`` RoI centre, pixels.
        size (Tensor | ndarray): ``(..)`` RoI size ``b`` (height), pixels.

    Returns:
        Tensor | ndarray: ``(.., J, C)`` with pixels in the first two channels.
    """
    _check_points2d(points, 'normalized_crop_to_image')
    check_last_dim(center, (2, ), 'center', 'normalized_crop_to_image')
    half_size = (size / 2)[..., None, None]
    uv = points[..., :2] * half_size + center.unsqueeze(-2)
    return _with_extra_channels(uv, points)


def _with_extra_channels(uv: Tensor, points: Tensor) -> Tensor:
    """Append ``points[..., 2:]`` (broadcast to ``uv``'s batch shape) to ``uv``."""
    if points.shape[-1] == 2:
        return uv
    return cat_broadcast([uv, points[..., 2:]])


def _check_scale_param(scale_param: str, func: str) -> None:
    if scale_param not in CROP_SCALE_PARAMS:
        raise ValueError(f'{func}: scale_param must be one of {CROP_SCALE_PARAMS}, got '
                         f'{scale_param!r}.')


@array_function('raw')
def decode_crop_camera(raw: Tensor, scale_param: str = 'linear') -> Tensor:
    """A regressor's raw camera output -> crop camera ``(s, tx, ty)``.

    ``'linear'`` (CLIFF/SPIN) regresses ``s`` itself; nothing keeps it positive, and from
    scratch a RoI's ``s`` can cross 0, where ``Tz = 2 f / (b s)`` and the full-camera
    translation explode (and so do the camera-consistency and 2D-reprojection gradients).
    ``'log'`` regresses ``log s``: ``s = exp(raw_s)`` is positive by construction, and the
    iterative regressor's additive updates become multiplicative scale corrections, the
    natural error of a depth-like quantity.

    Args:
        raw (Tensor | ndarray): ``(.., 3)`` raw output ``(r_s, tx, ty)``.
        scale_param (str): ``'linear'`` or ``'log'``.

    Returns:
        Tensor | ndarray: ``(.., 3)`` crop camera ``(s, tx, ty)``.
    """
    _check_scale_param(scale_param, 'decode_crop_camera')
    check_last_dim(raw, (3, ), 'raw', 'decode_crop_camera')
    if scale_param == 'linear':
        return raw
    return torch.cat([raw[..., :1].exp(), raw[..., 1:]], dim=-1)


@array_function('cam_crop')
def encode_crop_camera(cam_crop: Tensor, scale_param: str = 'linear') -> Tensor:
    """Inverse of :func:`decode_crop_camera`: crop camera ``(s, tx, ty)`` -> raw output.

    Used to start a regressor at a mean camera.

    Args:
        cam_crop (Tensor | ndarray): ``(.., 3)`` crop camera; ``s > 0`` for ``'log'``.
        scale_param (str): ``'linear'`` or ``'log'``.

    Returns:
        Tensor | ndarray: ``(.., 3)`` raw ``(r_s, tx, ty)``.

    Raises:
        ValueError: ``scale_param='log'`` and some ``s <= 0`` (no logarithm).
    """
    _check_scale_param(scale_param, 'encode_crop_camera')
    check_last_dim(cam_crop, (3, ), 'cam_crop', 'encode_crop_camera')
    if scale_param == 'linear':
        return cam_crop
    scale = cam_crop[..., :1]
    if bool((scale <= 0).any()):
        raise ValueError('encode_crop_camera: scale_param=\'log\' needs a positive crop scale s, '
                         f'got min {float(scale.min())}; start the camera at a positive s.')
    return torch.cat([scale.log(), cam_crop[..., 1:]], dim=-1)



@array_function('cam_crop', 'src_center', 'src_size', 'dst_center', 'dst_size')
def transfer_crop_camera(cam_crop: Tensor,
                         src_center: Tensor,
                         src_size: Tensor,
                         dst_center: Tensor,
                         dst_size: Tensor,
                         eps: float = MIN_FINITE_BBOX_SCALE) -> Tensor:
    """Carry a crop camera from one RoI to another RoI of the same image.

    It is :func:`cam_crop_to_full` on the source box followed by :func:`cam_full_to_crop` on
    the destination box, in closed form: the focal length and the principal point cancel, so
    only the two boxes matter::

        s' = s b / b'
        t' = t + 2 (c - c') / (b s)

    A body seen by RoI ``src`` with camera ``(s, t)`` is therefore seen by RoI ``dst`` with
    ``(s', t')``; the camera-consistency loss is zero between the two. ``|b s|`` is clamped
    to at least ``eps`` keeping its sign, as in :func:`cam_crop_to_full`.

    Args:
        cam_crop (Tensor | ndarray): ``(.., 3)`` crop camera ``(s, tx, ty)`` of the source RoI.
        src_center (Tensor | ndarray): ``(.., 2)`` source RoI centre, pixels.
        src_size (Tensor | ndarray): ``(..)`` source RoI size ``b`` (height), pixels.
        dst_center (Tensor | ndarray): ``(.., 2)`` destination RoI centre, pixels.
        dst_size (Tensor | ndarray): ``(..)`` destination RoI size ``b'``, pixels.
        eps (float): Smallest ``|b s|``, pixels per metre.

    Returns:
        Tensor | ndarray: ``(.., 3)`` crop camera of the destination RoI.
    """
    check_last_dim(cam_crop, (3, ), 'cam_crop', 'transfer_crop_camera')
    check_last_dim(src_center, (2, ), 'src_center', 'transfer_crop_camera')
    check_last_dim(dst_center, (2, ), 'dst_center', 'transfer_crop_camera')
    scale, trans_xy = cam_crop[..., :1], cam_crop[..., 1:]
    bs = _clamp_magnitude(src_size.unsqueeze(-1) * scale, eps)
    trans_xy_dst = trans_xy + 2 * (src_center - dst_center) / bs
    return cat_broadcast([bs / dst_size.unsqueeze(-1), trans_xy_dst])


@array_function('roi_centers', 'roi_sizes')
def relative_roi_layout(roi_centers: Tensor, roi_sizes: Tensor) -> Tensor:
    """Where each RoI of a person lies relative to the original box (RoI 0).

    ``[log(b_k / b_0), (cx_k - cx_0) / b_0, (cy_k - cy_0) / b_0]``: invariant to the image's
    resolution, the box's size and place and the focal length, so it names a RoI by its role
    (e.g. "the 1.5x box shifted right") wherever the person stands. RoI 0 gives zeros.

    Args:
        roi_centers (Tensor | ndarray): ``(.., N, 2)`` RoI centres, pixels.
        roi_sizes (Tensor | ndarray): ``(.., N)`` RoI sizes ``b`` (heights), pixels, > 0.

    Returns:
        Tensor | ndarray: ``(.., N, 3)`` layout (dimensionless).
    """
    check_last_dim(roi_centers, (2, ), 'roi_centers', 'relative_roi_layout')
    if roi_sizes.shape != roi_centers.shape[:-1]:
        raise ValueError(f'relative_roi_layout(): roi_sizes must have shape '
                         f'{tuple(roi_centers.shape[:-1])} to match roi_centers, got '
                         f'{tuple(roi_sizes.shape)}.')
    size0 = roi_sizes[..., :1]
    log_ratio = torch.log(roi_sizes / size0).unsqueeze(-1)
    offset = (roi_centers - roi_centers[..., :1, :]) / size0.unsqueeze(-1)
    return torch.cat([log_ratio, offset], dim=-1)


@array_function('cam_crop', 'layout')
def carry_crop_camera(cam_crop: Tensor, layout: Tensor,
                      eps: float = MIN_FINITE_BBOX_SCALE) -> Tensor:
    """The crop camera of RoI 0 carried to every RoI of a :func:`relative_roi_layout`.

    :func:`transfer_crop_camera` from the original box (centre 0, size 1 in units of
    ``b_0``) to each RoI: ``s_k = s_0 / r_k``, ``t_k = t_0 - 2 d_k / s_0`` with
    ``r_k = exp(layout[..., 0])`` and ``d_k = layout[..., 1:]``.

    Args:
        cam_crop (Tensor | ndarray): ``(.., 3)`` or ``(.., N, 3)`` crop camera of RoI 0 (e.g.
            a mean camera ``(3,)``), broadcast against the layout.
        layout (Tensor | ndarray): ``(.., N, 3)`` from :func:`relative_roi_layout`.
        eps (float): Smallest ``|b s|`` (here in units of ``b_0``).

    Returns:
        Tensor | ndarray: ``(.., N, 3)`` crop cameras of the RoIs.
    """
    check_last_dim(cam_crop, (3, ), 'cam_crop', 'carry_crop_camera')
    check_last_dim(layout, (3, ), 'layout', 'carry_crop_camera')
    if cam_crop.dim() < layout.dim():
        cam_crop = cam_crop.unsqueeze(-2)
    origin = torch.zeros_like(layout[..., 1:])
    return transfer_crop_camera(cam_crop, origin, torch.ones_like(layout[..., 0]),
                                layout[..., 1:], layout[..., 0].exp(), eps=eps)


@array_function('cam_full', 'weights')
def fuse_full_cameras(cam_full: Tensor,
                      weights: Optional[Tensor] = None,
                      eps: float = MIN_DEPTH) -> Tensor:
    """One full-image camera from several estimates of it (e.g. one per RoI).

    Each estimate ``T_k`` says where the body projects, ``T_k,xy / T_k,z`` (well determined
    by the image), and how far it is, ``T_k,z`` (the ambiguous part, whose errors are
    multiplicative: a crop scale off by 10 % is a depth off by 10 %). The two are fused
    separately: depth as the weighted mean of ``log T_z`` (a geometric mean, so one RoI's
    over-estimate by a factor cancels another's under-estimate by the same factor, which an
    arithmetic mean of translations does not), the direction as the weighted mean of
    ``T_xy / T_z``; then ``T = (direction * depth, depth)``. Estimates that agree are returned
    unchanged.

    Args:
        cam_full (Tensor | ndarray): ``(.., K, 3)`` translations ``(Tx, Ty, Tz)``, metres;
            ``|Tz|`` is clamped to at least ``eps`` (a body behind the camera is fused by
            its distance).
        weights (Tensor | ndarray, optional): ``(.., K)`` non-negative weights; None for
            equal weights.
        eps (float): Smallest ``|Tz|``, metres.

    Returns:
        Tensor | ndarray: ``(.., 3)`` fused translation, metres.
    """
    check_last_dim(cam_full, (3, ), 'cam_full', 'fuse_full_cameras')
    if cam_full.dim() < 2:
        raise ValueError('fuse_full_cameras(): cam_full must have shape (..., K, 3), got '
                         f'{tuple(cam_full.shape)}.')
    depth = _clamp_magnitude(cam_full[..., 2:], eps)
    if weights is None:
        weights = torch.ones_like(depth[..., 0])
    weights = (weights / weights.sum(dim=-1, keepdim=True)).unsqueeze(-1)
    fused_depth = (weights * depth.abs().log()).sum(dim=-2).exp()
    direction = (weights * cam_full[..., :2] / depth).sum(dim=-2)
    return torch.cat([direction * fused_depth, fused_depth], dim=-1)


# Fixed-point steps of fit_translation_to_box after its weak-perspective start. The error
# shrinks by a factor of about (body depth extent / distance) per step: a body 9 m away is
# fitted to 1e-11 m in 10 steps, one 2 m away with points +-0.9 m deep to 1e-9 m in 20
# (tests/test_geometry/test_box_fit.py); a step costs one projection of the mesh.
BOX_FIT_ITERATIONS = 20


@array_function('points', 'center', 'size', 'focal_length', 'principal_point')
def fit_translation_to_box(points: Tensor,
                           center: Tensor,
                           size: Tensor,
                           focal_length: Tensor,
                           principal_point: Tensor,
                           crop_aspect: float,
                           padding: float,
                           num_iters: int = BOX_FIT_ITERATIONS,
                           eps: float = MIN_DEPTH) -> Tensor:
    """The translation at which a body's image fills its RoI the way the RoI was made.

    A RoI is the person's tight image box enlarged by ``padding`` to the crop's aspect:
    ``b = padding * max(h, w / crop_aspect)`` around the box centre
    (docs/method.md#box-fitted-camera). Given the body's points in the camera's orientation
    (e.g. predicted vertices), this solves the three unknowns ``(Tx, Ty, Tz)`` from the three
    facts the RoI states: the centre of the tight box of ``project(points + T)`` is
    ``center`` and its enlarged size is ``size``. It starts from the weak-perspective solution
    (crop scale ``s = (2 / padding) / max(ext_y, ext_x / crop_aspect)``, ``t = -mid_xy`` of
    the points, carried to the full image by :func:`cam_crop_to_full`) and then applies
    ``num_iters`` fixed-point steps under full perspective: depth scaled by
    ``size_now / size``, then ``T_xy`` moved by ``(center - centre_now) * Tz / f``. For the
    true body it returns the true translation; for a predicted one, the camera that body
    needs to fill the detected box, an estimate made from geometry alone (as SPIN solves a
    translation from keypoints).

    Args:
        points (Tensor | ndarray): ``(.., V, 3)`` body points in the camera's orientation
            without translation, metres.
        center (Tensor | ndarray): ``(.., 2)`` RoI centre, pixels.
        size (Tensor | ndarray): ``(..)`` RoI size ``b`` (height), pixels.
        focal_length (Tensor | ndarray | float): ``(..)`` focal length, pixels.
        principal_point (Tensor | ndarray): ``(.., 2)`` principal point, pixels.
        crop_aspect (float): ``crop_w / crop_h`` of the RoI.
        padding (float): Enlargement from the tight person box to the RoI (e.g. 1.2).
        num_iters (int): Perspective refinement steps.
        eps (float): Smallest extent (metres) and depth (metres) divided by.

    Returns:
        Tensor | ndarray: ``(.., 3)`` translation ``(Tx, Ty, Tz)``, metres.
    """
    check_last_dim(points, (3, ), 'points', 'fit_translation_to_box')
    check_last_dim(center, (2, ), 'center', 'fit_translation_to_box')
    check_last_dim(principal_point, (2, ), 'principal_point', 'fit_translation_to_box')
    if not crop_aspect > 0 or not padding > 0:
        raise ValueError(f'fit_translation_to_box(): crop_aspect ({crop_aspect}) and padding '
                         f'({padding}) must be positive.')
    focal = torch.as_tensor(focal_length).expand(points.shape[:-2])

    def padded_size(low: Tensor, high: Tensor) -> Tensor:
        return roi_size(high - low, crop_aspect, padding).clamp_min(eps)

    low, high = points[..., :2].amin(dim=-2), points[..., :2].amax(dim=-2)
    scale = 2 / padded_size(low, high)
    cam_crop = torch.cat([scale.unsqueeze(-1), -(low + high) / 2], dim=-1)
    translation = cam_crop_to_full(cam_crop, center, size, focal, principal_point)
    for _ in range(num_iters):
        pixels = perspective_projection(points, translation, focal, principal_point, eps=eps)
        low, high = pixels.amin(dim=-2), pixels.amax(dim=-2)
        depth = translation[..., 2] * padded_size(low, high) / size
        shift = (center - (low + high) / 2) * (depth / focal).unsqueeze(-1)
        translation = torch.cat([translation[..., :2] + shift, depth.unsqueeze(-1)], dim=-1)
    return translation
