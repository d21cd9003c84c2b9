"""Keypoint conventions: joint names, conversion between conventions, flips.

A joint is identified by its **name**. Names are MMHuman3D's ``human_data``
names (190 joints), the canonical vocabulary: the same anatomical joint *as
produced by the same kind of source* has the same name in every convention.
MMHuman3D distinguishes joints that share an anatomical label but come from
different regressors or annotation protocols, e.g. SMPL's ``left_hip`` (the
kinematic hip joint) versus ``left_hip_extra`` (the H36M / LSP / COCO hip,
which sits lower and more lateral). Converting by exact name therefore never
mixes them; ``approximate=True`` lets such near-equivalents stand in for each
other (MMHuman3D's approximate groups).

The name lists are facts taken from MMHuman3D's
``mmhuman3d/core/conventions/keypoints_mapping`` (``human_data.py``,
``smpl.py``, ``h36m.py``, ``lsp.py``, ``coco.py``). Converting the H36M
regressor's 17 joints to LSP's 14 by name reproduces SPIN/CLIFF's evaluation
subset ``H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]``.

Every function accepts a convention name; :func:`get_mapping` also accepts an
explicit sequence of joint names (used by the body model to name the joints of
several regressors at once). More conventions can be added at run time with
:func:`register_keypoint_convention`.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch

__all__ = [
    'HUMAN_DATA_KEYPOINTS', 'SMPL_24_KEYPOINTS', 'SMPL_VERTEX_KEYPOINTS', 'H36M_17_KEYPOINTS',
    'LSP_14_KEYPOINTS', 'COCO_17_KEYPOINTS', 'SPIN_24_KEYPOINTS', 'OPENPOSE_25_KEYPOINTS',
    'APPROXIMATE_GROUPS',
    'register_keypoint_convention', 'get_keypoint_conventions', 'get_keypoint_names',
    'get_keypoint_num', 'get_keypoint_index', 'get_mapping', 'convert_keypoints',
    'get_flip_pairs', 'get_flip_indices'
]

ArrayLike = Union[np.ndarray, torch.Tensor]
# convert_keypoints gives back the kind of array it is given.
KeypointArray = TypeVar('KeypointArray', np.ndarray, torch.Tensor)
ConventionLike = Union[str, Sequence[str]]

# OpenPose BODY_25 in OpenPose's order (SPIN's ``openpose`` key).
OPENPOSE_25_KEYPOINTS: Tuple[str, ...] = (
    'nose_openpose', 'neck_openpose', 'right_shoulder_openpose', 'right_elbow_openpose',
    'right_wrist_openpose', 'left_shoulder_openpose', 'left_elbow_openpose',
    'left_wrist_openpose', 'pelvis_openpose', 'right_hip_openpose', 'right_knee_openpose',
    'right_ankle_openpose', 'left_hip_openpose', 'left_knee_openpose', 'left_ankle_openpose',
    'right_eye_openpose', 'left_eye_openpose', 'right_ear_openpose', 'left_ear_openpose',
    'left_bigtoe_openpose', 'left_smalltoe_openpose', 'left_heel_openpose',
    'right_bigtoe_openpose', 'right_smalltoe_openpose', 'right_heel_openpose',
)

# MMHuman3D's HumanData convention, in its order (the index of a name here is its
# HumanData index, so this order must not change).
HUMAN_DATA_KEYPOINTS: Tuple[str, ...] = (
    # SMPL-X body (SMPL's first 22 joints) and face joints
    'pelvis', 'left_hip', 'right_hip', 'spine_1', 'left_knee', 'right_knee', 'spine_2',
    'left_ankle', 'right_ankle', 'spine_3', 'left_foot', 'right_foot', 'neck', 'left_collar',
    'right_collar', 'head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'jaw', 'left_eyeball', 'right_eyeball',
    # hand joints
    'left_index_1', 'left_index_2', 'left_index_3', 'left_middle_1', 'left_middle_2',
    'left_middle_3', 'left_pinky_1', 'left_pinky_2', 'left_pinky_3', 'left_ring_1', 'left_ring_2',
    'left_ring_3', 'left_thumb_1', 'left_thumb_2', 'left_thumb_3', 'right_index_1',
    'right_index_2', 'right_index_3', 'right_middle_1', 'right_middle_2', 'right_middle_3',
    'right_pinky_1', 'right_pinky_2', 'right_pinky_3', 'right_ring_1', 'right_ring_2',
    'right_ring_3', 'right_thumb_1', 'right_thumb_2', 'right_thumb_3',
    # vertex-picked keypoints (face, feet, finger tips)
    'nose', 'right_eye', 'left_eye', 'right_ear', 'left_ear', 'left_bigtoe', 'left_smalltoe',
    'left_heel', 'right_bigtoe', 'right_smalltoe', 'right_heel', 'left_thumb', 'left_index',
    'left_middle', 'left_ring', 'left_pinky', 'right_thumb', 'right_index', 'right_middle',
    'right_ring', 'right_pinky',
    # face landmarks
    'right_eyebrow_1', 'right_eyebrow_2', 'right_eyebrow_3', 'right_eyebrow_4', 'right_eyebrow_5',
    'left_eyebrow_5', 'left_eyebrow_4', 'left_eyebrow_3', 'left_eyebrow_2', 'left_eyebrow_1',
    'nosebridge_1', 'nosebridge_2', 'nosebridge_3', 'nosebridge_4', 'right_nose_2',
    'right_nose_1', 'nose_middle', 'left_nose_1', 'left_nose_2', 'right_eye_1', 'right_eye_2',
    'right_eye_3', 'right_eye_4', 'right_eye_5', 'right_eye_6', 'left_eye_4', 'left_eye_3',
    'left_eye_2', 'left_eye_1', 'left_eye_6', 'left_eye_5', 'right_mouth_1', 'right_mouth_2',
    'right_mouth_3', 'mouth_top', 'left_mouth_3', 'left_mouth_2', 'left_mouth_1', 'left_mouth_5',
    'left_mouth_4', 'mouth_bottom', 'right_mouth_4', 'right_mouth_5', 'right_lip_1',
    'right_lip_2', 'lip_top', 'left_lip_2', 'left_lip_1', 'left_lip_3', 'lip_bottom',
    'right_lip_3', 'right_contour_1', 'right_contour_2', 'right_contour_3', 'right_contour_4',
    'right_contour_5', 'right_contour_6', 'right_contour_7', 'right_contour_8', 'contour_middle',
    'left_contour_8', 'left_contour_7', 'left_contour_6', 'left_contour_5', 'left_contour_4',
    'left_contour_3', 'left_contour_2', 'left_contour_1',
    # joints of extra regressors (SPIN's J_regressor_extra, H36M) and dataset annotations
    'right_hip_extra', 'left_hip_extra', 'neck_extra', 'headtop', 'pelvis_extra',
    'thorax_extra', 'spine_extra', 'jaw_extra', 'head_extra',
    # OpenPose BODY_25
    *OPENPOSE_25_KEYPOINTS,
    # MPI-INF-3DHP, H36M ground truth, PoseTrack
    'spine_4_3dhp', 'left_clavicle_3dhp', 'right_clavicle_3dhp', 'left_hand_3dhp',
    'right_hand_3dhp', 'left_toe_3dhp', 'right_toe_3dhp', 'head_h36m', 'headtop_h36m',
    'head_bottom_pt',
    # SMPL's last two joints
    'left_hand', 'right_hand',
)

# The 24 joints of SMPL's own J_regressor, in SMPL's joint order.
SMPL_24_KEYPOINTS: Tuple[str, ...] = (
    'pelvis', 'left_hip', 'right_hip', 'spine_1', 'left_knee', 'right_knee', 'spine_2',
    'left_ankle', 'right_ankle', 'spine_3', 'left_foot', 'right_foot', 'neck', 'left_collar',
    'right_collar', 'head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hand', 'right_hand',
)

# The 21 keypoints smplx picks from SMPL-topology vertices after the 24 joints
# (face, feet, finger tips), in smplx's order; joints 24..44 of MMHuman3D's smpl_45.
SMPL_VERTEX_KEYPOINTS: Tuple[str, ...] = (
    'nose', 'right_eye', 'left_eye', 'right_ear', 'left_ear', 'left_bigtoe', 'left_smalltoe',
    'left_heel', 'right_bigtoe', 'right_smalltoe', 'right_heel', 'left_thumb', 'left_index',
    'left_middle', 'left_ring', 'left_pinky', 'right_thumb', 'right_index', 'right_middle',
    'right_ring', 'right_pinky',
)

# The 17 joints of the H36M joint regressor (J_regressor_h36m.npy) in SPIN's order.
H36M_17_KEYPOINTS: Tuple[str, ...] = (
    'pelvis_extra', 'left_hip_extra', 'left_knee', 'left_ankle', 'right_hip_extra',
    'right_knee', 'right_ankle', 'spine_extra', 'neck_extra', 'head_extra', 'headtop',
    'left_shoulder', 'left_elbow', 'left_wrist', 'right_shoulder', 'right_elbow', 'right_wrist',
)

# LSP's 14 joints (the evaluation joints of SPIN/CLIFF).
LSP_14_KEYPOINTS: Tuple[str, ...] = (
    'right_ankle', 'right_knee', 'right_hip_extra', 'left_hip_extra', 'left_knee', 'left_ankle',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
    'neck_extra', 'headtop',
)

COCO_17_KEYPOINTS: Tuple[str, ...] = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
    'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip_extra', 'right_hip_extra',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
)

# SPIN's 24 ground-truth joints (SPIN/CLIFF ``.npz`` files' ``part`` and ``S``, SPIN's
# ``constants.JOINT_NAMES[25:]``), named as MMHuman3D's ``smpl_49`` names them.
SPIN_24_KEYPOINTS: Tuple[str, ...] = (
    'right_ankle', 'right_knee', 'right_hip_extra', 'left_hip_extra', 'left_knee', 'left_ankle',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
    'neck_extra', 'headtop', 'pelvis_extra', 'thorax_extra', 'spine_extra', 'jaw_extra',
    'head_extra', 'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
)


# Names that may stand in for each other with ``approximate=True`` (MMHuman3D's
# approximate mapping groups). Within a group, earlier names are preferred.
APPROXIMATE_GROUPS: Tuple[Tuple[str, ...], ...] = (
    ('pelvis', 'pelvis_openpose', 'pelvis_extra'),
    ('left_hip', 'left_hip_openpose', 'left_hip_extra'),
    ('right_hip', 'right_hip_openpose', 'right_hip_extra'),
    ('neck', 'neck_openpose', 'neck_extra'),
    ('jaw', 'jaw_extra'),
    ('head_extra', 'head_h36m'),
    ('headtop', 'headtop_h36m'),
    ('left_hand', 'left_hand_3dhp'),
    ('right_hand', 'right_hand_3dhp'),
    ('nose', 'nose_openpose'),
    ('right_shoulder', 'right_shoulder_openpose'),
    ('right_elbow', 'right_elbow_openpose'),
    ('right_wrist', 'right_wrist_openpose'),
    ('left_shoulder', 'left_shoulder_openpose'),
    ('left_elbow', 'left_elbow_openpose'),
    ('left_wrist', 'left_wrist_openpose'),
    ('right_knee', 'right_knee_openpose'),
    ('right_ankle', 'right_ankle_openpose'),
    ('left_knee', 'left_knee_openpose'),
    ('left_ankle', 'left_ankle_openpose'),
    ('right_eye', 'right_eye_openpose'),
    ('left_eye', 'left_eye_openpose'),
    ('right_ear', 'right_ear_openpose'),
    ('left_ear', 'left_ear_openpose'),
    ('left_bigtoe', 'left_bigtoe_openpose'),
    ('left_smalltoe', 'left_smalltoe_openpose'),
    ('left_heel', 'left_heel_openpose'),
    ('right_bigtoe', 'right_bigtoe_openpose'),
    ('right_smalltoe', 'right_smalltoe_openpose'),
    ('right_heel', 'right_heel_openpose'),
)

_LEFT, _RIGHT = 'left_', 'right_'
_HUMAN_DATA_SET = frozenset(HUMAN_DATA_KEYPOINTS)
_CONVENTIONS: Dict[str, Tuple[str, ...]] = {}


def _check_names(names: Sequence[str], what: str) -> Tuple[str, ...]:
    """Validate a list of joint names; return it as a tuple."""
    names = tuple(names)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f'{what}: joint names must be strings, got {names!r}.')
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ValueError(f'{what}: duplicate joint names {duplicates}; every joint needs a '
                         'unique name.')
    unknown = [n for n in names if n not in _HUMAN_DATA_SET]
    if unknown:
        raise ValueError(
            f'{what}: {unknown} are not human_data joint names. Use the canonical names of '
            "get_keypoint_names('human_data') so joints match across conventions.")
    return names


def register_keypoint_convention(name: str, keypoint_names: Sequence[str],
                                 overwrite: bool = False) -> None:
    """Add a keypoint convention.

    Args:
        name (str): Convention name, e.g. ``'mpi_inf_3dhp_17'``.
        keypoint_names (Sequence[str]): Joint names in the convention's order; each must be
            a ``human_data`` name, without duplicates.
        overwrite (bool): Replace an existing convention of that name. Defaults to False.

    Raises:
        ValueError: the name exists (and ``overwrite`` is False), or the joint names are
            duplicated or not ``human_data`` names.
    """
    if name in _CONVENTIONS and not overwrite:
        raise ValueError(f"Keypoint convention '{name}' already exists; pass overwrite=True "
                         'to replace it.')
    _CONVENTIONS[name] = _check_names(keypoint_names, f"keypoint convention '{name}'")


for _name, _names in (('human_data', HUMAN_DATA_KEYPOINTS), ('smpl_24', SMPL_24_KEYPOINTS),
                      ('smpl_45', SMPL_24_KEYPOINTS + SMPL_VERTEX_KEYPOINTS),
                      ('h36m_17', H36M_17_KEYPOINTS), ('lsp_14', LSP_14_KEYPOINTS),
                      ('coco_17', COCO_17_KEYPOINTS), ('spin_24', SPIN_24_KEYPOINTS),
                      ('openpose_25', OPENPOSE_25_KEYPOINTS),
                      ('smpl_49', OPENPOSE_25_KEYPOINTS + SPIN_24_KEYPOINTS)):
    register_keypoint_convention(_name, _names)


def get_keypoint_conventions() -> List[str]:
    """Names of the known keypoint conventions."""
    return list(_CONVENTIONS)


def _resolve(convention: ConventionLike) -> Tuple[str, ...]:
    """Names of a convention given by name, or validated explicit names."""
    if isinstance(convention, str):
        if convention not in _CONVENTIONS:
            raise ValueError(f"Unknown keypoint convention '{convention}'. Known conventions: "
                             f'{get_keypoint_conventions()} (add one with '
                             'register_keypoint_convention).')
        return _CONVENTIONS[convention]
    return _check_names(convention, 'keypoint names')


def get_keypoint_names(convention: str) -> List[str]:
    """Joint names of a convention, in its order.

    Args:
        convention (str): e.g. ``'smpl_24'``, ``'h36m_17'``, ``'lsp_14'``, ``'coco_17'``,
            ``'human_data'``.

    Returns:
        list[str]: ``K`` names.
    """
    return list(_resolve(convention))


def get_keypoint_num(convention: str) -> int:
    """Number of joints ``K`` of a convention."""
    return len(_resolve(convention))


def get_keypoint_index(name: str, convention: str) -> int:
    """Index of the joint ``name`` in ``convention``.

    Raises:
        ValueError: the convention has no joint of that name.
    """
    names = _resolve(convention)
    if name not in names:
        raise ValueError(f"Keypoint convention '{convention}' has no joint '{name}'; its "
                         f'joints are {list(names)}.')
    return names.index(name)


def get_mapping(src: ConventionLike, dst: ConventionLike,
                approximate: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Which source joint fills which destination joint, matched by name.

    Args:
        src (str | Sequence[str]): Source convention name or explicit joint names.
        dst (str | Sequence[str]): Destination convention name or explicit joint names.
        approximate (bool): If a destination name is absent from ``src``, accept the first
            member of its :data:`APPROXIMATE_GROUPS` group present in ``src`` (e.g.
            ``left_hip_extra`` for ``left_hip``). Defaults to False (exact names only).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(dst_idx, src_idx)``, int64 arrays of equal length
        ``M``: ``dst[dst_idx[m]]`` comes from ``src[src_idx[m]]``; destination joints not
        listed have no source.
    """
    src_names, dst_names = _resolve(src), _resolve(dst)
    src_index = {n: i for i, n in enumerate(src_names)}
    dst_idx, src_idx = [], []
    for j, name in enumerate(dst_names):
        candidates = [name]
        if approximate:
            for group in APPROXIMATE_GROUPS:
                if name in group:
                    candidates += [n for n in group if n != name]
        for candidate in candidates:
            if candidate in src_index:
                dst_idx.append(j)
                src_idx.append(src_index[candidate])
                break
    return np.asarray(dst_idx, dtype=np.int64), np.asarray(src_idx, dtype=np.int64)


def convert_keypoints(keypoints: KeypointArray,
                      src: ConventionLike,
                      dst: ConventionLike,
                      mask: Optional[ArrayLike] = None,
                      approximate: bool = False) -> Tuple[KeypointArray, KeypointArray]:
    """Convert keypoints between conventions by joint name.

    Works on numpy arrays and torch tensors (differentiable), with any leading dimensions
    and any number of channels (2D, 3D, with or without a confidence channel).

    Args:
        keypoints (np.ndarray | Tensor): ``(..., J_src, C)``.
        src (str | Sequence[str]): Source convention (or its joint names).
        dst (str | Sequence[str]): Destination convention (or its joint names).
        mask (np.ndarray | Tensor, optional): ``(..., J_src)`` availability of the source
            joints, broadcastable to ``keypoints.shape[:-1]``. Defaults to all ones.
        approximate (bool): Allow near-equivalent names, see :func:`get_mapping`.

    Returns:
        tuple: ``keypoints (..., J_dst, C)`` of the input's kind, dtype and device, with
        zeros where ``dst`` joints have no source; ``mask (..., J_dst)`` (the given mask's
        dtype, else the keypoints' floating dtype), 0 for those joints.
    """
    src_names, dst_names = _resolve(src), _resolve(dst)
    if not isinstance(keypoints, torch.Tensor):
        keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-2] != len(src_names):
        raise ValueError(
            f'convert_keypoints: keypoints must be (..., {len(src_names)}, C) for source '
            f'convention {src if isinstance(src, str) else "(names)"}, got shape '
            f'{tuple(keypoints.shape)}.')
    dst_idx, src_idx = get_mapping(src_names, dst_names, approximate)
    lead_shape = tuple(keypoints.shape[:-2])
    out_shape = lead_shape + (len(dst_names), keypoints.shape[-1])
    mask_shape = lead_shape + (len(src_names),)

    if isinstance(keypoints, torch.Tensor):
        out = keypoints.new_zeros(out_shape)
        dst_t = torch.as_tensor(dst_idx, device=keypoints.device)
        src_t = torch.as_tensor(src_idx, device=keypoints.device)
        out[..., dst_t, :] = keypoints[..., src_t, :]
        if mask is None:
            mask_dtype = keypoints.dtype if keypoints.is_floating_point() else torch.float32
            mask_t = torch.ones(mask_shape, dtype=mask_dtype, device=keypoints.device)
        else:
            mask_t = torch.as_tensor(mask, device=keypoints.device).expand(mask_shape)
        out_mask_t = mask_t.new_zeros(lead_shape + (len(dst_names),))
        out_mask_t[..., dst_t] = mask_t[..., src_t]
        return out, out_mask_t

    out_np = np.zeros(out_shape, dtype=keypoints.dtype)
    out_np[..., dst_idx, :] = keypoints[..., src_idx, :]
    if mask is None:
        float_dtype = np.issubdtype(keypoints.dtype, np.floating)
        mask_np = np.ones(mask_shape, dtype=keypoints.dtype if float_dtype else np.float32)
    else:
        mask_np = np.asarray(mask)
        try:
            mask_np = np.broadcast_to(mask_np, mask_shape)
        except ValueError as e:
            raise ValueError(f'convert_keypoints: mask of shape {mask_np.shape} does not '
                             f'broadcast to the keypoints\' {mask_shape}.') from e
    out_mask_np = np.zeros(lead_shape + (len(dst_names),), dtype=mask_np.dtype)
    out_mask_np[..., dst_idx] = mask_np[..., src_idx]
    return out_np, out_mask_np


def get_flip_pairs(convention: str) -> List[Tuple[int, int]]:
    """Index pairs ``(left, right)`` of joints whose names differ only by ``left_``/``right_``.

    Raises:
        ValueError: a ``left_``/``right_`` joint of the convention has no partner in it
            (a horizontal flip could not be expressed).
    """
    names = _resolve(convention)
    index = {n: i for i, n in enumerate(names)}
    pairs, unpaired = [], []
    for i, name in enumerate(names):
        if name.startswith(_LEFT):
            partner = _RIGHT + name[len(_LEFT):]
        elif name.startswith(_RIGHT):
            partner = _LEFT + name[len(_RIGHT):]
        else:
            continue
        if partner not in index:
            unpaired.append(name)
        elif name.startswith(_LEFT):
            pairs.append((i, index[partner]))
    if unpaired:
        raise ValueError(f"Keypoint convention '{convention}' cannot be flipped: {unpaired} "
                         'have no left/right partner in it.')
    return pairs


def get_flip_indices(convention: str) -> List[int]:
    """The permutation that mirrors a convention: ``flipped = keypoints[..., idx, :]``.

    Left and right joints swap; joints without a side map to themselves. Applying it
    twice is the identity. (Mirroring the coordinates themselves is the caller's job.)

    Returns:
        list[int]: ``K`` indices.
    """
    indices = list(range(get_keypoint_num(convention)))
    for left, right in get_flip_pairs(convention):
        indices[left], indices[right] = right, left
    return indices
