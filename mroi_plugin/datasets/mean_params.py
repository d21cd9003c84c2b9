"""SPIN/CLIFF-style mean SMPL parameters of a HumanData training set.

HMR regressors start their iterations from the training set's mean pose and
shape (SPIN's ``smpl_mean_params.npz``). For data other than SPIN's (e.g. the
synthetic set) the same file is computed here, so a model starts at the mean
body rather than at the identity rotations (a T-pose, upside down in camera
axes).
"""
from typing import Tuple

import numpy as np
import torch

from mroi_plugin.geometry import axis_angle_to_rotmat, mean_rotation, rotmat_to_rot6d

from .human_data import HumanDataFile

__all__ = ['mean_smpl_params', 'write_mean_params', 'DEFAULT_MEAN_CAM']

# SPIN/CLIFF's initial weak-perspective camera (s, tx, ty).
DEFAULT_MEAN_CAM = (0.9, 0.0, 0.0)
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


def write_mean_params(ann_file: str, out_file: str) -> str:
    """Write ``pose (144,)`` 6D, ``shape (num_betas,)``, ``cam (3,)`` like SPIN's file.

    Args:
        ann_file (str): Training HumanData ``.npz``.
        out_file (str): Where the ``.npz`` goes.

    Returns:
        str: ``out_file``.
    """
    rotmats, betas = mean_smpl_params(ann_file)
    np.savez(out_file,
             pose=rotmat_to_rot6d(rotmats).reshape(-1).numpy().astype(np.float32),
             shape=betas.numpy().astype(np.float32),
             cam=np.asarray(DEFAULT_MEAN_CAM, dtype=np.float32))
    return out_file
