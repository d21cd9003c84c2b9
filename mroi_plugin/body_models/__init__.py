"""Body models: the SMPL wrapper, chumpy-free model loading, keypoint conventions, stand-in."""
from .keypoint_conventions import (
    convert_keypoints,
    get_flip_indices,
    get_flip_pairs,
    get_keypoint_conventions,
    get_keypoint_index,
    get_keypoint_names,
    get_keypoint_num,
    get_mapping,
    register_keypoint_convention,
)
from .model_io import (
    BodyModelFileError,
    load_joint_regressor,
    load_pickle_without_chumpy,
    load_smpl_model_data,
    resolve_smpl_model_file,
    validate_smpl_model_data,
)
from .smpl import SMPL, GenderedSMPL

__all__ = [
    'SMPL', 'GenderedSMPL', 'BodyModelFileError', 'load_smpl_model_data',
    'load_pickle_without_chumpy', 'resolve_smpl_model_file', 'validate_smpl_model_data',
    'load_joint_regressor', 'convert_keypoints', 'get_flip_indices', 'get_flip_pairs',
    'get_keypoint_conventions', 'get_keypoint_index', 'get_keypoint_names', 'get_keypoint_num',
    'get_mapping', 'register_keypoint_convention'
]
