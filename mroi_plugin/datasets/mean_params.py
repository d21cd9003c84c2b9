"""SPIN/CLIFF-style mean SMPL parameters and mean crop camera of a HumanData training set.

HMR regressors start their iterations from the training set's mean pose, shape
and crop camera (SPIN's ``smpl_mean_params.npz``). For data other than SPIN's
(e.g. the synthetic set) the same file is computed here, so a model starts at
the mean body rather than at the identity rotations (a T-pose, upside down in
camera axes), and at the mean camera of *this* data rather than SPIN's
(0.9, 0, 0): the start camera alone decides much of a from-scratch model's
translation error, where a crop scale 10 % off is a depth 10 % off.
"""
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from mroi_plugin.geometry import (
    DEFAULT_BBOX_PADDING,
    DEFAULT_CROP_CAMERA,
    DEFAULT_CROP_SIZE,
    axis_angle_to_rotmat,
    cam_full_to_crop,
    mean_rotation,
    roi_size,
    rotmat_to_rot6d,
)

from .human_data import BadSampleError, HumanDataFile
from .human_data_dataset import HumanDataDataset
from .transforms.get_bbox_center_scale import GetBBoxCenterScale

__all__ = [
    'mean_smpl_params', 'training_crop_cameras', 'mean_crop_camera', 'write_mean_params',
    'mean_params_crop_box'
]

_SMPL_KEYS = ('smpl.global_orient', 'smpl.body_pose', 'smpl.betas')


def mean_smpl_params(ann_file: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Chordal mean of each joint's rotation and the mean betas of a HumanData file.

    Args:
        ann_file (str): HumanData ``.npz`` with ``smpl`` parameters.

    Returns:
        tuple[Tensor, Tensor]: ``(24, 3, 3)`` float64 rotations (global orientation
        first) and ``(num_betas,)`` float64 betas, over the samples whose
        parameters are finite.
    """
    human_data = HumanDataFile(ann_file)
    missing = [key for key in _SMPL_KEYS if key not in human_data]
    if missing:
        raise KeyError(f'{ann_file} has no {missing}; the mean body needs the SMPL parameters '
                       'of a training set.')
    pose = np.concatenate([
        np.asarray(human_data.array('smpl.global_orient'), dtype=np.float64).reshape(-1, 1, 3),
        np.asarray(human_data.array('smpl.body_pose'), dtype=np.float64).reshape(-1, 23, 3)
    ], axis=1)
    betas = np.asarray(human_data.array('smpl.betas'), dtype=np.float64).reshape(len(pose), -1)
    valid = np.isfinite(pose).all(axis=(1, 2)) & np.isfinite(betas).all(axis=1)
    if not valid.any():
        raise ValueError(f'{ann_file}: no sample has finite SMPL parameters.')
    rotmats = mean_rotation(axis_angle_to_rotmat(torch.from_numpy(pose[valid])))
    return rotmats, torch.from_numpy(betas[valid].mean(axis=0))


def training_crop_cameras(ann_file: str,
                          crop_size: Tuple[int, int] = DEFAULT_CROP_SIZE,
                          padding: float = DEFAULT_BBOX_PADDING) -> np.ndarray:
    """Every sample's ground-truth crop camera of its original box (RoI 0).

    Each sample's full-camera translation (``smpl.transl``) seen from its crop box
    (:func:`~mroi_plugin.geometry.cam_full_to_crop`), with the box, focal length and
    principal point exactly as :class:`HumanDataDataset` and the training pipeline give
    them to the model: the box through :class:`~mroi_plugin.datasets.transforms.
    GetBBoxCenterScale` and :func:`~mroi_plugin.geometry.roi_size`, so ``crop_size`` and
    ``padding`` must be the training pipeline's (read them with
    :func:`~mroi_plugin.datasets.transforms.pipeline_crop_box`). Samples without a finite
    translation or a camera, with a degenerate box or behind the camera are left out.

    Args:
        ann_file (str): HumanData ``.npz``.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)`` of the training crops.
        padding (float): Enlargement of the annotated box.

    Returns:
        np.ndarray: ``(M, 3)`` float64 crop cameras ``(s, tx, ty)``, ``s > 0``; ``M = 0``
        for data without translations (e.g. SPIN-style files).
    """
    dataset = HumanDataDataset(ann_file=ann_file)
    get_box = GetBBoxCenterScale(padding)
    crop_h, crop_w = crop_size
    cameras = []
    if 'smpl.transl' in dataset.human_data:
        for idx in range(len(dataset)):
            try:
                info = get_box(dataset.get_data_info(idx))
            except BadSampleError:
                continue
            if not info['has_transl'] or info['focal_length'] is None \
                    or info['principal_point'] is None or not info['smpl_transl'][2] > 0:
                continue
            cameras.append(
                cam_full_to_crop(info['smpl_transl'].astype(np.float64),
                                 info['bbox_center'].astype(np.float64),
                                 float(roi_size(info['bbox_wh'], crop_w / crop_h, padding)),
                                 info['focal_length'],
                                 info['principal_point'].astype(np.float64)))
    return np.stack(cameras) if cameras else np.zeros((0, 3))


def mean_crop_camera(ann_file: str,
                     crop_size: Tuple[int, int] = DEFAULT_CROP_SIZE,
                     padding: float = DEFAULT_BBOX_PADDING) -> Optional[Dict[str, np.ndarray]]:
    """Mean crop camera of the original box (RoI 0) over a HumanData split.

    Args:
        ann_file (str): HumanData ``.npz``.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)`` of the training crops.
        padding (float): Enlargement of the annotated box.

    Returns:
        dict | None: ``cam (3,)`` the arithmetic mean ``(s, tx, ty)`` (the start of a
        regressor of ``s``), ``log_scale ()`` the mean of ``log s`` (the start of a
        regressor of ``log s``), ``count ()`` the samples used; float64, over
        :func:`training_crop_cameras`. None when no sample has a translation and a camera.
    """
    cameras = training_crop_cameras(ann_file, crop_size, padding)
    if not len(cameras):
        return None
    return dict(cam=cameras.mean(axis=0), log_scale=np.log(cameras[:, 0]).mean(),
                count=np.asarray(len(cameras)))


def write_mean_params(ann_file: str,
                      out_file: str,
                      crop_size: Tuple[int, int] = DEFAULT_CROP_SIZE,
                      padding: float = DEFAULT_BBOX_PADDING) -> str:
    """Write the mean body and crop camera of a training split, in SPIN's layout.

    Keys: ``pose (144,)`` 6D, ``shape (num_betas,)``, ``cam (3,)`` as SPIN's file,
    plus ``cam_log_scale ()`` (the mean of ``log s``, read by regressors of
    ``log s``) and the crop box the camera statistics assume
    (``cam_crop_aspect`` = ``crop_w / crop_h``, ``cam_bbox_scale_factor`` = ``padding``).
    Without translations in the
    data, ``cam`` is SPIN's (0.9, 0, 0) and the other camera keys are absent.

    Args:
        ann_file (str): Training HumanData ``.npz``.
        out_file (str): Where the ``.npz`` goes.
        crop_size (tuple[int, int]): ``(crop_h, crop_w)`` of the training crops.
        padding (float): Enlargement of the annotated box.

    Returns:
        str: ``out_file``.
    """
    rotmats, betas = mean_smpl_params(ann_file)
    arrays = dict(pose=rotmat_to_rot6d(rotmats).reshape(-1).numpy().astype(np.float32),
                  shape=betas.numpy().astype(np.float32),
                  cam=np.asarray(DEFAULT_CROP_CAMERA, dtype=np.float32))
    camera = mean_crop_camera(ann_file, crop_size, padding)
    if camera is not None:
        arrays.update(cam=camera['cam'].astype(np.float32),
                      cam_log_scale=np.float32(camera['log_scale']),
                      cam_crop_aspect=np.float64(crop_size[1] / crop_size[0]),
                      cam_bbox_scale_factor=np.float64(padding))
    np.savez(out_file, **arrays)
    return out_file



def mean_params_crop_box(path: str) -> Optional[Dict[str, float]]:
    """The crop box a mean-parameter file's camera was measured with.

    Returns:
        dict | None: ``crop_aspect`` (``crop_w / crop_h``) and ``padding`` as
        :func:`write_mean_params` recorded them (file keys ``cam_crop_aspect``,
        ``cam_bbox_scale_factor``); None for a file without a measured camera (SPIN's, or
        one written before mroi recorded it).
    """
    with np.load(path, allow_pickle=False) as data:
        if 'cam_crop_aspect' not in data.files:
            return None
        return dict(crop_aspect=float(data['cam_crop_aspect']),
                    padding=float(data['cam_bbox_scale_factor']))
