"""Per-person augmentation (SPIN/CLIFF style), drawn once and shared by all RoIs.

``RandomFlipHMR`` mirrors the sample at once (an exact pixel permutation).
``RandomScaleRotation`` and ``RandomColorScale`` only draw their parameters and
store them in ``results`` (``'scale'``, ``'rotation'``, ``'color_scale'``);
``MultiRoICrop`` applies them to every RoI, so all RoIs of a person share one
virtual full image (docs/CONVENTIONS.md "Augmentation").
Randomness comes from numpy's global generator, which mmengine seeds.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mroi_plugin.body_models.keypoint_conventions import get_flip_indices
from mroi_plugin.geometry import MIRROR_X, rigid_move_about_root
from mroi_plugin.registry import TRANSFORMS

__all__ = [
    'RandomFlipHMR', 'RandomScaleRotation', 'RandomColorScale', 'flip_smpl_pose',
    'mirror_smpl_transl'
]

# SPIN/CLIFF augmentation defaults (their released training code).
DEFAULT_FLIP_PROB = 0.5
DEFAULT_SCALE_STD = 0.25
DEFAULT_SCALE_RANGE = (0.75, 1.25)
DEFAULT_ROTATION_STD = 30.0  # degrees
DEFAULT_MAX_ROTATION = 60.0  # degrees
DEFAULT_ROTATION_PROB = 0.4
DEFAULT_COLOR_RANGE = (0.6, 1.4)

# A mirror M = diag(-1, 1, 1) conjugates a rotation R(a) (axis-angle a) into
# M R(a) M = R(det(M) M a) = R((a_x, -a_y, -a_z)): a rotation axis is a
# pseudo-vector, so mirroring x keeps its x and negates y and z.
MIRROR_AXIS_ANGLE_SIGN = np.array([1.0, -1.0, -1.0])
SMPL_CONVENTION = 'smpl_24'


def flip_smpl_pose(global_orient: np.ndarray, body_pose: np.ndarray,
                   smpl_flip_indices: Union[Sequence[int], np.ndarray]
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Mirror an SMPL pose about the camera's x = 0 plane.

    Left and right joints swap their rotations, and every rotation is
    conjugated by the mirror (``MIRROR_AXIS_ANGLE_SIGN``).

    Args:
        global_orient (np.ndarray): ``(3,)`` axis-angle (radians).
        body_pose (np.ndarray): ``(23, 3)`` axis-angle of joints 1..23.
        smpl_flip_indices (Sequence[int]): The 24-joint left/right permutation
            of the SMPL skeleton (``get_flip_indices('smpl_24')``).

    Returns:
        tuple[np.ndarray, np.ndarray]: Mirrored ``(3,)`` and ``(23, 3)``.
    """
    full_pose = np.concatenate(
        [np.reshape(global_orient, (1, 3)), np.reshape(body_pose, (-1, 3))], axis=0)
    if full_pose.shape[0] != len(smpl_flip_indices):
        raise ValueError(
            f'SMPL pose has {full_pose.shape[0]} joints (global_orient + body_pose) but the '
            f'flip permutation has {len(smpl_flip_indices)}; expected smpl_global_orient (3,) '
            'and smpl_body_pose (23, 3).')
    mirrored = full_pose[np.asarray(smpl_flip_indices)] * MIRROR_AXIS_ANGLE_SIGN
    mirrored = mirrored.astype(full_pose.dtype, copy=False)
    return (mirrored[0].reshape(np.shape(global_orient)),
            mirrored[1:].reshape(np.shape(body_pose)))


def mirror_smpl_transl(transl: np.ndarray,
                       root_joint: Optional[np.ndarray] = None) -> np.ndarray:
    """SMPL ``transl`` of the mirrored body (``x -> -x`` in the camera frame).

    The mirror is the rigid move ``MIRROR_X`` of the posed body about the camera origin,
    so the root joint ``J0 + T`` is mirrored: ``T' = M (T + J0) - J0``, i.e.
    ``T'_x = -T_x - 2 J0_x`` (``rigid_move_about_root``). The orientation is not needed
    here: ``flip_smpl_pose`` mirrors it exactly in axis-angle.

    Args:
        transl (np.ndarray): ``(3,)`` SMPL ``transl``, metres, camera frame.
        root_joint (np.ndarray, optional): ``(3,)`` rest-pose root joint ``J0(betas)`` in the
            body frame, metres; None is taken as ``J0_x = 0`` (exact for a body
            symmetric about its own x = 0 plane).

    Returns:
        np.ndarray: ``(3,)`` in ``transl``'s dtype.
    """
    transl = np.asarray(transl)
    root = np.zeros(3) if root_joint is None else np.asarray(root_joint, dtype=np.float64)
    _, mirrored = rigid_move_about_root(MIRROR_X, np.eye(3), transl.astype(np.float64), root)
    return mirrored.astype(transl.dtype, copy=False)


def _image_width(results: dict) -> int:
    if 'img' in results:
        return int(results['img'].shape[1])
    if 'img_shape' in results:
        return int(results['img_shape'][1])
    raise KeyError(
        "RandomFlipHMR needs 'img' or 'img_shape' in results to mirror coordinates; put it "
        'after LoadImageFromFile in the pipeline.')


@TRANSFORMS.register_module()
class RandomFlipHMR(BaseTransform):
    """Mirror the image and all targets horizontally with probability ``prob``.

    With ``W`` the image width, mirroring is ``u -> W - 1 - u`` in pixels and
    ``x -> -x`` in the camera frame, which keeps perspective projection exact:
    the principal point moves to ``p'_x = W - 1 - p_x``. Keypoints are also
    permuted so that left and right joints keep their names.

    Modified keys (each only if present): ``img`` ``(H, W, 3)``,
    ``bbox_xyxy`` ``(4,)``, ``bbox_center`` ``(2,)``, ``principal_point`` ``(2,)``, ``keypoints2d``
    ``(K, 3)``, ``keypoints3d`` ``(K, 4)``, ``smpl_global_orient`` ``(3,)``,
    ``smpl_body_pose`` ``(23, 3)``, ``smpl_transl`` ``(3,)``. Added key:
    ``flip`` (bool), toggled on each applied flip so it always says whether the
    sample is mirrored with respect to the file (two flips are the identity).

    ``smpl_transl`` follows the mirrored root joint (``mirror_smpl_transl``):
    ``T'_x = -T_x - 2 J0_x`` with ``J0`` = ``smpl_root_joint`` ``(3,)`` (rest-pose
    root joint of the person's shape, body frame, metres; ``HumanDataDataset``
    provides it). Without that key ``J0_x = 0`` is assumed, which is exact when
    the root lies on the body's x = 0 plane (the stand-in body model).

    Args:
        prob (float): Flip probability. Defaults to 0.5 (SPIN).
        keypoint_convention (str): Convention of ``keypoints2d``/``keypoints3d``,
            giving the left/right permutation. Defaults to ``'smpl_24'``.
        flip_indices (Sequence[int], optional): An explicit keypoint permutation
            that overrides ``keypoint_convention``.
    """

    def __init__(self,
                 prob: float = DEFAULT_FLIP_PROB,
                 keypoint_convention: str = SMPL_CONVENTION,
                 flip_indices: Optional[Sequence[int]] = None) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomFlipHMR: prob must be in [0, 1], got {prob}.')
        self.prob = prob
        self.keypoint_convention = keypoint_convention
        if flip_indices is None:
            flip_indices = get_flip_indices(keypoint_convention)
        self.flip_indices = np.asarray(flip_indices, dtype=np.int64)
        if sorted(self.flip_indices.tolist()) != list(range(len(self.flip_indices))):
            raise ValueError(
                f'RandomFlipHMR: flip_indices must be a permutation of 0..K-1, got '
                f'{self.flip_indices.tolist()}.')
        self.smpl_flip_indices = np.asarray(get_flip_indices(SMPL_CONVENTION), dtype=np.int64)

    @cache_randomness
    def _random_flip(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def _permute_keypoints(self, keypoints: np.ndarray, key: str) -> np.ndarray:
        if keypoints.shape[0] != len(self.flip_indices):
            raise ValueError(
                f"RandomFlipHMR: results['{key}'] has {keypoints.shape[0]} keypoints but the "
                f"flip permutation of '{self.keypoint_convention}' has {len(self.flip_indices)};"
                ' set keypoint_convention to the dataset\'s convention.')
        return keypoints[self.flip_indices]

    def flip(self, results: dict) -> dict:
        """Mirror ``results`` in place (deterministic) and return it."""
        width = _image_width(results)
        last_u = width - 1  # pixel centres are integers: u -> W - 1 - u
        if 'img' in results:
            # cv2.flip returns a contiguous copy; a negative-stride view (np.flip) would be
            # copied again by every cv2.warpAffine of MultiRoICrop.
            results['img'] = cv2.flip(results['img'], 1)
        for key in ('bbox_center', 'principal_point'):
            if key in results:
                point = np.array(results[key], copy=True)
                point[0] = last_u - point[0]
                results[key] = point
        if 'bbox_xyxy' in results:
            box = np.array(results['bbox_xyxy'], copy=True)
            box[[0, 2]] = last_u - box[[2, 0]]
            results['bbox_xyxy'] = box
        if 'keypoints2d' in results:
            keypoints = np.array(results['keypoints2d'], copy=True)
            keypoints[:, 0] = last_u - keypoints[:, 0]
            results['keypoints2d'] = self._permute_keypoints(keypoints, 'keypoints2d')
        if 'keypoints3d' in results:
            keypoints = np.array(results['keypoints3d'], copy=True)
            keypoints[:, 0] = -keypoints[:, 0]
            results['keypoints3d'] = self._permute_keypoints(keypoints, 'keypoints3d')
        if 'smpl_global_orient' in results and 'smpl_body_pose' in results:
            results['smpl_global_orient'], results['smpl_body_pose'] = flip_smpl_pose(
                np.asarray(results['smpl_global_orient']),
                np.asarray(results['smpl_body_pose']), self.smpl_flip_indices)
        if 'smpl_transl' in results:
            results['smpl_transl'] = mirror_smpl_transl(results['smpl_transl'],
                                                        results.get('smpl_root_joint'))
        results['flip'] = not results.get('flip', False)
        return results

    def transform(self, results: dict) -> dict:
        """Flip with probability ``prob``; always sets ``results['flip']``."""
        if self._random_flip():
            return self.flip(results)
        results.setdefault('flip', False)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f"keypoint_convention='{self.keypoint_convention}')")


@TRANSFORMS.register_module()
class RandomScaleRotation(BaseTransform):
    """Draw the box scale and the in-plane rotation of a person (SPIN/CLIFF).

    ``scale ~ N(1, scale_std)`` clipped to ``scale_range``; with probability
    ``rotation_prob`` ``rotation ~ N(0, rotation_std)`` clipped to
    ``±max_rotation`` degrees, else 0. Only stores ``results['scale']`` and
    ``results['rotation']`` (degrees, counter-clockwise on screen);
    ``MultiRoICrop`` multiplies the box size by the scale and rotates the whole
    image about the box centre, once for all RoIs.

    Args:
        scale_std (float): Std of the scale factor. Defaults to 0.25.
        scale_range (tuple[float, float]): Clip range of the scale.
            Defaults to (0.75, 1.25).
        rotation_std (float): Std of the rotation, degrees. Defaults to 30.
        max_rotation (float): Clip bound of the rotation, degrees. Defaults to 60.
        rotation_prob (float): Probability of a non-zero rotation. Defaults to 0.4.
    """

    def __init__(self,
                 scale_std: float = DEFAULT_SCALE_STD,
                 scale_range: Tuple[float, float] = DEFAULT_SCALE_RANGE,
                 rotation_std: float = DEFAULT_ROTATION_STD,
                 max_rotation: float = DEFAULT_MAX_ROTATION,
                 rotation_prob: float = DEFAULT_ROTATION_PROB) -> None:
        if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(
                f'RandomScaleRotation: scale_range must be (low, high) with 0 < low <= high, '
                f'got {scale_range}.')
        if scale_std < 0 or rotation_std < 0 or max_rotation < 0:
            raise ValueError(
                'RandomScaleRotation: scale_std, rotation_std and max_rotation must be >= 0, '
                f'got {scale_std}, {rotation_std}, {max_rotation}.')
        if not 0.0 <= rotation_prob <= 1.0:
            raise ValueError(
                f'RandomScaleRotation: rotation_prob must be in [0, 1], got {rotation_prob}.')
        self.scale_std = scale_std
        self.scale_range = tuple(scale_range)
        self.rotation_std = rotation_std
        self.max_rotation = max_rotation
        self.rotation_prob = rotation_prob

    @cache_randomness
    def _random_params(self) -> Tuple[float, float]:
        low, high = self.scale_range
        scale = float(np.clip(1.0 + self.scale_std * np.random.randn(), low, high))
        rotation = 0.0
        if np.random.rand() < self.rotation_prob:
            rotation = np.clip(self.rotation_std * np.random.randn(), -self.max_rotation,
                               self.max_rotation)
        return float(scale), float(rotation)

    def transform(self, results: dict) -> dict:
        """Set ``results['scale']`` and ``results['rotation']`` (degrees)."""
        results['scale'], results['rotation'] = self._random_params()
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale_std={self.scale_std}, '
                f'scale_range={self.scale_range}, rotation_std={self.rotation_std}, '
                f'max_rotation={self.max_rotation}, rotation_prob={self.rotation_prob})')


@TRANSFORMS.register_module()
class RandomColorScale(BaseTransform):
    """Draw per-channel colour factors ``U[low, high]`` (SPIN's pixel noise).

    Only stores ``results['color_scale']`` ``(3,)`` float64, in the image's
    channel order (BGR); ``MultiRoICrop`` multiplies every crop by the same
    factors (then clips to [0, 255]), so all RoIs of a person share them.

    Args:
        scale_range (tuple[float, float]): ``(low, high)``. Defaults to
            (0.6, 1.4).
    """

    def __init__(self, scale_range: Tuple[float, float] = DEFAULT_COLOR_RANGE) -> None:
        if len(scale_range) != 2 or not 0 <= scale_range[0] <= scale_range[1]:
            raise ValueError(
                f'RandomColorScale: scale_range must be (low, high) with 0 <= low <= high, '
                f'got {scale_range}.')
        self.scale_range = tuple(scale_range)

    @cache_randomness
    def _random_scale(self) -> np.ndarray:
        return np.random.uniform(self.scale_range[0], self.scale_range[1], size=3)

    def transform(self, results: dict) -> dict:
        """Set ``results['color_scale']`` ``(3,)``."""
        results['color_scale'] = self._random_scale()
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale_range={self.scale_range})'
