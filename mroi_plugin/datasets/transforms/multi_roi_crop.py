"""``MultiRoICrop``: N axis-aligned RoI crops of one virtual full image."""
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mroi_plugin.geometry import (
    BBOX_INFO_MODES,
    DEFAULT_CROP_SIZE,
    apply_affine,
    axis_angle_to_rotmat,
    compose_affine,
    compute_bbox_info,
    get_crop_affine,
    get_resize_affine,
    get_rotation_affine,
    image_to_normalized_crop,
    rigid_move_about_root,
    roi_size,
    rotmat_about_z,
    rotmat_to_axis_angle,
)
from mroi_plugin.registry import TRANSFORMS

__all__ = [
    'MultiRoICrop', 'ROI_TABLE_5', 'ROI_TABLE_9', 'CROP_MODES', 'get_roi_layout',
    'cliff_crop_window'
]

# The paper's RoI tables (as the authors' dataset code lists them): rows of
# (shift_x, shift_y, size factor), shifts in units of the original box height
# b0 on both axes. Row 0 is the original box. N <= 5 takes the first N rows of
# ROI_TABLE_5, 6 <= N <= 9 the first N rows of ROI_TABLE_9.
ROI_TABLE_5 = (
    (0.0, 0.0, 1.0),
    (0.1, 0.0, 1.5),
    (-0.1, 0.0, 1.25),
    (0.0, 0.1, 0.8),
    (0.0, -0.1, 0.65),
)
ROI_TABLE_9 = (
    (0.0, 0.0, 1.0),
    (0.1, 0.0, 1.6),
    (-0.1, 0.0, 1.45),
    (0.0, 0.1, 1.3),
    (0.0, -0.1, 1.15),
    (0.1, 0.1, 0.85),
    (-0.1, -0.1, 0.7),
    (0.1, -0.1, 0.55),
    (-0.1, 0.1, 0.4),
)
# 'warp': one sub-pixel cv2.warpAffine per RoI (exact geometry, rotation, uint8 crops).
# 'cliff': SPIN/CLIFF's integer window + cv2.resize (float32 crops), what their checkpoints saw.
CROP_MODES = ('warp', 'cliff')

_INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'lanczos': cv2.INTER_LANCZOS4,
}
_UINT8_MAX = 255.0
_NUM_UINT8_VALUES = 256


def get_roi_layout(num_rois: int,
                   shifts: Optional[Sequence[Sequence[float]]] = None,
                   scales: Optional[Sequence[float]] = None,
                   roi_table: Optional[Sequence[Sequence[float]]] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Relative RoI layout: centre shifts and size factors of ``num_rois`` RoIs.

    Args:
        num_rois (int): ``N >= 1``.
        shifts (Sequence, optional): ``N`` pairs ``(dx, dy)`` in units of the
            original box height; overrides the table.
        scales (Sequence[float], optional): ``N`` size factors; overrides the table.
        roi_table (Sequence, optional): Rows ``(dx, dy, factor)`` to take the
            first ``N`` from; None uses the paper's tables (``ROI_TABLE_5`` for
            N <= 5, ``ROI_TABLE_9`` for N <= 9).

    Returns:
        tuple[np.ndarray, np.ndarray]: shifts ``(N, 2)`` and factors ``(N,)``,
        float64, with row 0 = the original box ``(0, 0), 1``.
    """
    if isinstance(num_rois, bool) or not isinstance(num_rois, (int, np.integer)) \
            or num_rois < 1:
        raise ValueError(f'MultiRoICrop: num_rois must be an int >= 1, got {num_rois!r}.')
    if roi_table is None:
        roi_table = ROI_TABLE_5 if num_rois <= len(ROI_TABLE_5) else ROI_TABLE_9
    table = np.asarray(roi_table, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 3:
        raise ValueError(
            f'MultiRoICrop: roi_table must be rows (shift_x, shift_y, size_factor), got shape '
            f'{table.shape}.')
    table_fits = table.shape[0] >= num_rois
    if shifts is None:
        if not table_fits:
            raise ValueError(
                f'MultiRoICrop: num_rois={num_rois} exceeds the RoI table ({table.shape[0]} '
                'rows); pass explicit shifts=[(dx, dy), ...] and scales=[...] of length '
                f'{num_rois}, or a longer roi_table.')
        shifts = table[:num_rois, :2].tolist()
    if scales is None:
        if not table_fits:
            raise ValueError(
                f'MultiRoICrop: num_rois={num_rois} exceeds the RoI table ({table.shape[0]} '
                f'rows); pass explicit scales=[...] of length {num_rois}, or a longer roi_table.')
        scales = table[:num_rois, 2].tolist()
    shift_array = np.asarray(shifts, dtype=np.float64)
    scale_array = np.asarray(scales, dtype=np.float64)
    if shift_array.shape != (num_rois, 2):
        raise ValueError(
            f'MultiRoICrop: shifts must be {num_rois} pairs (dx, dy), got shape '
            f'{shift_array.shape}.')
    if scale_array.shape != (num_rois, ):
        raise ValueError(
            f'MultiRoICrop: scales must be {num_rois} size factors, got shape '
            f'{scale_array.shape}.')
    if not (np.all(np.isfinite(shift_array)) and np.all(np.isfinite(scale_array))
            and np.all(scale_array > 0)):
        raise ValueError(
            f'MultiRoICrop: shifts must be finite and scales finite and > 0, got shifts='
            f'{shift_array.tolist()}, scales={scale_array.tolist()}.')
    if np.any(shift_array[0] != 0) or scale_array[0] != 1:
        raise ValueError(
            'MultiRoICrop: RoI 0 must be the original box (shift (0, 0), scale 1); got '
            f'shift {shift_array[0].tolist()}, scale {scale_array[0]}. Reorder the table.')
    return shift_array, scale_array


def cliff_crop_window(centers: np.ndarray, sizes: np.ndarray,
                      crop_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """The integer pixel windows SPIN and CLIFF cut for RoIs (their ``imutils.crop``).

    A RoI of height ``b`` and width ``w = b crop_w / crop_h`` centred at ``c`` becomes the
    window of pixels ``[ul, br)`` with ``ul = round(c - (w, b) / 2)`` and
    ``br = round(c + (w, b) / 2)``, rounded half to even as their ``round`` of a numpy float
    does; the window's size, hence its aspect, can be a pixel off the RoI's. At least one
    pixel is kept on each axis.

    Args:
        centers (np.ndarray): ``(N, 2)`` RoI centres, pixels.
        sizes (np.ndarray): ``(N,)`` RoI heights ``b``, pixels.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``ul`` and ``br``, ``(N, 2)`` int64 ``(x, y)``; ``br``
        is exclusive.
    """
    crop_h, crop_w = crop_size
    half = np.stack([sizes * crop_w / crop_h, sizes], axis=-1) / 2
    top_left = np.rint(centers - half).astype(np.int64)
    bottom_right = np.maximum(np.rint(centers + half).astype(np.int64), top_left + 1)
    return top_left, bottom_right


def _cut_and_resize(img: np.ndarray, top_left: np.ndarray, bottom_right: np.ndarray,
                    crop_size: Tuple[int, int], interpolation: int,
                    border_value: float) -> np.ndarray:
    """SPIN/CLIFF's crop: the window in float32, padded with ``border_value``, resized."""
    height, width = img.shape[:2]
    (x0, y0), (x1, y1) = top_left, bottom_right
    window = np.full((y1 - y0, x1 - x0) + img.shape[2:], border_value, dtype=np.float32)
    src_x0, src_x1 = max(0, x0), min(width, x1)
    src_y0, src_y1 = max(0, y0), min(height, y1)
    if src_x1 > src_x0 and src_y1 > src_y0:
        window[src_y0 - y0:src_y1 - y0, src_x0 - x0:src_x1 - x0] = img[src_y0:src_y1,
                                                                         src_x0:src_x1]
    crop_h, crop_w = crop_size
    return cv2.resize(window, (crop_w, crop_h), interpolation=interpolation)


def camera_rotation(rotation: float) -> np.ndarray:
    """3D rotation about the camera z axis that matches an image rotation.

    ``get_rotation_affine`` rotates pixel offsets by ``L = [[cos, sin], [-sin,
    cos]]`` (counter-clockwise on screen, ``v`` down). A camera-frame rotation
    ``R`` about z with ``R[:2, :2] = L`` leaves depth unchanged, so a point
    ``X`` projecting to ``u = f X_xy / Z + p`` moves to
    ``f L X_xy / Z + p' = c0 + L (u - c0)`` with ``p' = c0 + L (p - c0)``:
    projection commutes with the rotation. ``L`` is the right-handed rotation
    about z by ``-rotation``.

    Args:
        rotation (float): Image rotation, degrees, counter-clockwise on screen.

    Returns:
        np.ndarray: ``(3, 3)`` float64.
    """
    return rotmat_about_z(np.asarray(-math.radians(rotation), dtype=np.float64))


def _as_float64(results: dict, key: str, shape: Optional[Tuple] = None) -> np.ndarray:
    value = np.asarray(results[key], dtype=np.float64)
    if shape is not None and (value.ndim != len(shape) or any(
            s is not None and s != v for s, v in zip(shape, value.shape))):
        readable = tuple('K' if s is None else s for s in shape)
        raise ValueError(
            f"MultiRoICrop: results['{key}'] must have shape {readable}, got {value.shape} "
            f'({_where(results)}).')
    return value


def _where(results: dict) -> str:
    return f"sample_idx={results.get('sample_idx')}, img_path={results.get('img_path')}"


def _scale_colors(crops: np.ndarray, color_scale: np.ndarray) -> np.ndarray:
    """``rint(clip(crops * color_scale, 0, 255))`` per channel, as uint8.

    For uint8 crops the float32 arithmetic is done once per channel on the 256
    possible values and applied as a lookup table (``cv2.LUT``):
    bit-identical to doing it on every pixel, and ~10x faster.

    Args:
        crops (np.ndarray): ``(N, H, W, C)`` crops, C colour channels.
        color_scale (np.ndarray): ``(C,)`` factors.

    Returns:
        np.ndarray: ``(N, H, W, C)`` uint8.
    """
    scale = color_scale.astype(np.float32)
    if crops.dtype != np.uint8:
        return np.rint(np.clip(crops.astype(np.float32) * scale, 0.0, _UINT8_MAX)).astype(
            np.uint8)
    values = np.arange(_NUM_UINT8_VALUES, dtype=np.float32)[:, None]
    table = np.rint(np.clip(values * scale, 0.0, _UINT8_MAX)).astype(np.uint8)
    rows = crops.reshape((-1, ) + crops.shape[2:])  # (N*H, W, C): one image for cv2
    return cv2.LUT(rows, table.reshape(1, _NUM_UINT8_VALUES, -1)).reshape(crops.shape)


@TRANSFORMS.register_module()
class MultiRoICrop(BaseTransform):
    """Crop ``N`` RoIs of one person from one virtual full image (Multi-RoI HMR).

    The virtual full image ``I'`` is the input rotated by ``results['rotation']``
    (degrees, counter-clockwise on screen; 0 if absent) about the original box
    centre ``c0``. The original box has size ``b0 = bbox_size * scale``
    (``results['scale']``, 1 if absent). RoI ``k`` is the axis-aligned box of
    ``I'`` with centre ``c0 + b0 * shift_k`` and size ``b0 * factor_k``; its
    crop is ONE ``cv2.warpAffine`` from the input image with the composition
    (crop affine) after (rotation about ``c0``). In ``I'`` the principal point is
    ``p' = c0 + R (p - c0)``, and the 3D targets, the global orientation and the
    translation are rotated once about the camera z axis (``camera_rotation``),
    so CLIFF's camera formulas hold exactly for every RoI with ``(f, p')``
    (docs/CONVENTIONS.md "Augmentation"). Flips are done before, by
    ``RandomFlipHMR``. ``results['color_scale']`` ``(3,)``, when present,
    multiplies every crop's channels (then clips to [0, 255]).

    ``crop_mode='cliff'`` cuts the crops as SPIN's and CLIFF's code does instead, which
    their released checkpoints were trained and evaluated with: each RoI becomes an integer
    pixel window (:func:`cliff_crop_window`), copied in float32 and zero-padded where it
    leaves the image, then resized to ``crop_size`` with ``cv2.resize``. The crops stay
    float32 (0-255, not rounded), ``roi_centers``/``roi_sizes``/``bbox_info`` are the RoIs'
    exact values (as CLIFF's camera uses them) and ``crop_trans`` is the window's true
    affine (:func:`~mroi_plugin.geometry.get_resize_affine`). It has no rotation: use it for
    evaluation and inference of those checkpoints (``configs/cliff``,
    docs/released_checkpoints.md), ``'warp'`` for training.

    RoI 0's height before ``scale`` is ``bbox_size`` where the file defines the crop
    (:class:`~mroi_plugin.datasets.SPINNpzDataset`), else it is made here from the box that
    :class:`~mroi_plugin.datasets.transforms.GetBBoxCenterScale` wrote:
    ``max(h, w / (crop_w / crop_h)) * bbox_padding`` with ``(w, h) = bbox_wh``
    (:func:`~mroi_plugin.geometry.roi_size`). The crop's aspect ratio is thus set once, by
    ``crop_size``.

    Required keys: ``img`` ``(H, W, 3)`` uint8, ``bbox_center`` ``(2,)``,
    ``bbox_wh`` ``(2,)`` and ``bbox_padding`` (or ``bbox_size``), ``focal_length`` (one
    value, pixels), ``principal_point`` ``(2,)``. Optional: ``keypoints2d`` ``(K, 3)``,
    ``keypoints3d`` ``(K, 4)``, ``smpl_global_orient`` ``(3,)``, ``smpl_transl`` ``(3,)``,
    ``smpl_root_joint`` ``(3,)`` (rest-pose root joint ``J0(betas)`` in the body
    frame; when given, the translation is rotated exactly as SMPL rotates the
    body about ``J0``: ``T' = R T + (R - I) J0``; without it, about the camera
    origin: ``T' = R T``), ``rotation``, ``scale``, ``color_scale``.

    Added / modified keys (geometry in float64; ``PackHMRInputs`` casts):

    - ``img``: ``(N, crop_h, crop_w, 3)`` uint8 crops (replaces the image).
    - ``roi_centers`` ``(N, 2)``, ``roi_sizes`` ``(N,)``: RoIs in ``I'``, pixels.
    - ``bbox_info`` ``(N, 3)``: ``compute_bbox_info`` with ``(f, p')``.
    - ``crop_trans`` ``(N, 2, 3)``: affine ``I'`` pixels -> crop pixels.
    - ``keypoints2d_crop`` ``(N, K, 3)``: normalised crop coordinates
      ``(u - c_k) / (b_k / 2)`` and the confidence. Joints outside a crop keep
      their confidence (their coordinates leave ``[-1, 1]``): the 2D loss
      compares projections made with the full camera, which are defined
      everywhere, and dropping them would make the RoIs' targets differ.
    - ``keypoints2d`` (``I'`` pixels), ``keypoints3d``, ``smpl_global_orient``,
      ``smpl_transl``: rotated into ``I'`` and its camera.
    - ``principal_point``: ``p'``; ``img_shape``: ``(h, w)`` of ``I'`` (= input);
      ``crop_size``: ``(crop_h, crop_w)``; ``rotation``, ``scale``, ``flip`` are
      set to their defaults when absent.

    Args:
        num_rois (int): ``N >= 1``; 1 is CLIFF (exactly the original box).
            Defaults to 5.
        shifts (Sequence, optional): ``N`` centre shifts ``(dx, dy)`` in units of
            ``b0``, RoI 0 first; needed (with ``scales``) for N > 9.
        scales (Sequence[float], optional): ``N`` size factors, RoI 0 first.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)``. Defaults to (256, 192).
        bbox_info (str): ``'cliff'`` (normalised, default) or ``'raw'``.
        roi_table (Sequence, optional): Rows ``(dx, dy, factor)`` whose first
            ``N`` are used; None = the paper's tables (``ROI_TABLE_5``, ``ROI_TABLE_9``).
        interpolation (str): ``'nearest' | 'bilinear' | 'bicubic' | 'lanczos'``.
            Defaults to ``'bilinear'``.
        border_value (int): Fill value outside the image. Defaults to 0.
        crop_mode (str): ``'warp'`` (default: one sub-pixel ``cv2.warpAffine`` per RoI,
            uint8 crops) or ``'cliff'`` (SPIN/CLIFF's integer window + resize, float32
            crops, no rotation); see above.
    """

    def __init__(self,
                 num_rois: int = 5,
                 shifts: Optional[Sequence[Sequence[float]]] = None,
                 scales: Optional[Sequence[float]] = None,
                 crop_size: Tuple[int, int] = DEFAULT_CROP_SIZE,
                 bbox_info: str = 'cliff',
                 roi_table: Optional[Sequence[Sequence[float]]] = None,
                 interpolation: str = 'bilinear',
                 border_value: int = 0,
                 crop_mode: str = 'warp') -> None:
        self.shifts, self.scales = get_roi_layout(num_rois, shifts, scales, roi_table)
        self.num_rois = int(num_rois)
        if len(crop_size) != 2 or any(
                isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0
                for s in crop_size):
            raise ValueError(
                f'MultiRoICrop: crop_size must be (crop_h, crop_w) positive ints, got '
                f'{crop_size!r}.')
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        if bbox_info not in BBOX_INFO_MODES:
            raise ValueError(
                f'MultiRoICrop: bbox_info must be one of {BBOX_INFO_MODES}, got {bbox_info!r}.')
        self.bbox_info = bbox_info
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f'MultiRoICrop: interpolation must be one of {sorted(_INTERPOLATIONS)}, got '
                f'{interpolation!r}.')
        self.interpolation = interpolation
        self.border_value = border_value
        if crop_mode not in CROP_MODES:
            raise ValueError(f'MultiRoICrop: crop_mode must be one of {CROP_MODES}, got '
                             f'{crop_mode!r}.')
        self.crop_mode = crop_mode

    def _roi0_size(self, results: dict) -> float:
        """RoI 0's height before ``scale``: the file's own, else from the box and padding."""
        if 'bbox_size' in results:
            return float(np.asarray(results['bbox_size'], dtype=np.float64).reshape(-1)[0])
        if 'bbox_wh' not in results:
            raise KeyError(
                f"{type(self).__name__}: results has neither 'bbox_wh' nor 'bbox_size' "
                f'({_where(results)}); put dict(type=\'GetBBoxCenterScale\') after LoadImage, '
                'before the augmentations (it turns the dataset\'s bbox_xyxy into the box).')
        crop_h, crop_w = self.crop_size
        # The aspect is fixed here, from crop_size, and nowhere else.
        return float(roi_size(_as_float64(results, 'bbox_wh', (2, )), crop_w / crop_h,
                              float(results['bbox_padding'])))

    def _read_box(self, results: dict) -> Tuple[np.ndarray, float, float]:
        size = self._roi0_size(results)  # first: names the missing step if there is no box
        center = _as_float64(results, 'bbox_center', (2, ))
        scale = float(results.get('scale', 1.0))
        if not (np.all(np.isfinite(center)) and math.isfinite(size * scale)
                and size * scale > 0):
            raise ValueError(
                f'MultiRoICrop: degenerate box: bbox_center={center.tolist()}, '
                f'bbox_size={size}, scale={scale} ({_where(results)}); the box needs a finite '
                'centre and a positive size. Check bbox_xywh in the annotation file or drop '
                'such instances in the dataset.')
        return center, size * scale, scale

    def _read_focal(self, results: dict) -> float:
        focal = np.asarray(results['focal_length'], dtype=np.float64).reshape(-1)
        if focal.size != 1 or not math.isfinite(focal[0]) or focal[0] <= 0:
            raise ValueError(
                f"MultiRoICrop: results['focal_length'] must be one positive focal length in "
                f'pixels, got {focal.tolist()} ({_where(results)}); CLIFF cameras and image '
                'rotation need fx == fy, so the dataset must give a single value.')
        return float(focal[0])

    def _warp(self, img: np.ndarray, warps: np.ndarray,
              color_scale: Optional[np.ndarray]) -> np.ndarray:
        crop_h, crop_w = self.crop_size
        crops = np.empty((len(warps), crop_h, crop_w) + img.shape[2:], dtype=img.dtype)
        for crop, warp in zip(crops, warps):
            # Written in place: np.stack of per-RoI results would copy every crop once more.
            cv2.warpAffine(
                img, warp, (crop_w, crop_h), dst=crop,
                flags=_INTERPOLATIONS[self.interpolation],
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(self.border_value, ) * 3)
        if color_scale is not None:
            crops = _scale_colors(crops, color_scale)
        return crops

    def _rotate_3d(self, results: dict, rotation: float) -> None:
        rot = camera_rotation(rotation)
        if 'keypoints3d' in results:
            keypoints = _as_float64(results, 'keypoints3d', (None, 4)).copy()
            keypoints[:, :3] = keypoints[:, :3] @ rot.T
            results['keypoints3d'] = keypoints
        # SMPL turns the body about its root joint J0, so the body's rotation about the camera
        # origin moves transl by (R - I) J0 too (rigid_move_about_root); no J0: about the origin.
        orient = np.eye(3)
        if 'smpl_global_orient' in results:
            orient = axis_angle_to_rotmat(_as_float64(results, 'smpl_global_orient', (3, )))
        transl = _as_float64(results, 'smpl_transl', (3, )) if 'smpl_transl' in results \
            else np.zeros(3)
        root = _as_float64(results, 'smpl_root_joint', (3, )) if 'smpl_root_joint' in results \
            else np.zeros(3)
        orient, transl = rigid_move_about_root(rot, orient, transl, root)
        if 'smpl_global_orient' in results:
            results['smpl_global_orient'] = rotmat_to_axis_angle(orient)
        if 'smpl_transl' in results:
            results['smpl_transl'] = transl

    def transform(self, results: dict) -> dict:
        """Crop the RoIs and express all targets in the virtual full image."""
        img = results['img']
        if not isinstance(img, np.ndarray) or img.ndim != 3:
            raise ValueError(
                f"MultiRoICrop: results['img'] must be one (H, W, C) image, got "
                f'{getattr(img, "shape", type(img))} ({_where(results)}); put MultiRoICrop '
                'once, after LoadImageFromFile and the augmentations.')
        center0, size0, scale = self._read_box(results)
        focal = self._read_focal(results)
        principal_point = _as_float64(results, 'principal_point', (2, ))
        rotation = float(results.get('rotation', 0.0))
        num_rois = self.num_rois

        roi_centers = center0 + size0 * self.shifts
        roi_sizes = size0 * self.scales
        if self.crop_mode == 'cliff':
            if rotation != 0.0:
                raise ValueError(
                    f"MultiRoICrop(crop_mode='cliff') cuts axis-aligned windows and cannot "
                    f'rotate (rotation={rotation} degrees, {_where(results)}); use '
                    "crop_mode='warp' with RandomScaleRotation.")
            return self._cliff_transform(results, img, roi_centers, roi_sizes, focal,
                                         principal_point, scale)
        crop_trans = get_crop_affine(roi_centers, roi_sizes, self.crop_size)  # I' -> crop
        keypoints2d = None
        if 'keypoints2d' in results:
            keypoints2d = _as_float64(results, 'keypoints2d', (None, 3))
        if rotation == 0.0:
            # I' is the input: the rotation affine is exactly the identity, so composing with
            # it and applying it would return the same numbers (60% of training samples with
            # SPIN's rotation_prob; each geometry call costs ~0.2 ms on tiny arrays).
            warps = crop_trans
        else:
            rot_affine = get_rotation_affine(center0, np.float64(rotation))  # input -> I'
            warps = compose_affine(crop_trans, np.broadcast_to(rot_affine, (num_rois, 2, 3)))
            principal_point = apply_affine(principal_point[None], rot_affine)[0]
            if keypoints2d is not None:
                keypoints2d = apply_affine(keypoints2d, rot_affine)
        color_scale = self._read_color_scale(results, img)
        results['img'] = self._warp(img, warps, color_scale)

        if keypoints2d is not None:
            results['keypoints2d'] = keypoints2d
        if rotation != 0.0:
            self._rotate_3d(results, rotation)
        return self._set_roi_results(results, img, roi_centers, roi_sizes, crop_trans, focal,
                                     principal_point, rotation, scale)

    def _read_color_scale(self, results: dict, img: np.ndarray) -> Optional[np.ndarray]:
        color_scale = results.get('color_scale')
        if color_scale is None:
            return None
        color_scale = np.asarray(color_scale, dtype=np.float64).reshape(-1)
        if color_scale.size != img.shape[2]:
            raise ValueError(
                f"MultiRoICrop: results['color_scale'] has {color_scale.size} factors for "
                f'an image with {img.shape[2]} channels ({_where(results)}).')
        return color_scale

    def _cliff_transform(self, results: dict, img: np.ndarray, roi_centers: np.ndarray,
                         roi_sizes: np.ndarray, focal: float, principal_point: np.ndarray,
                         scale: float) -> dict:
        """``crop_mode='cliff'``: SPIN/CLIFF's window crops, float32."""
        top_left, bottom_right = cliff_crop_window(roi_centers, roi_sizes, self.crop_size)
        crops = np.stack([
            _cut_and_resize(img, ul, br, self.crop_size, _INTERPOLATIONS[self.interpolation],
                            self.border_value) for ul, br in zip(top_left, bottom_right)
        ])
        color_scale = self._read_color_scale(results, img)
        if color_scale is not None:
            # As SPIN's training crops: float products clipped to [0, 255], not rounded.
            crops = np.clip(crops * color_scale.astype(np.float32), 0.0, _UINT8_MAX)
        results['img'] = crops
        if 'keypoints2d' in results:
            results['keypoints2d'] = _as_float64(results, 'keypoints2d', (None, 3))
        crop_trans = get_resize_affine(top_left.astype(np.float64),
                                       (bottom_right - top_left).astype(np.float64),
                                       self.crop_size)
        return self._set_roi_results(results, img, roi_centers, roi_sizes, crop_trans, focal,
                                     principal_point, 0.0, scale)

    def _set_roi_results(self, results: dict, img: np.ndarray, roi_centers: np.ndarray,
                         roi_sizes: np.ndarray, crop_trans: np.ndarray, focal: float,
                         principal_point: np.ndarray, rotation: float, scale: float) -> dict:
        """The per-RoI geometry both crop modes add (see the class docstring)."""
        num_rois = len(roi_sizes)
        if 'keypoints2d' in results:
            keypoints2d = results['keypoints2d']
            results['keypoints2d_crop'] = image_to_normalized_crop(
                np.broadcast_to(keypoints2d, (num_rois, ) + keypoints2d.shape), roi_centers,
                roi_sizes)
        results['roi_centers'] = roi_centers
        results['roi_sizes'] = roi_sizes
        results['crop_trans'] = crop_trans
        results['bbox_info'] = compute_bbox_info(
            roi_centers, roi_sizes, np.full(num_rois, focal),
            np.broadcast_to(principal_point, (num_rois, 2)), mode=self.bbox_info)
        results['principal_point'] = principal_point
        results['img_shape'] = img.shape[:2]
        results['crop_size'] = self.crop_size
        results['rotation'] = rotation
        results['scale'] = scale
        results.setdefault('flip', False)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_rois={self.num_rois}, '
                f'shifts={self.shifts.tolist()}, scales={self.scales.tolist()}, '
                f'crop_size={self.crop_size}, bbox_info={self.bbox_info!r}, '
                f'interpolation={self.interpolation!r}, crop_mode={self.crop_mode!r})')
