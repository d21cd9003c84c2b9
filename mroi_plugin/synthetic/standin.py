"""Licence-free stand-in SMPL-format body model.

See docs/method.md#body-model-without-licensed-files.

SMPL's model files are licensed, so tests, the quickstart and the synthetic dataset use this
procedurally built body instead. It is a real SMPL-format model: ``smplx.SMPL`` loads the
written ``.pkl`` directly, with SMPL's 6890 vertices, 13776 faces, 24 joints and kinematic tree,
linear-blend-skinning weights, 10 shape directions and a joint regressor. It is **not** SMPL:
numbers measured on it are never SMPL results.

Geometry (all numbers are for the neutral body; every length scales with ``stature / 1.70``):

* Axes as SMPL: ``y`` up, the body faces ``+z``, its left side is ``+x``; metres. T-pose with
  the arms straight out along ``±x`` at shoulder height, palms down, legs straight down.
* The pelvis joint sits at ``y = -0.22`` (SMPL's template puts it at about -0.22 too); the sole
  is at ``y = -1.19`` and the head top at ``y = +0.51``, so the body is 1.70 m tall and the head
  top is 0.73 m above the pelvis (anthropometric tables put the hip joint at 0.53 of the
  stature, so a 1.70 m body cannot have its head top much less than ~0.7 m above the pelvis).
* Rest joints (x, y, z), neutral: pelvis (0, -0.22, -0.005); hips (±0.09, -0.30, -0.01);
  knees (±0.09, -0.70, 0); ankles (±0.09, -1.11, -0.02); feet (ball of the foot)
  (±0.09, -1.164, 0.10); spine1/2/3 (0, -0.10 / 0.03 / 0.11, 0); neck (0, 0.30, -0.01);
  head (0, 0.37, 0.018); collars (±0.075, 0.25, -0.01); shoulders (±0.18, 0.25, -0.01);
  elbows (±0.44, ...); wrists (±0.69, ...); hands (knuckles, ±0.78, ...); finger tips at
  ±0.87 (arm span ≈ stature). Foot length 0.275 m, shoulder width ≈ 0.37 m, hip width
  ≈ 0.35 m.
* The surface is 14 closed tubes, one per body part (torso, neck+head, and per side thigh,
  shin, foot, upper arm, forearm, hand). A tube is a stack of superelliptic rings swept along a
  straight axis through key *stations* (position, two half-extents, centre offset), smoothly
  (C1 Hermite) interpolated between stations, closed by elliptic caps and a pole vertex at each
  end. Neighbouring tubes overlap at the joints. The vertex counts sum to exactly 6890.
* A closed genus-0 mesh has ``2V - 4`` faces, so 14 separate closed tubes would have 52 faces
  fewer than SMPL's 13776. The tubes are therefore joined into ONE closed, consistently
  oriented surface by 13 hidden "bridges": each removes one triangle of a child tube that lies
  inside its parent and one triangle of the parent that lies inside the child, and connects the
  two triangular holes by a thin 6-triangle prism (a connected sum). Euler's formula then gives
  exactly 13776 faces, every edge is shared by exactly two faces with opposite directions, and
  the enclosed (signed) volume is positive.
* Every joint is the centre of one or two rings whose vertices are evenly spaced on a symmetric
  superellipse, so the joint regressor is the plain average of those ring vertices (weights
  ``1/n >= 0`` summing to 1) and reproduces the rest joints exactly; because every shape
  direction moves a ring as an affine map, the regressed joints follow the shape too.
* Skinning weights: each vertex is weighted over the joints its body part may follow by
  ``exp(-(d_j - d_min) / 0.02 m)``, ``d_j`` the distance to joint ``j``'s bones (segments to its
  children); weights below 1e-3 of the largest are dropped and the rest normalised. Limbs blend
  over a few centimetres around each joint; the torso fades from left- to right-side joints
  across +-5 cm about the midline, so one side's limbs never move the other side.
* 10 shape directions (betas, one unit each): 0 stature (+6.1 cm per beta, a pure scaling about
  the origin), 1 weight/girth (with a belly), 2 legs longer / trunk shorter, 3 shoulder width,
  4 arm length, 5 hip width, 6 chest vs waist width, 7 head size, 8 torso depth vs width,
  9 limb vs torso girth (``STANDIN_SHAPE_DIRECTIONS``). Each is the central difference of the
  generator along its design change, then orthogonalised in vertex space (Gram-Schmidt in this
  order, each rescaled to its designed norm: 0.2-2.2 cm RMS per beta), so later directions keep
  what earlier ones do not already do. Every direction moves each joint ring affinely, so the
  regressed joints follow the shape. ``posedirs`` are zero (no pose-corrective blend shapes).
* The 21 surface landmarks ``smplx`` reads from fixed SMPL vertex indices (nose, eyes, ears,
  toes, heels, finger tips; ``smplx.vertex_ids``) are placed at those indices.
* Male / female variants share the topology: male 1.76 m, broader shoulders, narrower hips;
  female 1.63 m, narrower shoulders and waist, wider hips, slimmer arms.
* ``seed = 0`` gives the documented body; another seed gives a different individual of the same
  family (the design moved by ``0.5 * N(0, 1)`` of each designed shape change before the
  template is built). Output is a pure function of ``(seed, gender)``: bit-identical on every
  call. Building one model takes ~0.2 s.
"""
import contextlib
import io
import os
import os.path as osp
import pickle
import tempfile
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from mroi_plugin.body_models.keypoint_conventions import H36M_17_KEYPOINTS

__all__ = [
    'STANDIN_GENDERS', 'STANDIN_SHAPE_DIRECTIONS', 'STANDIN_FILE_NAMES',
    'STANDIN_H36M_REGRESSOR_NAME', 'SMPL_LANDMARK_VERTICES', 'make_standin_smpl',
    'make_standin_h36m_regressor', 'write_standin_smpl', 'temporary_standin_dir'
]

PathLike = Union[str, 'os.PathLike[str]']

NUM_VERTICES = 6890
NUM_FACES = 13776
NUM_JOINTS = 24
NUM_BETAS = 10
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9
# SMPL's kinematic tree; the root's parent is stored as 2**32 - 1 in SMPL's files.
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
ROOT_PARENT_IN_FILE = 2**32 - 1
# SMPL's files are Python-2 era pickles; smplx and chumpy-free loaders read protocol 2.
PICKLE_PROTOCOL = 2

STANDIN_GENDERS = ('neutral', 'male', 'female')
STANDIN_FILE_NAMES = {g: f'SMPL_{g.upper()}.pkl' for g in STANDIN_GENDERS}
STANDIN_H36M_REGRESSOR_NAME = 'J_regressor_h36m.npy'
STANDIN_DESCRIPTION = ('mroi licence-free stand-in body model in SMPL format (procedural; '
                       'NOT SMPL: results on it are not SMPL results)')

# --------------------------------------------------------------------------------------
# Design numbers
# --------------------------------------------------------------------------------------
REFERENCE_STATURE = 1.70  # m; every length in _NEUTRAL_DIMS is for a body of this height
PELVIS_Y = -0.22  # m, pelvis height in the model frame for the reference stature (as SMPL)
SKIN_FALLOFF = 0.02  # m, decay length of skinning weights with the distance to a bone
MIN_SKIN_WEIGHT = 1e-3  # relative weights below this are dropped (and the rest renormalised)
# m: half-width of the band about the midline where the torso fades from following left-side
# joints to following right-side ones, so one side's limbs never drag the other side.
MIDLINE_BLEND = 0.05
SEED_SHAPE_STD = 0.5  # betas-scale spread of the individual drawn for a non-zero seed
CAP_RINGS_SMALL = 3  # rings of an end cap of a limb tube
CAP_RINGS_LARGE = 5  # rings of an end cap of the torso and head tubes
INSIDE_MARGIN = 0.8  # a bridge's end faces lie within this fraction of the other tube's radius

# Lengths in metres for the 1.70 m neutral body (floor-based heights, the body's own
# left = +x); the girth entries are dimensionless multipliers of the radius tables below.
_NEUTRAL_DIMS: Dict[str, float] = dict(
    stature=REFERENCE_STATURE,
    ankle_height=0.08, shin=0.41, thigh=0.40, hip_to_pelvis=0.08,
    pelvis_to_spine1=0.12, spine1_to_spine2=0.13, spine2_to_spine3=0.08, spine3_to_neck=0.19,
    neck_to_head=0.07, head_to_top=0.14, shoulder_below_neck=0.05,
    hip_x=0.09, collar_x=0.075, collar_to_shoulder=0.105, upper_arm=0.26, forearm=0.25,
    wrist_to_hand=0.09, hand_to_tip=0.09,
    heel_back=0.08, ankle_to_ball=0.12, ball_to_toe=0.075,
    pelvis_z=-0.005, hip_z=-0.01, knee_z=0.0, ankle_z=-0.02, neck_z=-0.01, head_z=0.018,
    shoulder_z=-0.01,
    torso_girth=1.0, torso_depth=1.0, hip_width=1.0, waist_width=1.0, chest_width=1.0,
    belly=0.0, arm_girth=1.0, leg_girth=1.0, head_size=1.0,
)

# Per-beta changes of the dims (additive). Names document the intended meaning.
STANDIN_SHAPE_DIRECTIONS: Tuple[str, ...] = (
    'stature', 'weight', 'leg_to_trunk', 'shoulder_width', 'arm_length', 'hip_width',
    'chest_to_waist', 'head_size', 'torso_depth_to_width', 'limb_to_torso_girth')
# Each is chosen to overlap little with the others (e.g. longer legs come with a shorter trunk,
# wider shoulders with shorter upper arms), so that orthogonalisation keeps their meaning.
_SHAPE_DELTAS: Tuple[Dict[str, float], ...] = (
    dict(stature=0.036 * REFERENCE_STATURE),
    dict(torso_girth=0.12, arm_girth=0.12, leg_girth=0.12, belly=0.015),
    dict(shin=0.012, thigh=0.012, pelvis_to_spine1=-0.006, spine1_to_spine2=-0.006,
         spine2_to_spine3=-0.004, spine3_to_neck=-0.006),
    dict(collar_x=0.005, collar_to_shoulder=0.008, upper_arm=-0.013),
    dict(upper_arm=0.009, forearm=0.008, wrist_to_hand=0.003, hand_to_tip=0.003),
    dict(hip_x=0.006, hip_width=0.06),
    dict(chest_width=0.06, waist_width=-0.06),
    dict(head_size=0.05),
    dict(torso_depth=0.08, hip_width=-0.03, waist_width=-0.03, chest_width=-0.03, belly=0.006),
    dict(arm_girth=0.08, leg_girth=0.08, torso_girth=-0.04),
)

_GENDER_DIMS: Dict[str, Dict[str, float]] = dict(
    neutral={},
    male=dict(stature=1.76, collar_x=0.08, collar_to_shoulder=0.115, chest_width=1.05,
              hip_width=0.96, hip_x=0.088, waist_width=1.02, torso_depth=1.02, arm_girth=1.06,
              head_size=1.01),
    female=dict(stature=1.63, collar_x=0.071, collar_to_shoulder=0.093, chest_width=0.93,
                hip_width=1.08, hip_x=0.094, waist_width=0.90, torso_depth=0.98, arm_girth=0.90,
                leg_girth=1.02, head_size=0.99),
)

# SMPL joint indices.
(PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3, L_FOOT, R_FOOT,
 NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST,
 L_HAND, R_HAND) = range(NUM_JOINTS)
_LEFT_RIGHT = ((L_HIP, R_HIP), (L_KNEE, R_KNEE), (L_ANKLE, R_ANKLE), (L_FOOT, R_FOOT),
               (L_COLLAR, R_COLLAR), (L_SHOULDER, R_SHOULDER), (L_ELBOW, R_ELBOW),
               (L_WRIST, R_WRIST), (L_HAND, R_HAND))
_LEFT_JOINTS = frozenset(pair[0] for pair in _LEFT_RIGHT)
_RIGHT_JOINTS = frozenset(pair[1] for pair in _LEFT_RIGHT)
_MIRROR_JOINT = np.arange(NUM_JOINTS)
for _l, _r in _LEFT_RIGHT:
    _MIRROR_JOINT[_l], _MIRROR_JOINT[_r] = _r, _l

# smplx reads these SMPL landmarks from fixed vertex indices (smplx.vertex_ids['smplh']).
SMPL_LANDMARK_VERTICES: Dict[str, int] = {
    'nose': 332, 'reye': 6260, 'leye': 2800, 'rear': 4071, 'lear': 583,
    'rthumb': 6191, 'rindex': 5782, 'rmiddle': 5905, 'rring': 6016, 'rpinky': 6133,
    'lthumb': 2746, 'lindex': 2319, 'lmiddle': 2445, 'lring': 2556, 'lpinky': 2673,
    'LBigToe': 3216, 'LSmallToe': 3226, 'LHeel': 3387,
    'RBigToe': 6617, 'RSmallToe': 6624, 'RHeel': 6787,
}
_RIGHT_LANDMARK_OF = {'reye': 'leye', 'rear': 'lear', 'rthumb': 'lthumb', 'rindex': 'lindex',
                      'rmiddle': 'lmiddle', 'rring': 'lring', 'rpinky': 'lpinky',
                      'RBigToe': 'LBigToe', 'RSmallToe': 'LSmallToe', 'RHeel': 'LHeel'}

_X, _Y, _Z = np.eye(3)


# --------------------------------------------------------------------------------------
# Body parts as swept superelliptic tubes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Station:
    """A key cross-section of a tube: ``t`` along the axis, half-extents ``a`` (along e1) and
    ``b`` (along e2), centre offsets ``o1``/``o2``; ``tag`` names the ring for regressors."""

    t: float
    a: float
    b: float
    o1: float = 0.
    o2: float = 0.
    tag: Optional[str] = None


@dataclass(frozen=True)
class _Bump:
    """A raised-cosine displacement along e1 (e.g. the nose): centre and half-widths in ``t``
    and in ring angle (rad, 0 = +e1), and amplitude (m)."""

    t: float
    half_t: float
    theta: float
    half_theta: float
    amplitude: float


@dataclass(frozen=True)
class _PartSpec:
    """One closed tube. ``e1 x e2 = axis`` so that the faces built below point outwards."""

    name: str
    origin: Tuple[float, float, float]
    axis: Tuple[float, float, float]
    e1: Tuple[float, float, float]
    e2: Tuple[float, float, float]
    stations: Tuple[_Station, ...]
    cap_start: float
    cap_end: float
    exponent: float
    skin_joints: Tuple[int, ...]
    bumps: Tuple[_Bump, ...] = ()


# (ring size n, number of rings R) per part: n * R + 2 vertices each; they sum to 6890.
_PART_BUDGET: Dict[str, Tuple[int, int]] = {
    'torso': (48, 40), 'head': (34, 27),
    'left_thigh': (24, 23), 'left_shin': (20, 21), 'left_foot': (18, 14),
    'left_upper_arm': (18, 18), 'left_forearm': (16, 16), 'left_hand': (16, 13),
}
_PART_ORDER = ('torso', 'head', 'left_thigh', 'left_shin', 'left_foot', 'left_upper_arm',
               'left_forearm', 'left_hand', 'right_thigh', 'right_shin', 'right_foot',
               'right_upper_arm', 'right_forearm', 'right_hand')
# (parent part, child part) pairs joined by a hidden bridge: the body's part tree.
_BRIDGES = tuple([('torso', 'head')] + [
    pair for side in ('left', 'right') for pair in (
        ('torso', f'{side}_thigh'), (f'{side}_thigh', f'{side}_shin'),
        (f'{side}_shin', f'{side}_foot'), ('torso', f'{side}_upper_arm'),
        (f'{side}_upper_arm', f'{side}_forearm'), (f'{side}_forearm', f'{side}_hand'))])

# Rings (part, station tag) averaged by each SMPL joint; left-side names, mirrored for right.
_JOINT_RINGS: Dict[int, Tuple[Tuple[str, str], ...]] = {
    PELVIS: (('torso', 'pelvis'),),
    L_HIP: (('left_thigh', 'hip'),),
    SPINE1: (('torso', 'spine1'),),
    L_KNEE: (('left_thigh', 'knee'), ('left_shin', 'knee')),
    SPINE2: (('torso', 'spine2'),),
    L_ANKLE: (('left_shin', 'ankle'),),
    SPINE3: (('torso', 'spine3'),),
    L_FOOT: (('left_foot', 'ball'),),
    NECK: (('head', 'neck'),),
    L_COLLAR: (('left_upper_arm', 'collar'),),
    HEAD: (('head', 'head'),),
    L_SHOULDER: (('left_upper_arm', 'shoulder'),),
    L_ELBOW: (('left_upper_arm', 'elbow'), ('left_forearm', 'elbow')),
    L_WRIST: (('left_forearm', 'wrist'), ('left_hand', 'wrist')),
    L_HAND: (('left_hand', 'knuckles'),),
}

# Rings averaged by each joint of the H36M regressor, by the project's h36m_17 names.
_H36M_RINGS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    'pelvis_extra': (('left_thigh', 'hip'), ('right_thigh', 'hip')),
    'left_hip_extra': (('left_thigh', 'hip'),),
    'left_knee': (('left_thigh', 'knee'), ('left_shin', 'knee')),
    'left_ankle': (('left_shin', 'ankle'),),
    'right_hip_extra': (('right_thigh', 'hip'),),
    'right_knee': (('right_thigh', 'knee'), ('right_shin', 'knee')),
    'right_ankle': (('right_shin', 'ankle'),),
    'spine_extra': (('torso', 'spine1'), ('torso', 'spine2')),
    'neck_extra': (('torso', 'thorax'),),
    'head_extra': (('head', 'nose'),),
    'headtop': (('head', 'crown'),),
    'left_shoulder': (('left_upper_arm', 'shoulder'),),
    'left_elbow': (('left_upper_arm', 'elbow'), ('left_forearm', 'elbow')),
    'left_wrist': (('left_forearm', 'wrist'), ('left_hand', 'wrist')),
    'right_shoulder': (('right_upper_arm', 'shoulder'),),
    'right_elbow': (('right_upper_arm', 'elbow'), ('right_forearm', 'elbow')),
    'right_wrist': (('right_forearm', 'wrist'), ('right_hand', 'wrist')),
}


def _floor_joints(d: Dict[str, float]) -> Dict[str, np.ndarray]:
    """Left-side and central joints and end points in floor coordinates (before scaling)."""
    ankle_y = d['ankle_height']
    knee_y = ankle_y + d['shin']
    hip_y = knee_y + d['thigh']
    pelvis_y = hip_y + d['hip_to_pelvis']
    spine1_y = pelvis_y + d['pelvis_to_spine1']
    spine2_y = spine1_y + d['spine1_to_spine2']
    spine3_y = spine2_y + d['spine2_to_spine3']
    neck_y = spine3_y + d['spine3_to_neck']
    head_y = neck_y + d['neck_to_head']
    shoulder_y = neck_y - d['shoulder_below_neck']
    shoulder_x = d['collar_x'] + d['collar_to_shoulder']
    elbow_x = shoulder_x + d['upper_arm']
    wrist_x = elbow_x + d['forearm']
    hand_x = wrist_x + d['wrist_to_hand']
    ball_z = d['ankle_z'] + d['ankle_to_ball']
    hx, sz = d['hip_x'], d['shoulder_z']
    bulge = 0.5 * d['belly'] * np.asarray(_BELLY_PROFILE)
    return dict(
        pelvis=np.array([0., pelvis_y, d['pelvis_z'] + bulge[0]]),
        hip=np.array([hx, hip_y, d['hip_z']]),
        spine1=np.array([0., spine1_y, bulge[2]]),
        knee=np.array([hx, knee_y, d['knee_z']]),
        spine2=np.array([0., spine2_y, bulge[4]]),
        ankle=np.array([hx, ankle_y, d['ankle_z']]),
        spine3=np.array([0., spine3_y, 0.]),
        ball=np.array([hx, _FOOT_BALL_HALF_HEIGHT, ball_z]),
        neck=np.array([0., neck_y, d['neck_z']]),
        collar=np.array([d['collar_x'], shoulder_y, sz]),
        head=np.array([0., head_y, d['head_z']]),
        shoulder=np.array([shoulder_x, shoulder_y, sz]),
        elbow=np.array([elbow_x, shoulder_y, sz]),
        wrist=np.array([wrist_x, shoulder_y, sz]),
        knuckles=np.array([hand_x, shoulder_y, sz]),
        # Ends of the leaf bones (head, hands, feet) and landmark anchors.
        head_top=np.array([0., head_y + d['head_to_top'] * d['head_size'], d['head_z']]),
        finger_tip=np.array([hand_x + d['hand_to_tip'], shoulder_y, sz]),
        toe_tip=np.array([hx, _FOOT_BALL_HALF_HEIGHT, ball_z + d['ball_to_toe']]),
        heel=np.array([hx, 0., d['ankle_z'] - d['heel_back']]),
    )


_FOOT_BALL_HALF_HEIGHT = 0.026  # m: the foot tube's half height (and centre height) at the ball
# Share of the belly at the torso stations pelvis, mid-abdomen, spine1, lower chest, spine2.
_BELLY_PROFILE = (0.3, 0.8, 1.0, 0.8, 0.3)

# Joint -> key of _floor_joints, for the left side and the centre.
_JOINT_KEYS = {PELVIS: 'pelvis', L_HIP: 'hip', SPINE1: 'spine1', L_KNEE: 'knee',
               SPINE2: 'spine2', L_ANKLE: 'ankle', SPINE3: 'spine3', L_FOOT: 'ball',
               NECK: 'neck', L_COLLAR: 'collar', HEAD: 'head', L_SHOULDER: 'shoulder',
               L_ELBOW: 'elbow', L_WRIST: 'wrist', L_HAND: 'knuckles'}


def _part_specs(d: Dict[str, float]) -> Dict[str, _PartSpec]:
    """The left-side and central tubes in floor coordinates (before scaling)."""
    j = _floor_joints(d)
    S = _Station
    # Radius multipliers: torso depth / lower, waist, chest widths; neck; limbs; head.
    depth = d['torso_depth'] * d['torso_girth']
    lower = d['hip_width'] * d['torso_girth']
    waist = d['waist_width'] * d['torso_girth']
    chest = d['chest_width'] * d['torso_girth']
    neck = np.sqrt(d['torso_girth'])
    leg, arm, head = d['leg_girth'], d['arm_girth'], d['head_size']
    # A belly moves the front of the abdomen forward and leaves the back: half of it widens
    # the section, half shifts its centre (and the spine joints in it).
    bulge = 0.5 * d['belly'] * np.asarray(_BELLY_PROFILE)
    hip_y, pelvis_y = j['hip'][1], j['pelvis'][1]
    s1_y, s2_y, s3_y = j['spine1'][1], j['spine2'][1], j['spine3'][1]
    sh_y, sz = j['shoulder'][1], j['shoulder'][2]
    specs = {}

    # Torso: axis +y; e1 = +z (depth, a), e2 = +x (width, b). The top cap rounds the shoulders
    # into the neck; the bottom cap closes the crotch between the thighs.
    specs['torso'] = _PartSpec(
        'torso', (0., 0., 0.), tuple(_Y), tuple(_Z), tuple(_X), (
            S(hip_y - 0.09, 0.085 * depth, 0.130 * lower, -0.010),
            S(hip_y, 0.105 * depth, 0.170 * lower, -0.015),
            S(pelvis_y, 0.100 * depth + bulge[0], 0.165 * lower, j['pelvis'][2],
              tag='pelvis'),
            S(0.5 * (pelvis_y + s1_y), 0.095 * depth + bulge[1], 0.150 * waist, bulge[1]),
            S(s1_y, 0.092 * depth + bulge[2], 0.140 * waist, j['spine1'][2], tag='spine1'),
            S(0.5 * (s1_y + s2_y), 0.097 * depth + bulge[3], 0.145 * waist, bulge[3]),
            S(s2_y, 0.103 * depth + bulge[4], 0.155 * chest, j['spine2'][2], tag='spine2'),
            S(s3_y, 0.108 * depth, 0.165 * chest, tag='spine3'),
            S(0.5 * (s3_y + sh_y), 0.105 * depth, 0.175 * chest, -0.005),
            S(sh_y, 0.090 * depth, j['shoulder'][0] + 0.005 * chest, sz, tag='thorax'),
        ), cap_start=0.045, cap_end=0.06, exponent=2.4,
        skin_joints=(PELVIS, L_HIP, R_HIP, SPINE1, SPINE2, SPINE3, NECK, L_COLLAR, R_COLLAR,
                     L_SHOULDER, R_SHOULDER))

    # Neck and head: axis +y, e1 = +z, e2 = +x; the face is at +z with a nose bump.
    head_y, hz, nz = j['head'][1], d['head_z'], d['neck_z']
    specs['head'] = _PartSpec(
        'head', (0., 0., 0.), tuple(_Y), tuple(_Z), tuple(_X), (
            S(sh_y - 0.03, 0.055 * neck, 0.052 * neck, nz - 0.005),
            S(sh_y, 0.058 * neck, 0.054 * neck, nz - 0.005),
            S(j['neck'][1], 0.060 * neck, 0.055 * neck, nz, tag='neck'),
            S(head_y - 0.045 * head, 0.078 * head, 0.062 * head, hz - 0.013),
            S(head_y - 0.02 * head, 0.092 * head, 0.068 * head, hz - 0.003),
            S(head_y, 0.097 * head, 0.071 * head, hz, tag='head'),
            S(head_y + 0.03 * head, 0.101 * head, 0.076 * head, hz - 0.002, tag='nose'),
            S(head_y + 0.065 * head, 0.103 * head, 0.079 * head, hz - 0.006, tag='brow'),
            S(head_y + 0.095 * head, 0.098 * head, 0.077 * head, hz - 0.010, tag='crown'),
        ), cap_start=0.03, cap_end=(d['head_to_top'] - 0.095) * head, exponent=2.0,
        skin_joints=(SPINE3, NECK, HEAD),
        bumps=(_Bump(head_y + 0.033 * head, 0.022 * head, 0., 0.55, 0.020 * head),))

    # Thigh and shin: axis -y; e1 = +x, e2 = +z. Calf bulge behind (-z).
    hip, knee, ankle = j['hip'], j['knee'], j['ankle']
    thigh, shin = d['thigh'], d['shin']
    specs['left_thigh'] = _PartSpec(
        'left_thigh', tuple(hip * (1., 1., 0.)), tuple(-_Y), tuple(_X), tuple(_Z), (
            S(-0.085, 0.075 * leg, 0.080 * leg, 0., hip[2]),
            S(0., 0.085 * leg, 0.090 * leg, 0., hip[2], tag='hip'),
            S(0.225 * thigh, 0.080 * leg, 0.085 * leg, 0., -0.005),
            S(0.5 * thigh, 0.070 * leg, 0.073 * leg),
            S(0.775 * thigh, 0.058 * leg, 0.061 * leg),
            S(thigh, 0.050 * leg, 0.052 * leg, 0., knee[2], tag='knee'),
            S(thigh + 0.03, 0.048 * leg, 0.050 * leg, 0., knee[2]),
        ), cap_start=0.035, cap_end=0.03, exponent=2.0, skin_joints=(PELVIS, L_HIP, L_KNEE))
    specs['left_shin'] = _PartSpec(
        'left_shin', tuple(knee * (1., 1., 0.)), tuple(-_Y), tuple(_X), tuple(_Z), (
            S(-0.035, 0.048 * leg, 0.050 * leg, 0., knee[2]),
            S(0., 0.050 * leg, 0.052 * leg, 0., knee[2], tag='knee'),
            S(0.22 * shin, 0.049 * leg, 0.056 * leg, 0., knee[2] - 0.012),
            S(0.46 * shin, 0.043 * leg, 0.050 * leg, 0., -0.010),
            S(0.73 * shin, 0.034 * leg, 0.037 * leg, 0., 0.5 * ankle[2]),
            S(shin, 0.033 * leg, 0.036 * leg, 0., ankle[2], tag='ankle'),
        ), cap_start=0.03, cap_end=ankle[1] - _SHIN_BOTTOM_HEIGHT, exponent=2.0,
        skin_joints=(L_HIP, L_KNEE, L_ANKLE))

    # Foot: axis +z; e1 = +x (width, a), e2 = +y (height, b); flat sole on the floor (o2 = b).
    az, ball_z = ankle[2], j['ball'][2]
    fb = _FOOT_BALL_HALF_HEIGHT
    specs['left_foot'] = _PartSpec(
        'left_foot', (hip[0], 0., 0.), tuple(_Z), tuple(_X), tuple(_Y), (
            S(j['heel'][2] + 0.03, 0.033, 0.035, 0., 0.035),
            S(az, 0.038, 0.045, 0., 0.045),
            S(az + 0.05, 0.042, 0.038, 0., 0.038),
            S(ball_z, 0.047, fb, 0., fb, tag='ball'),
            S(ball_z + 0.04, 0.045, 0.019, 0., 0.019),
        ), cap_start=0.03, cap_end=d['ball_to_toe'] - 0.04, exponent=2.6,
        skin_joints=(L_KNEE, L_ANKLE, L_FOOT))

    # Arm: axis +x at shoulder height; e1 = +y (a), e2 = +z (b); palm down.
    cx, shx, ex, wx, kx = (j[k][0] for k in ('collar', 'shoulder', 'elbow', 'wrist', 'knuckles'))
    ua, fa, w2h, h2t = d['upper_arm'], d['forearm'], d['wrist_to_hand'], d['hand_to_tip']
    arm_origin = (0., sh_y, sz)
    specs['left_upper_arm'] = _PartSpec(
        'left_upper_arm', arm_origin, tuple(_X), tuple(_Y), tuple(_Z), (
            S(cx, 0.048 * arm, 0.050 * arm, tag='collar'),
            S(shx, 0.052 * arm, 0.052 * arm, tag='shoulder'),
            S(shx + 0.3 * ua, 0.047 * arm, 0.045 * arm),
            S(shx + 0.65 * ua, 0.042 * arm, 0.040 * arm),
            S(ex, 0.037 * arm, 0.038 * arm, tag='elbow'),
            S(ex + 0.025, 0.036 * arm, 0.037 * arm),
        ), cap_start=0.03, cap_end=0.025, exponent=2.0,
        skin_joints=(SPINE3, L_COLLAR, L_SHOULDER, L_ELBOW))
    specs['left_forearm'] = _PartSpec(
        'left_forearm', arm_origin, tuple(_X), tuple(_Y), tuple(_Z), (
            S(ex - 0.025, 0.036 * arm, 0.037 * arm),
            S(ex, 0.038 * arm, 0.039 * arm, tag='elbow'),
            S(ex + 0.24 * fa, 0.039 * arm, 0.042 * arm),
            S(ex + 0.56 * fa, 0.032 * arm, 0.036 * arm),
            S(wx, 0.022 * arm, 0.030 * arm, tag='wrist'),
            S(wx + 0.02, 0.021 * arm, 0.029 * arm),
        ), cap_start=0.025, cap_end=0.02, exponent=2.1,
        skin_joints=(L_SHOULDER, L_ELBOW, L_WRIST))
    specs['left_hand'] = _PartSpec(
        'left_hand', arm_origin, tuple(_X), tuple(_Y), tuple(_Z), (
            S(wx - 0.01, 0.021, 0.029),
            S(wx, 0.021, 0.030, tag='wrist'),
            S(wx + 0.5 * w2h, 0.018, 0.043),
            S(kx, 0.014, 0.044, tag='knuckles'),
            S(kx + 0.5 * h2t, 0.011, 0.039),
            S(kx + 0.78 * h2t, 0.009, 0.034),
        ), cap_start=0.015, cap_end=0.22 * h2t, exponent=3.0,
        skin_joints=(L_ELBOW, L_WRIST, L_HAND))
    return specs


_SHIN_BOTTOM_HEIGHT = 0.035  # m above the floor: where the shin tube's cap ends, inside the foot


def _hermite_slopes(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Slopes for C1 cubic Hermite interpolation: 3-point estimates inside, zero at the ends
    (the ends meet elliptic caps, which start with zero slope). ``y`` is ``(K, C)``."""
    slopes = np.zeros_like(y)
    if len(t) > 2:
        h0, h1 = (t[1:-1] - t[:-2])[:, None], (t[2:] - t[1:-1])[:, None]
        d0, d1 = (y[1:-1] - y[:-2]) / h0, (y[2:] - y[1:-1]) / h1
        slopes[1:-1] = (d0 * h1 + d1 * h0) / (h0 + h1)
    return slopes


@dataclass(frozen=True)
class _PartLayout:
    """Where a tube's rings are: stations' ring indices and rings per segment/cap."""

    ring_size: int
    cap_rings: int
    extra_rings: Tuple[int, ...]  # interpolated rings in each segment between stations

    @property
    def num_rings(self) -> int:
        return len(self.extra_rings) + 1 + 2 * self.cap_rings + sum(self.extra_rings)

    @property
    def num_vertices(self) -> int:
        return self.ring_size * self.num_rings + 2


def _allocate_rings(spec: _PartSpec, ring_size: int, num_rings: int,
                    cap_rings: int) -> _PartLayout:
    """Spread the interpolated rings over the segments in proportion to their lengths."""
    t = np.array([s.t for s in spec.stations])
    lengths = np.diff(t)
    free = num_rings - len(t) - 2 * cap_rings
    if free < 0:
        raise ValueError(f'part {spec.name}: {num_rings} rings cannot hold {len(t)} stations '
                         f'and two caps of {cap_rings} rings')
    share = free * lengths / lengths.sum()
    extra = np.floor(share).astype(int)
    # Largest remainders first; ties broken by segment order, so the result is deterministic.
    for k in np.argsort(-(share - extra), kind='stable')[:free - extra.sum()]:
        extra[k] += 1
    return _PartLayout(ring_size, cap_rings, tuple(int(e) for e in extra))


@dataclass
class _Tube:
    """A built tube: vertices (model frame), faces (local indices), the local vertex indices of
    each tagged ring, and what :func:`_inside_tube` needs: the spec, the rings' axis positions
    and ``(a, b, o1, o2)`` (poles included, with zero extents), and the map from the spec's
    floor frame to the model frame ``model = mirror * scale * (floor - shift)``."""

    vertices: np.ndarray
    faces: np.ndarray
    tagged: Dict[str, np.ndarray]
    spec: _PartSpec
    ring_t: np.ndarray
    ring_vals: np.ndarray
    scale: float = 1.
    shift: np.ndarray = field(default_factory=lambda: np.zeros(3))
    mirror: np.ndarray = field(default_factory=lambda: np.ones(3))


def _build_tube(spec: _PartSpec, layout: _PartLayout) -> _Tube:
    """Vertices and faces of one tube: start pole, rings along the axis, end pole."""
    st = spec.stations
    t = np.array([s.t for s in st])
    vals = np.array([[s.a, s.b, s.o1, s.o2] for s in st])
    slopes = _hermite_slopes(t, vals)
    ring_t: List[float] = []
    ring_vals: List[np.ndarray] = []
    ring_tag: Dict[str, int] = {}
    m = layout.cap_rings
    phis = np.arange(1, m + 1) * (0.5 * np.pi / (m + 1))
    # Start cap (from the pole towards the first station): an elliptic quarter profile.
    for phi in phis[::-1]:
        ring_t.append(t[0] - spec.cap_start * np.sin(phi))
        ring_vals.append(vals[0] * (np.cos(phi), np.cos(phi), 1., 1.))
    for k in range(len(t)):
        tag = st[k].tag
        if tag is not None:
            ring_tag[tag] = len(ring_t)
        ring_t.append(t[k])
        ring_vals.append(vals[k])
        if k == len(t) - 1:
            break
        h = t[k + 1] - t[k]
        for lam in np.arange(1, layout.extra_rings[k] + 1) / (layout.extra_rings[k] + 1):
            h00, h10 = 2 * lam**3 - 3 * lam**2 + 1, lam**3 - 2 * lam**2 + lam
            h01, h11 = -2 * lam**3 + 3 * lam**2, lam**3 - lam**2
            ring_t.append(t[k] + lam * h)
            ring_vals.append(h00 * vals[k] + h10 * h * slopes[k] + h01 * vals[k + 1]
                             + h11 * h * slopes[k + 1])
    for phi in phis:
        ring_t.append(t[-1] + spec.cap_end * np.sin(phi))
        ring_vals.append(vals[-1] * (np.cos(phi), np.cos(phi), 1., 1.))
    rt, rv = np.array(ring_t), np.array(ring_vals)
    n = layout.ring_size
    theta = 2 * np.pi * np.arange(n) / n
    # Superellipse; evenly spaced angles including 0 make every ring symmetric about both of
    # its axes, so its vertex mean is exactly its centre.
    p = 2. / spec.exponent
    cu = np.sign(np.cos(theta)) * np.abs(np.cos(theta))**p
    su = np.sign(np.sin(theta)) * np.abs(np.sin(theta))**p
    origin, axis, e1, e2 = (np.asarray(v, dtype=np.float64)
                            for v in (spec.origin, spec.axis, spec.e1, spec.e2))
    centres = origin + rt[:, None] * axis + rv[:, 2:3] * e1 + rv[:, 3:4] * e2  # (R, 3)
    u1 = rv[:, 0:1] * cu[None]  # (R, n) along e1
    u2 = rv[:, 1:2] * su[None]
    for bump in spec.bumps:
        wt = np.clip(np.abs(rt - bump.t) / bump.half_t, 0., 1.)
        dth = np.abs(np.angle(np.exp(1j * (theta - bump.theta))))
        wa = np.clip(dth / bump.half_theta, 0., 1.)
        u1 = u1 + bump.amplitude * np.outer(0.5 + 0.5 * np.cos(np.pi * wt),
                                            0.5 + 0.5 * np.cos(np.pi * wa))
    rings = centres[:, None] + u1[..., None] * e1 + u2[..., None] * e2  # (R, n, 3)
    start = origin + (t[0] - spec.cap_start) * axis + vals[0, 2] * e1 + vals[0, 3] * e2
    end = origin + (t[-1] + spec.cap_end) * axis + vals[-1, 2] * e1 + vals[-1, 3] * e2
    vertices = np.concatenate([start[None], rings.reshape(-1, 3), end[None]])

    num_rings = len(rt)
    if num_rings != layout.num_rings:
        raise RuntimeError(f'part {spec.name}: built {num_rings} rings, expected '
                           f'{layout.num_rings}')
    idx = 1 + np.arange(num_rings * n).reshape(num_rings, n)
    nxt = np.roll(idx, -1, axis=1)
    # Rings advance along the axis and angles turn counter-clockwise about it (e1 x e2 = axis),
    # so these windings face outwards.
    side = np.concatenate([
        np.stack([idx[:-1], nxt[:-1], idx[1:]], -1).reshape(-1, 3),
        np.stack([nxt[:-1], nxt[1:], idx[1:]], -1).reshape(-1, 3)])
    first_pole, last_pole = 0, 1 + num_rings * n
    cap0 = np.stack([np.full(n, first_pole), nxt[0], idx[0]], -1)
    cap1 = np.stack([idx[-1], nxt[-1], np.full(n, last_pole)], -1)
    faces = np.concatenate([cap0, side, cap1])
    tagged = {tag: idx[r] for tag, r in ring_tag.items()}
    pole_t = np.array([t[0] - spec.cap_start, t[-1] + spec.cap_end])
    pole_vals = np.array([[0., 0., *vals[0, 2:]], [0., 0., *vals[-1, 2:]]])
    return _Tube(vertices, faces, tagged, spec, np.concatenate([pole_t[:1], rt, pole_t[1:]]),
                 np.concatenate([pole_vals[:1], rv, pole_vals[1:]]))


def _mirror_spec_name(name: str) -> str:
    return 'right' + name[len('left'):]


def _build_parts(dims: Dict[str, float],
                 layouts: Dict[str, _PartLayout]) -> Dict[str, _Tube]:
    """All 14 tubes in the model frame (scaled, pelvis at PELVIS_Y), right = mirrored left."""
    specs = _part_specs(dims)
    scale = dims['stature'] / REFERENCE_STATURE
    shift = np.array([0., _floor_joints(dims)['pelvis'][1] - PELVIS_Y, 0.])
    mirror = np.array([-1., 1., 1.])
    tubes = {}
    for name, spec in specs.items():
        tube = _build_tube(spec, layouts[name])
        tube = replace(tube, vertices=scale * (tube.vertices - shift), scale=scale, shift=shift)
        tubes[name] = tube
        if name.startswith('left'):
            tubes[_mirror_spec_name(name)] = replace(
                tube, vertices=tube.vertices * mirror, faces=tube.faces[:, ::-1].copy(),
                mirror=mirror)
    return tubes


def _model_joints(dims: Dict[str, float]) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """The 24 designed rest joints ``(24, 3)`` and the left leaf-bone end points (model frame)."""
    fj = _floor_joints(dims)
    scale = dims['stature'] / REFERENCE_STATURE
    shift = np.array([0., fj['pelvis'][1] - PELVIS_Y, 0.])
    to_model = {k: scale * (v - shift) for k, v in fj.items()}
    joints = np.zeros((NUM_JOINTS, 3))
    for joint, key in _JOINT_KEYS.items():
        joints[joint] = to_model[key]
    for left, right in _LEFT_RIGHT:
        joints[right] = joints[left] * (-1., 1., 1.)
    return joints, to_model


# --------------------------------------------------------------------------------------
# Topology shared by every variant: ring layout, bridges, landmark vertex order
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Topology:
    layouts: Dict[str, _PartLayout]
    offsets: Dict[str, int]  # first natural vertex index of each part
    faces: np.ndarray  # (13776, 3) in the final vertex order
    order: np.ndarray  # final vertex k is natural vertex order[k]
    rank: np.ndarray  # natural vertex i is final vertex rank[i]
    part_of_vertex: np.ndarray  # (6890,) index into _PART_ORDER, final order
    skin_joints: Tuple[Tuple[int, ...], ...]  # per part in _PART_ORDER
    tagged: Dict[str, Dict[str, np.ndarray]]  # part -> station tag -> local ring indices


def _inside_tube(points: np.ndarray, tube: _Tube, margin: float = INSIDE_MARGIN) -> np.ndarray:
    """Whether ``points (P, 3)`` (model frame) lie inside ``tube``'s swept superellipse shrunk
    by ``margin`` (so also inside its faceted mesh, whose chords cut slightly inwards)."""
    spec = tube.spec
    q = (points * tube.mirror) / tube.scale + tube.shift
    axis, e1, e2 = (np.asarray(v) for v in (spec.axis, spec.e1, spec.e2))
    rel = q - np.asarray(spec.origin)
    t = rel @ axis
    a, b, o1, o2 = (np.interp(t, tube.ring_t, tube.ring_vals[:, c]) for c in range(4))
    with np.errstate(divide='ignore', invalid='ignore'):
        r = (np.abs(rel @ e1 - o1) / a)**spec.exponent + (np.abs(rel @ e2 - o2) / b)**spec.exponent
    return (t > tube.ring_t[0]) & (t < tube.ring_t[-1]) & (r < margin**spec.exponent)


def _inside_faces(tube: _Tube, other: _Tube) -> np.ndarray:
    """Indices of ``tube``'s faces whose three vertices lie inside ``other``."""
    inside = _inside_tube(tube.vertices, other)
    return np.flatnonzero(inside[tube.faces].all(axis=1))


def _bridge_faces(a_face: np.ndarray, b_face: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """The 6 triangles of a prism joining the holes left by removing the outward faces
    ``a_face`` and ``b_face`` (global indices). The holes are matched in opposite directions
    so that every edge keeps one face on each side with opposite windings."""
    best = None
    for shift in range(3):
        d, e, f = np.roll(b_face, shift)
        match = {a_face[0]: d, a_face[1]: f, a_face[2]: e}
        cost = sum(np.linalg.norm(verts[x] - verts[y]) for x, y in match.items())
        if best is None or cost < best[0] - 1e-12:
            best = (cost, match)
    assert best is not None  # the loop tries at least one matching
    match = best[1]
    tris = []
    for x, y in zip(a_face, np.roll(a_face, -1)):
        tris += [(x, y, match[y]), (x, match[y], match[x])]
    return np.array(tris, dtype=np.int64)


def _landmark_vertices(tubes: Dict[str, _Tube], offsets: Dict[str, int],
                       dims: Dict[str, float]) -> Dict[str, int]:
    """Natural vertex index of each smplx landmark on the canonical body."""
    _, pts = _model_joints(dims)
    scale = dims['stature'] / REFERENCE_STATURE

    taken: List[int] = []

    def nearest(part: str, target: np.ndarray) -> int:
        """The part's vertex nearest ``target`` that no other landmark has taken."""
        dist = np.linalg.norm(tubes[part].vertices - target, axis=1)
        for natural in taken:
            if 0 <= natural - offsets[part] < len(dist):
                dist[natural - offsets[part]] = np.inf
        taken.append(offsets[part] + int(np.argmin(dist)))
        return taken[-1]

    head_v = tubes['head'].vertices
    head_y = pts['head'][1]
    s = scale * dims['head_size']
    # Targets just outside the surface; the nearest free surface vertex is the landmark.
    eye = np.array([0.033 * s, head_y + 0.062 * s, pts['head'][2] + 0.11 * s])
    ear = np.array([0.2 * s, head_y + 0.045 * s, pts['head'][2] - 0.01 * s])
    wrist, tip, toe, heel = pts['wrist'], pts['finger_tip'], pts['toe_tip'], pts['heel']
    up, fwd, lat = scale * _Y, scale * _Z, scale * _X
    taken.append(offsets['head'] + int(np.argmax(head_v[:, 2])))
    left = {
        'nose': taken[-1],
        'leye': nearest('head', eye),
        'lear': nearest('head', ear),
        'lthumb': nearest('left_hand', wrist + 0.05 * lat + 0.10 * fwd + 0.01 * up),
        'lindex': nearest('left_hand', tip - 0.012 * lat + 0.025 * fwd),
        'lmiddle': nearest('left_hand', tip - 0.008 * lat + 0.008 * fwd),
        'lring': nearest('left_hand', tip - 0.010 * lat - 0.010 * fwd),
        'lpinky': nearest('left_hand', tip - 0.018 * lat - 0.028 * fwd),
        'LBigToe': nearest('left_foot', toe - 0.03 * lat + 0.03 * fwd),
        'LSmallToe': nearest('left_foot', toe + 0.05 * lat - 0.01 * fwd),
        'LHeel': nearest('left_foot', heel - 0.03 * fwd - 0.01 * up),
    }
    out = dict(left)
    mirror = np.array([-1., 1., 1.])
    for right_name, left_name in _RIGHT_LANDMARK_OF.items():
        natural = left[left_name]
        part = next(p for p in _PART_ORDER
                    if offsets[p] <= natural < offsets[p] + len(tubes[p].vertices))
        if part == 'head':
            target = tubes['head'].vertices[natural - offsets['head']] * mirror
            out[right_name] = nearest('head', target)
        else:
            out[right_name] = natural - offsets[part] + offsets[_mirror_spec_name(part)]
    if len(set(out.values())) != len(out):
        raise RuntimeError('stand-in landmarks collide on one vertex')
    return out


@lru_cache(maxsize=1)
def _topology() -> _Topology:
    """Ring layout, joined faces and vertex order, fixed by the canonical neutral body."""
    dims = dict(_NEUTRAL_DIMS)
    specs = _part_specs(dims)
    layouts = {}
    for name, spec in specs.items():
        n, r = _PART_BUDGET[name]
        caps = CAP_RINGS_LARGE if name in ('torso', 'head') else CAP_RINGS_SMALL
        layouts[name] = _allocate_rings(spec, n, r, caps)
        if name.startswith('left'):
            layouts[_mirror_spec_name(name)] = layouts[name]
    tubes = _build_parts(dims, layouts)
    offsets, start = {}, 0
    for name in _PART_ORDER:
        offsets[name] = start
        start += len(tubes[name].vertices)
    if start != NUM_VERTICES:
        raise RuntimeError(f'stand-in parts hold {start} vertices, expected {NUM_VERTICES}')
    verts = np.concatenate([tubes[p].vertices for p in _PART_ORDER])

    keep = {p: np.ones(len(tubes[p].faces), dtype=bool) for p in _PART_ORDER}
    bridges = []
    for parent, child in _BRIDGES:
        pt, ct = tubes[parent], tubes[child]
        cand_c = [f for f in _inside_faces(ct, pt) if keep[child][f]]
        cand_p = [f for f in _inside_faces(pt, ct) if keep[parent][f]]
        if not cand_c or not cand_p:
            raise RuntimeError(f'stand-in parts {parent} and {child} do not overlap enough to '
                               'be joined')
        cc = ct.vertices[ct.faces[cand_c]].mean(1)
        pc = pt.vertices[pt.faces[cand_p]].mean(1)
        dist = np.linalg.norm(cc[:, None] - pc[None], axis=-1)
        i, k = np.unravel_index(np.argmin(dist), dist.shape)
        fc, fp = cand_c[i], cand_p[k]
        keep[child][fc] = keep[parent][fp] = False
        bridges.append(_bridge_faces(ct.faces[fc] + offsets[child],
                                     pt.faces[fp] + offsets[parent], verts))
    faces = np.concatenate([tubes[p].faces[keep[p]] + offsets[p] for p in _PART_ORDER]
                           + bridges)
    if len(faces) != NUM_FACES:
        raise RuntimeError(f'stand-in mesh has {len(faces)} faces, expected {NUM_FACES}')

    # Put smplx's landmark vertices at SMPL's indices by swapping vertices.
    order = np.arange(NUM_VERTICES)
    rank = np.arange(NUM_VERTICES)
    landmarks = _landmark_vertices(tubes, offsets, dims)
    for name, natural in landmarks.items():
        target = SMPL_LANDMARK_VERTICES[name]
        here = rank[natural]
        displaced = order[target]
        order[target], order[here] = natural, displaced
        rank[natural], rank[displaced] = target, here
    part_natural = np.concatenate([np.full(len(tubes[p].vertices), i)
                                   for i, p in enumerate(_PART_ORDER)])
    skin = []
    for p in _PART_ORDER:
        base = p if not p.startswith('right') else 'left' + p[len('right'):]
        joints = specs[base].skin_joints
        skin.append(tuple(int(_MIRROR_JOINT[j]) for j in joints) if p.startswith('right')
                    else joints)
    topo = _Topology(layouts, offsets, rank[faces], order, rank, part_natural[order],
                     tuple(skin), {p: tubes[p].tagged for p in _PART_ORDER})
    for arr in (topo.faces, topo.order, topo.rank, topo.part_of_vertex):
        arr.flags.writeable = False
    return topo


def _ring_indices(topo: _Topology, rings: Sequence[Tuple[str, str]]) -> np.ndarray:
    """Final vertex indices of the given (part, station tag) rings."""
    return np.concatenate([topo.rank[topo.tagged[part][tag] + topo.offsets[part]]
                           for part, tag in rings])


# --------------------------------------------------------------------------------------
# Model arrays
# --------------------------------------------------------------------------------------
def _dims_for(gender: str, seed: int) -> Dict[str, float]:
    if gender not in STANDIN_GENDERS:
        raise ValueError(f"Unknown stand-in gender '{gender}'; expected one of "
                         f'{STANDIN_GENDERS}.')
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}.')
    dims = dict(_NEUTRAL_DIMS)
    dims.update(_GENDER_DIMS[gender])
    if seed:
        betas = SEED_SHAPE_STD * np.random.default_rng(int(seed)).standard_normal(NUM_BETAS)
        dims = _shifted(dims, betas)
    return dims


def _shifted(dims: Dict[str, float], betas: np.ndarray) -> Dict[str, float]:
    """``dims`` moved by ``betas`` along the designed shape directions."""
    out = dict(dims)
    for beta, delta in zip(betas, _SHAPE_DELTAS):
        for key, step in delta.items():
            out[key] += float(beta) * step
    return out


def _vertices(dims: Dict[str, float], topo: _Topology) -> np.ndarray:
    tubes = _build_parts(dims, topo.layouts)
    return np.concatenate([tubes[p].vertices for p in _PART_ORDER])[topo.order]


def _joint_regressor(topo: _Topology) -> np.ndarray:
    """``(24, 6890)``: each joint the plain mean of its rings' vertices."""
    reg = np.zeros((NUM_JOINTS, NUM_VERTICES))
    for joint in range(NUM_JOINTS):
        left = int(_MIRROR_JOINT[joint]) if joint not in _JOINT_RINGS else joint
        rings = _JOINT_RINGS[left]
        if left != joint:
            rings = tuple((_mirror_spec_name(p), tag) for p, tag in rings)
        idx = _ring_indices(topo, rings)
        reg[joint, idx] = 1. / len(idx)
    return reg


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(np.einsum('pi,i->p', points - a, ab) / max(float(ab @ ab), 1e-12), 0., 1.)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _skinning_weights(verts: np.ndarray, joints: np.ndarray, ends: Dict[str, np.ndarray],
                      topo: _Topology, falloff: float, midline: float) -> np.ndarray:
    """``(6890, 24)`` weights from the distance to each joint's bones (segments to its
    children; leaf joints end at the head top, finger tip or toe tip)."""
    mirror = np.array([-1., 1., 1.])
    children: Dict[int, List[np.ndarray]] = {j: [] for j in range(NUM_JOINTS)}
    for child, parent in enumerate(SMPL_PARENTS):
        if parent >= 0:
            children[parent].append(joints[child])
    children[HEAD].append(ends['head_top'])
    children[L_HAND].append(ends['finger_tip'])
    children[R_HAND].append(ends['finger_tip'] * mirror)
    children[L_FOOT].append(ends['toe_tip'])
    children[R_FOOT].append(ends['toe_tip'] * mirror)
    weights = np.zeros((NUM_VERTICES, NUM_JOINTS))
    for part_idx, candidates in enumerate(topo.skin_joints):
        sel = np.flatnonzero(topo.part_of_vertex == part_idx)
        pts = verts[sel]
        dist = np.stack([
            np.min([_segment_distance(pts, joints[j], c) for c in children[j]], axis=0)
            for j in candidates], axis=1)
        w = np.exp(-(dist - dist.min(axis=1, keepdims=True)) / falloff)
        lefts = [k for k, j in enumerate(candidates) if j in _LEFT_JOINTS]
        rights = [k for k, j in enumerate(candidates) if j in _RIGHT_JOINTS]
        if lefts and rights:
            side = np.clip(0.5 + pts[:, 0] / (2 * midline), 0., 1.)[:, None]
            w[:, lefts] *= side
            w[:, rights] *= 1. - side
        w[w < MIN_SKIN_WEIGHT * w.max(axis=1, keepdims=True)] = 0.
        weights[np.ix_(sel, np.asarray(candidates))] = w / w.sum(axis=1, keepdims=True)
    return weights


def _orthogonalise(designed: np.ndarray) -> np.ndarray:
    """Gram-Schmidt on the ``(V, 3, K)`` shape directions in order, each rescaled to its
    designed vertex-space norm: direction 0 stays a pure scaling and each later one keeps
    only what the earlier ones do not already do (as SMPL's PCA directions are orthogonal)."""
    # One contiguous row per direction; einsum rather than BLAS, whose threads can stall for
    # milliseconds per product on a busy machine.
    rows = np.ascontiguousarray(designed.reshape(-1, designed.shape[-1]).T)
    out = np.empty_like(rows)

    def dot(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.einsum('i,i->', a, b))

    for k, row in enumerate(rows):
        vec = row.copy()
        for prev in out[:k]:
            vec -= dot(prev, vec) / dot(prev, prev) * prev
        out[k] = vec * np.sqrt(dot(row, row) / dot(vec, vec))
    return np.ascontiguousarray(out.T).reshape(designed.shape)


def make_standin_smpl(seed: int = 0, gender: str = 'neutral') -> Dict[str, object]:
    """Build the licence-free stand-in body model as SMPL-format arrays.

    Args:
        seed (int): 0 for the documented body; another non-negative integer for a different
            individual of the same family. The output is a pure function of the arguments.
        gender (str): ``'neutral'``, ``'male'`` or ``'female'`` (same topology).

    Returns:
        dict: The keys of an SMPL ``.pkl`` as plain numpy arrays (float64 unless noted):
        ``v_template (6890, 3)`` m; ``shapedirs (6890, 3, 10)`` m per unit beta;
        ``posedirs (6890, 3, 207)`` float32 zeros; ``J_regressor (24, 6890)`` dense, rows >= 0
        summing to 1; ``J (24, 3)`` the rest joints (= ``J_regressor @ v_template``);
        ``weights (6890, 24)`` rows summing to 1; ``kintree_table (2, 24)`` uint32 with the
        root's parent 2**32 - 1; ``f (13776, 3)`` uint32 outward faces; ``bs_style='lbs'``,
        ``bs_type='lrotmin'``; ``description`` says it is a stand-in.

    Raises:
        ValueError: unknown gender or invalid seed.
    """
    dims = _dims_for(gender, seed)
    topo = _topology()
    v_template = _vertices(dims, topo)
    joints, ends = _model_joints(dims)
    # Central differences are exact for the generator's (at most quadratic) dependence on a
    # single direction, and keep each ring's vertex mean at its centre, so joints follow.
    designed = np.empty((NUM_VERTICES, 3, NUM_BETAS))
    for k in range(NUM_BETAS):
        unit = np.eye(NUM_BETAS)[k]
        designed[..., k] = 0.5 * (_vertices(_shifted(dims, unit), topo)
                                  - _vertices(_shifted(dims, -unit), topo))
    shapedirs = _orthogonalise(designed)
    scale = dims['stature'] / REFERENCE_STATURE
    kintree = np.stack([np.array(SMPL_PARENTS, dtype=np.int64), np.arange(NUM_JOINTS)])
    kintree[0, 0] = ROOT_PARENT_IN_FILE
    return {
        'v_template': v_template,
        'shapedirs': shapedirs,
        # All zero; float32 halves the files (smplx computes in float32 anyway).
        'posedirs': np.zeros((NUM_VERTICES, 3, NUM_POSE_BASIS), dtype=np.float32),
        'J_regressor': _joint_regressor(topo),
        'J': joints,
        'weights': _skinning_weights(v_template, joints, ends, topo, SKIN_FALLOFF * scale,
                                     MIDLINE_BLEND * scale),
        'kintree_table': kintree.astype(np.uint32),
        'f': topo.faces.astype(np.uint32),
        'bs_style': 'lbs',
        'bs_type': 'lrotmin',
        'description': STANDIN_DESCRIPTION,
    }


def make_standin_h36m_regressor(model: Dict[str, object]) -> np.ndarray:
    """The H36M 17-joint regressor of the stand-in, in the project's ``h36m_17`` order.

    Each joint is the mean of rings of the stand-in's surface: pelvis = midpoint of the hip
    rings, spine = between spine1 and spine2, thorax = torso at shoulder height, head = nose
    level, head top = crown; the rest as the SMPL joints of the same name.

    Args:
        model (dict): A stand-in model from :func:`make_standin_smpl` (any seed or gender; only
            its topology is used, which is checked).

    Returns:
        np.ndarray: ``(17, 6890)`` float64, entries >= 0, rows summing to 1.

    Raises:
        ValueError: ``model`` does not have the stand-in's faces (e.g. a real SMPL model,
            which needs SPIN's ``J_regressor_h36m.npy`` instead).
    """
    topo = _topology()
    faces = np.asarray(model.get('f', np.empty((0, 3))) if isinstance(model, dict) else [])
    if faces.shape != topo.faces.shape or not np.array_equal(faces, topo.faces):
        raise ValueError('make_standin_h36m_regressor needs a stand-in model from '
                         'make_standin_smpl (its faces differ); for real SMPL models use '
                         "SPIN's J_regressor_h36m.npy.")
    reg = np.zeros((len(H36M_17_KEYPOINTS), NUM_VERTICES))
    for row, name in enumerate(H36M_17_KEYPOINTS):
        if name not in _H36M_RINGS:
            raise KeyError(f"stand-in has no H36M joint named '{name}'")
        idx = _ring_indices(topo, _H36M_RINGS[name])
        reg[row, idx] = 1. / len(idx)
    return reg


def _atomic_write(path: str, data: bytes) -> bool:
    """Write ``data`` unless the file already holds exactly it; True if written."""
    if osp.isfile(path):
        with open(path, 'rb') as f:
            if f.read() == data:
                return False
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)
    return True


@contextlib.contextmanager
def temporary_standin_dir(seed: int = 0) -> Iterator[str]:
    """A temporary folder holding the stand-in body model files, removed on exit.

    For building a model whose config names body-model files this machine may lack
    (benchmarks): the stand-in has SMPL's topology, so the model is the same but for the
    body's shape.

    Args:
        seed (int): See :func:`make_standin_smpl`.

    Yields:
        str: The folder, as ``SMPL(model_path=...)`` takes it.
    """
    with tempfile.TemporaryDirectory(prefix='mroi_standin_') as out_dir:
        write_standin_smpl(out_dir, seed=seed)
        yield out_dir


def write_standin_smpl(out_dir: PathLike, seed: int = 0,
                       log: Optional[Callable[[str], None]] = None) -> Dict[str, str]:
    """Write the stand-in ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` and ``J_regressor_h36m.npy``.

    Files that already hold exactly the new content are left untouched, so running it twice
    is a no-op.

    Args:
        out_dir (str | PathLike): Directory (created if missing), conventionally
            ``data/body_models/standin``.
        seed (int): See :func:`make_standin_smpl`.
        log (callable, optional): Called with one line per file saying whether it was
            written or already up to date (e.g. ``print``).

    Returns:
        dict[str, str]: ``'neutral'``, ``'male'``, ``'female'``, ``'h36m_regressor'`` -> path.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    contents = []
    neutral: Optional[Dict[str, object]] = None
    for gender in STANDIN_GENDERS:
        model = make_standin_smpl(seed=seed, gender=gender)
        neutral = model if gender == 'neutral' else neutral
        contents.append((gender, STANDIN_FILE_NAMES[gender],
                         pickle.dumps(model, protocol=PICKLE_PROTOCOL)))
    assert neutral is not None  # STANDIN_GENDERS includes 'neutral'
    contents.append(('h36m_regressor', STANDIN_H36M_REGRESSOR_NAME,
                     _npy_bytes(make_standin_h36m_regressor(neutral))))
    paths = {}
    for key, name, data in contents:
        path = osp.join(out_dir, name)
        written = _atomic_write(path, data)
        if log is not None:
            log(f'{"wrote" if written else "up to date"}: {path} ({len(data) / 2**20:.1f} MiB)')
        paths[key] = path
    return paths


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()
