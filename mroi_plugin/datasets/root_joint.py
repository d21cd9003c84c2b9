"""Rest-pose SMPL root joints ``J0(betas)`` of a whole dataset, from the body model files.

The augmentation moves ``smpl_transl`` about the root joint (``rigid_move_about_root``), which
needs ``J0`` of each person's shape. SMPL's joints are ``J = J_regressor (v_template +
shapedirs betas)``, linear in the betas, so row 0 reduces to ``J0 = a + B betas`` with
``a`` ``(3,)`` and ``B`` ``(3, num_betas)``: every sample of a file costs one small matrix
product, done once when the dataset opens.
"""
import os
from typing import Mapping, Sequence, Tuple, Union

import numpy as np

from mroi_plugin.body_models.model_io import load_smpl_model_data

__all__ = ['root_joint_map', 'compute_root_joints']

PathLike = Union[str, 'os.PathLike[str]']
BodyModelDir = Union[PathLike, Mapping[str, PathLike]]
ROOT_JOINT_INDEX = 0


def root_joint_map(model_path: PathLike, gender: str,
                   num_betas: int) -> Tuple[np.ndarray, np.ndarray]:
    """The affine map ``betas -> J0`` of one SMPL model file.

    Args:
        model_path (str | PathLike): An SMPL ``.pkl``/``.npz`` or a directory with
            ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}`` (see ``load_smpl_model_data``).
        gender (str): ``'neutral'``, ``'male'`` or ``'female'``.
        num_betas (int): Shape coefficients used (at most the file's).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``a`` ``(3,)`` and ``B`` ``(3, num_betas)`` float64,
        metres, with ``J0 = a + B @ betas`` in the body frame.

    Raises:
        ValueError: the file has fewer than ``num_betas`` shape components.
    """
    data, path = load_smpl_model_data(model_path, gender)
    shapedirs = data['shapedirs']
    if shapedirs.shape[2] < num_betas:
        raise ValueError(f'{path}: {shapedirs.shape[2]} shape components, but the data has '
                         f'{num_betas} betas per sample; use a model with at least that many.')
    weights = data['J_regressor'][ROOT_JOINT_INDEX]
    offset = weights @ data['v_template']
    linear = np.einsum('v,vcb->cb', weights, shapedirs[:, :, :num_betas])
    return offset, linear


def compute_root_joints(betas: np.ndarray, genders: Union[Sequence[str], np.ndarray],
                        body_model_dir: BodyModelDir) -> np.ndarray:
    """``J0(betas)`` of every sample, each with its gender's model.

    Args:
        betas (np.ndarray): ``(N, num_betas)``; rows with non-finite values (samples without
            SMPL) give zeros.
        genders (Sequence[str]): ``N`` of ``'neutral' | 'male' | 'female'``.
        body_model_dir (str | PathLike | dict): Directory with
            ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``, or ``{gender: file}``; only the genders
            present are loaded.

    Returns:
        np.ndarray: ``(N, 3)`` float32, metres, body frame.

    Raises:
        ValueError: ``genders`` has the wrong length, or ``body_model_dir`` (a dict) lacks a
            gender the data needs.
        FileNotFoundError: the directory has no model file for a needed gender.
    """
    betas = np.asarray(betas, dtype=np.float64)
    gender_names = np.asarray(genders, dtype=str).reshape(-1)
    if betas.ndim != 2 or len(gender_names) != len(betas):
        raise ValueError(f'compute_root_joints: betas must be (N, num_betas) with N genders; got '
                         f'betas {betas.shape} and {len(gender_names)} genders.')
    finite = np.isfinite(betas).all(axis=1)
    roots = np.zeros((len(betas), 3), dtype=np.float64)
    for gender in map(str, np.unique(gender_names)):
        if not isinstance(body_model_dir, Mapping):
            path = body_model_dir
        else:
            if gender not in body_model_dir:
                raise ValueError(f'body_model_dir has no model for gender {gender!r} (it has '
                                 f'{sorted(body_model_dir)}); add one, the data has samples of '
                                 'that gender.')
            path = body_model_dir[gender]
        offset, linear = root_joint_map(path, gender, betas.shape[1])
        rows = (gender_names == gender) & finite
        roots[rows] = offset + betas[rows] @ linear.T
    return roots.astype(np.float32)
