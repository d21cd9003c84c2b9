"""Human-like SMPL poses and upright orientations of the synthetic people.

Per-joint rotation limits (knees and elbows bend one way, modest spine and neck), several pose
modes (standing, walking, reaching, crouching, free) and an upright global orientation with
any yaw; the constants below are the sampling ranges.
"""
from typing import Dict, Sequence, Tuple

import numpy as np

from mroi_plugin.geometry import axis_angle_to_rotmat, rotmat_to_axis_angle

__all__ = ['JOINT_INDEX', 'NUM_BODY_JOINTS', 'BETAS_CLIP', 'sample_body_pose',
           'sample_global_orient']

# SMPL's body_pose rows: every joint but the pelvis.
NUM_BODY_JOINTS = 23

# --- body ---------------------------------------------------------------------------------
BETAS_CLIP = 2.0
# Upright: camera pitch / roll of the body (radians, normal std); with LEAN_PROB a larger lean.
TILT_STD = 0.08
LEAN_PROB = 0.1
LEAN_MAX = 0.5

# SMPL joint indices (smpl_24 order); body_pose row = joint index - 1.
JOINT_INDEX = {name: i for i, name in enumerate((
    'pelvis', 'left_hip', 'right_hip', 'spine_1', 'left_knee', 'right_knee', 'spine_2',
    'left_ankle', 'right_ankle', 'spine_3', 'left_foot', 'right_foot', 'neck', 'left_collar',
    'right_collar', 'head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hand', 'right_hand'))}

# Per-joint rotation limits (radians) about the parent's x, y, z axes, in SMPL's rest frame
# (y up, x towards the body's left, z forward), for the LEFT side; right joints mirror them
# (x, -y, -z). x: flexion (positive bends the knee / the spine forward, negative swings the
# thigh forward); the left elbow flexes about -y; the left shoulder lowers the arm about -z.
# The joint rotation is R_x R_y R_z (z applied first).
_JOINT_LIMITS = {
    'hip': ((-1.6, 0.4), (-0.4, 0.4), (-0.2, 0.6)),
    'knee': ((0.0, 2.2), (-0.05, 0.05), (-0.05, 0.05)),
    'ankle': ((-0.3, 0.5), (-0.2, 0.2), (-0.2, 0.2)),
    'foot': ((-0.2, 0.3), (-0.1, 0.1), (-0.1, 0.1)),
    'spine': ((-0.1, 0.2), (-0.15, 0.15), (-0.1, 0.1)),
    'neck': ((-0.15, 0.2), (-0.3, 0.3), (-0.12, 0.12)),
    'collar': ((-0.1, 0.1), (-0.2, 0.2), (-0.2, 0.3)),
    'shoulder': ((-0.6, 0.6), (-1.5, 0.6), (-1.4, 1.2)),
    'elbow': ((-0.1, 0.1), (-2.4, 0.0), (-0.1, 0.1)),
    'wrist': ((-0.5, 0.5), (-0.3, 0.3), (-0.5, 0.5)),
    'hand': ((-0.2, 0.2), (-0.2, 0.2), (-0.2, 0.2)),
}
_JOINT_KIND = {'spine_1': 'spine', 'spine_2': 'spine', 'spine_3': 'spine', 'neck': 'neck',
               'head': 'neck'}
_LIMB_KINDS = ('hip', 'knee', 'ankle', 'foot', 'collar', 'shoulder', 'elbow', 'wrist', 'hand')
_TRUNK_JOINTS = tuple(_JOINT_KIND)
# Right-side angles = left-side angles * _MIRROR (reflection across the sagittal x = 0 plane).
_MIRROR = np.array([1.0, -1.0, -1.0])
_POSE_MODES = ('standing', 'walking', 'reaching', 'crouching', 'free')
_POSE_MODE_PROBS = (0.2, 0.3, 0.25, 0.1, 0.15)
# Free mode samples every joint inside this fraction of its limits (full limits combine into
# implausible poses too often); the other modes add noise of this std (radians) to the limb
# joints they do not set, and keep the spine and neck inside _TRUNK_SCALE of their limits.
_FREE_MODE_SCALE = 0.7
_REST_NOISE_STD = 0.05
_TRUNK_SCALE = 0.5
# Mode recipes: {(joint kind, axis): (low, high)} radians, left-side convention, applied to
# both sides (spine joints by name).
_ARMS_DOWN = {('shoulder', 2): (-1.35, -0.9), ('shoulder', 0): (-0.3, 0.2),
              ('elbow', 1): (-0.6, 0.0)}
_MODE_RANGES = {
    'standing': {('hip', 0): (-0.15, 0.1), ('knee', 0): (0.0, 0.2)},
    'reaching_arm': {('shoulder', 2): (-0.6, 1.2), ('shoulder', 1): (-1.5, 0.3),
                     ('elbow', 1): (-1.4, 0.0)},
    'reaching': {('knee', 0): (0.0, 0.4), ('hip', 0): (-0.4, 0.1), ('spine_1', 0): (-0.05, 0.2),
                 ('spine_2', 0): (-0.05, 0.2), ('spine_3', 0): (-0.05, 0.2)},
    'crouching': {('hip', 0): (-1.8, -0.8), ('hip', 2): (0.0, 0.5), ('knee', 0): (1.0, 2.2),
                  ('ankle', 0): (0.0, 0.5), ('shoulder', 2): (-1.3, -0.3),
                  ('shoulder', 1): (-1.2, 0.0), ('elbow', 1): (-1.8, -0.2),
                  ('spine_1', 0): (0.0, 0.2), ('spine_2', 0): (0.0, 0.2),
                  ('spine_3', 0): (0.0, 0.2)},
}
# Reaching: each arm reaches with this probability (at least one does).
_REACH_PROB = 0.6
# Walking: hip swing amplitude (rad); knee flexion = rest + gain * amplitude in the swing
# phase; arm swing = gain * amplitude; elbow flexion range.
_WALK_AMPLITUDE = (0.2, 0.6)
_WALK_KNEE_REST = (0.0, 0.15)
_WALK_KNEE_GAIN = 1.5
_WALK_ARM_GAIN = 0.8
_WALK_ELBOW = (-0.7, -0.1)


def _compose_xyz(angles: np.ndarray) -> np.ndarray:
    """``(J, 3)`` angles about x, y, z -> ``(J, 3, 3)`` rotations ``R_x R_y R_z``."""
    per_axis = angles.T[:, :, None] * np.eye(3)[:, None, :]  # (3, J, 3) axis-angles
    rx, ry, rz = axis_angle_to_rotmat(per_axis)
    return rx @ ry @ rz


def _uniform(rng: np.random.Generator, limits: Tuple[float, float], scale: float = 1.0) -> float:
    low, high = limits
    mid, half = (low + high) / 2, (high - low) / 2 * scale
    return float(rng.uniform(mid - half, mid + half))


def _apply_ranges(angles: Dict[str, np.ndarray],
                  ranges: Dict[Tuple[str, int], Tuple[float, float]], sides: Sequence[str],
                  rng: np.random.Generator) -> None:
    """Set ``angles[f'{side}_{kind}'][axis]`` uniformly in ``ranges[(kind, axis)]`` for each
    side; trunk joints (``kind`` is a joint name such as ``'spine_1'``) are set once."""
    for (kind, axis), (low, high) in ranges.items():
        names = [kind] if kind in angles else [f'{side}_{kind}' for side in sides]
        for name in names:
            angles[name][axis] = rng.uniform(low, high)


def sample_body_pose(rng: np.random.Generator) -> Tuple[np.ndarray, str]:
    """Sample a plausible SMPL body pose.

    A mode (standing, walking, reaching, crouching, free) is drawn with ``_POSE_MODE_PROBS``.
    Free poses draw every joint inside ``_FREE_MODE_SCALE`` of its limits; the other modes
    start near the rest pose (noise ``_REST_NOISE_STD``, modest spine and neck) and set the
    joints that define them from ``_MODE_RANGES`` (walking: legs and arms swing in antiphase).

    Args:
        rng (np.random.Generator): Random generator.

    Returns:
        tuple: ``body_pose`` ``(23, 3)`` float64 axis-angle (radians, relative to the parent
        joints) and the pose mode name.
    """
    mode = _POSE_MODES[rng.choice(len(_POSE_MODES), p=_POSE_MODE_PROBS)]
    free = mode == 'free'
    # Angles (x, y, z) per joint in the left-side convention; right joints are mirrored below.
    angles: Dict[str, np.ndarray] = {}
    for side in ('left', 'right'):
        for kind in _LIMB_KINDS:
            limits = _JOINT_LIMITS[kind]
            if free:
                angles[f'{side}_{kind}'] = np.array(
                    [_uniform(rng, lim, _FREE_MODE_SCALE) for lim in limits])
            else:
                low, high = np.array(limits).T
                angles[f'{side}_{kind}'] = np.clip(
                    rng.normal(0.0, _REST_NOISE_STD, size=3), low, high)
    for name in _TRUNK_JOINTS:
        scale = _FREE_MODE_SCALE if free else _TRUNK_SCALE
        angles[name] = np.array(
            [_uniform(rng, lim, scale) for lim in _JOINT_LIMITS[_JOINT_KIND[name]]])

    both = ('left', 'right')
    if mode == 'walking':
        phase = rng.uniform(0, 2 * np.pi)
        amplitude = rng.uniform(*_WALK_AMPLITUDE)
        _apply_ranges(angles, _ARMS_DOWN, both, rng)
        for side, sign in (('left', 1.0), ('right', -1.0)):
            swing = sign * np.sin(phase)
            angles[f'{side}_hip'][0] = -amplitude * swing  # negative x: thigh forward
            # The leg swinging through bends its knee; the stance leg stays nearly straight.
            angles[f'{side}_knee'][0] = rng.uniform(*_WALK_KNEE_REST) + (
                _WALK_KNEE_GAIN * amplitude * max(0.0, sign * np.cos(phase)))
            # Arms swing against the legs: forward (negative x) when the other leg is forward.
            angles[f'{side}_shoulder'][0] = _WALK_ARM_GAIN * amplitude * swing
            angles[f'{side}_elbow'][1] = rng.uniform(*_WALK_ELBOW)
    elif mode == 'reaching':
        reach = [side for side in both if rng.uniform() < _REACH_PROB]
        reach = reach or [both[rng.integers(2)]]
        _apply_ranges(angles, _ARMS_DOWN, [side for side in both if side not in reach], rng)
        _apply_ranges(angles, _MODE_RANGES['reaching_arm'], reach, rng)
        _apply_ranges(angles, _MODE_RANGES['reaching'], both, rng)
    elif mode in ('standing', 'crouching'):
        if mode == 'standing':
            _apply_ranges(angles, _ARMS_DOWN, both, rng)
        _apply_ranges(angles, _MODE_RANGES[mode], both, rng)

    table = np.zeros((NUM_BODY_JOINTS + 1, 3))
    for name, value in angles.items():
        table[JOINT_INDEX[name]] = value * _MIRROR if name.startswith('right_') else value
    return rotmat_to_axis_angle(_compose_xyz(table[1:])), mode


def sample_global_orient(rng: np.random.Generator, max_yaw: float = np.pi) -> np.ndarray:
    """Upright body orientation in the camera frame with any yaw.

    SMPL's rest frame is y up, facing +z; the camera's is y down, z forward, so the base
    rotation is ``R_x(pi)`` (the person faces the camera), then a yaw about the camera's
    vertical axis, then a small pitch and roll (sometimes a lean up to ``LEAN_MAX``).

    Args:
        rng (np.random.Generator): Random generator.
        max_yaw (float): Yaw range ``[-max_yaw, max_yaw]``, radians; 0 faces the camera.

    Returns:
        np.ndarray: ``(3,)`` float64 axis-angle.
    """
    yaw = rng.uniform(-max_yaw, max_yaw)
    pitch, roll = rng.normal(0.0, TILT_STD, size=2)
    if rng.uniform() < LEAN_PROB:
        pitch, roll = rng.uniform(-LEAN_MAX, LEAN_MAX, size=2)
    base = axis_angle_to_rotmat(np.array([np.pi, 0.0, 0.0]))
    turn = axis_angle_to_rotmat(np.array([0.0, yaw, 0.0]))
    tilt = _compose_xyz(np.array([[pitch, 0.0, roll]]))[0]
    return rotmat_to_axis_angle(tilt @ turn @ base)
