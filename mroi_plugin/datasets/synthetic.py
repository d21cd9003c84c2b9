"""Synthetic HMR dataset that needs no licensed file: rendered people with exact ground truth.

Every sample is one person posed and shaped with a body model in SMPL format (the licence-free
stand-in of :mod:`mroi_plugin.body_models.standin` by default, or real SMPL files), placed in
front of a random pinhole camera, z-buffer rendered with per-body-part clothing colours over a
random background, and written as a JPEG plus an MMHuman3D HumanData ``.npz`` per split that
:class:`~mroi_plugin.datasets.HumanDataDataset` reads unchanged.

Sampling (per person; the numbers are the module constants below):

* pose: one of several modes (standing, walking, reaching, crouching, free) with per-joint
  rotations inside human-like limits (knees and elbows bend one way, modest spine and neck);
* shape: betas ``N(0, 1)`` clipped to ``+-BETAS_CLIP``; gender neutral / male / female, the
  mesh comes from the gendered model (as 3DPW's ground truth) and the gender is in ``meta``;
* orientation: upright (small tilts, sometimes a lean) with any yaw;
* camera: focal length ``FOCAL_RANGE_IN_DIAGONALS`` x the image diagonal (500-1500 px at
  640x480), principal point jittered about the image centre;
* placement: pelvis depth ``DEPTH_RANGE`` metres (drawn uniformly in apparent size), anywhere
  in the image; with probability ``truncation_prob`` part of the body is outside the border.

Ground truth per sample (all float32; the stored values are exactly the ones rendered):

* ``smpl``: ``global_orient (3,)``, ``body_pose (23, 3)``, ``betas (10,)``, ``transl (3,)``
  such that the gendered body model with these parameters and ``transl`` gives the rendered
  camera-frame mesh (camera x right, y down, z forward, metres);
* ``smpl_root_joint (3,)``: the rest-pose root joint ``J0(betas)`` of the gendered model (body
  frame, metres; SMPL turns the body about it, so flip and rotation augmentation need it to
  move ``transl`` with the body);
* ``keypoints3d (190, 4)``: camera-frame joints in the ``human_data`` convention, taken by name
  first from the H36M regressor's 17 joints, then from SMPL's 24 joints (the priority of
  :class:`~mroi_plugin.body_models.SMPL`), confidence 1 where available;
* ``keypoints2d (190, 3)``: their projections with the stored intrinsics; confidence 0 for
  joints outside the image (pixel centres ``0 <= u <= W - 1``, ``0 <= v <= H - 1``);
* ``bbox_xywh (5,)``: the tight box of all projected vertices, **not clipped** to the image
  (like real datasets' full-body boxes), score 1;
* ``cam_param``: ``focal_length (2,)`` and ``principal_point (2,)`` px; ``image_size (2,)``
  ``[W, H]``; ``meta.gender``.

Reproducibility: sample ``i`` of a split is drawn from ``SeedSequence([seed, split, i])`` and
computed single-threaded, so the arrays and the JPEG bytes depend on ``seed`` only, not on
the number of worker processes.
"""
import multiprocessing
import os
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.logging import print_log

from mroi_plugin.body_models import SMPL
from mroi_plugin.geometry import (
    axis_angle_to_rotmat,
    backproject_pixel,
    estimate_focal_length,
    perspective_projection,
    rotmat_to_axis_angle,
)
from mroi_plugin.visualization.mesh_renderer import render_mesh

__all__ = [
    'DATA_VERSION', 'SPLITS', 'GENDERS', 'DEFAULT_BODY_MODEL_DIR', 'BODY_MODEL_FILES',
    'H36M_REGRESSOR_FILE',
    'SyntheticOptions', 'SyntheticSample', 'SyntheticBodyModels', 'load_synthetic_body_models',
    'sample_body_pose', 'sample_global_orient', 'sample_background', 'sample_person_colors',
    'render_synthetic_sample', 'sample_rng', 'prepare_body_model_dir',
    'generate_synthetic_dataset'
]

# Bump whenever the same options render different images or annotations, so that
# prepare_data re-renders a folder written by an older mroi instead of training on it.
# 2: front-of-torso print, distractor clutter and the max_yaw option.
# 3: smpl_root_joint (the rest-pose root joint J0(betas) of each person's gendered model).
DATA_VERSION = 3
SPLITS = ('train', 'val', 'test')
GENDERS = ('neutral', 'male', 'female')
DEFAULT_BODY_MODEL_DIR = osp.join('data', 'body_models', 'standin')
BODY_MODEL_FILES = ('SMPL_NEUTRAL.pkl', 'SMPL_MALE.pkl', 'SMPL_FEMALE.pkl')
H36M_REGRESSOR_FILE = 'J_regressor_h36m.npy'
DATASET_NAME = 'synthetic'
KEYPOINT_CONVENTION = 'human_data'
NUM_BETAS = 10
NUM_BODY_JOINTS = 23

# Smallest image side (pixels) accepted: smaller images cannot show a recognisable body.
MIN_IMAGE_SIDE = 16

# --- camera and placement -------------------------------------------------------------------
# Focal length as a multiple of the image diagonal (CLIFF's estimate): 500-1500 px at 640x480,
# i.e. horizontal fields of view of about 65 to 24 degrees.
FOCAL_RANGE_IN_DIAGONALS = (0.625, 1.875)
# Principal point offset from the image centre: normal with this std (fraction of W and H),
# clipped at PRINCIPAL_POINT_CLIP standard deviations.
PRINCIPAL_POINT_STD = 0.02
PRINCIPAL_POINT_CLIP = 2.0
# Pelvis depth, metres.
DEPTH_RANGE = (3.0, 10.0)
# Largest fraction of the image height an untruncated person may fill.
MAX_HEIGHT_FILL = 0.95
TRUNCATION_PROB = 0.15
# Fraction of the body box pushed past the image border when truncating.
TRUNCATION_FRACTION = (0.1, 0.4)

# --- body ---------------------------------------------------------------------------------
BETAS_CLIP = 2.0
# Upright: camera pitch / roll of the body (radians, normal std); with LEAN_PROB a larger lean.
TILT_STD = 0.08
LEAN_PROB = 0.1
LEAN_MAX = 0.5

# --- rendering ----------------------------------------------------------------------------
JPEG_QUALITY = 90
MAX_DEFAULT_WORKERS = 8
NUM_DISTRACTORS = (0, 2)
BLUR_PROB = 0.3
BLUR_SIGMA = (0.3, 1.0)
NOISE_STD_MAX = 4.0
_NOISE_TILE = 97  # prime, so the period does not line up with the stripes or the JPEG blocks
AMBIENT_RANGE = (0.25, 0.5)
DIFFUSE_RANGE = (0.5, 0.8)
# Direction towards the light (camera frame x, y, z): anywhere left-right, mostly from above
# (y < 0), always from the camera's side (z < 0) so the visible side is lit.
_LIGHT_DIRECTION_RANGE = ((-1.0, 1.0), (-1.0, 0.2), (-1.0, -0.3))
# Backgrounds: value noise (grid cells of the coarsest octave, octaves, amplitude ratio between
# octaves); random shapes (size as a fraction of the short image side, distractors drawn this
# much larger, shapes in a clutter background); two-tone horizon (probability, height range as
# a fraction of H); shading over a texture; stripe period (fraction of the long side).
_NOISE_GRID_CELLS = (2, 6)
_NOISE_OCTAVES = (2, 5)
_NOISE_PERSISTENCE = 0.5
_SHAPE_SIZE = (0.05, 0.4)
_DISTRACTOR_SCALE = 1.5
_CLUTTER_SHAPES = (5, 30)
_HORIZON_PROB = 0.4
_HORIZON_RANGE = (0.3, 0.8)
_TEXTURE_SHADING_PROB = 0.5
_TEXTURE_SHADING_AMPLITUDE = 60.0
_STRIPE_PERIOD = (0.03, 0.25)
_HARD_STRIPES_PROB = 0.5

# SMPL joint indices (smpl_24 order); body_pose row = joint index - 1.
_J = {name: i for i, name in enumerate((
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

# Body parts by the joint whose skinning weight dominates a vertex.
_PART_JOINTS = {
    'pants': ('pelvis', 'left_hip', 'right_hip'),
    'shins': ('left_knee', 'right_knee'),
    'shoes': ('left_ankle', 'right_ankle', 'left_foot', 'right_foot'),
    'shirt': ('spine_1', 'spine_2', 'spine_3', 'left_collar', 'right_collar'),
    'upper_arms': ('left_shoulder', 'right_shoulder'),
    'forearms': ('left_elbow', 'right_elbow'),
    'skin': ('neck', 'head', 'left_wrist', 'right_wrist', 'left_hand', 'right_hand'),
}
# Hair: head vertices above the head joint or behind it (rest pose, metres) - gives the head a
# front and a back.
_HAIR_ABOVE = 0.06
_HAIR_BEHIND = 0.0
_BALD_PROB = 0.1
# Torso front: vertices of the shirt's trunk joints in front of their joint (rest pose, metres)
# carry a print in a contrasting lightness, so the front of the body differs from its back
# as on real clothes (zips, prints, lapels). Without such a cue a small network cannot tell
# a person facing the camera from one facing away, and its 3D losses then average the two
# into contorted articulations.
_FRONT_MARGIN = 0.0
_FRONT_JOINTS = ('spine_1', 'spine_2', 'spine_3')
_FRONT_PRINT_PROB = 0.9
# The print is the shirt colour pulled this far towards black (light shirts) or white (dark).
_FRONT_PRINT_CONTRAST = 0.65
_LONG_SLEEVE_PROB = 0.5
_SLEEVELESS_PROB = 0.15
_SHORTS_PROB = 0.25
# Per-part brightness jitter so neighbouring parts stay distinguishable.
_PART_JITTER = 0.08
# Clothing colours: (saturation range, value range) in [0, 1]; skin and hair jitter.
_SHIRT_SAT_VAL = ((0.1, 0.9), (0.2, 0.95))
_PANTS_SAT_VAL = ((0.0, 0.7), (0.1, 0.7))
_SHOES_SAT_VAL = ((0.0, 0.4), (0.05, 0.5))
_SKIN_JITTER = 0.1
_HAIR_JITTER = 0.2
# Skin tones (BGR), from light to dark.
_SKIN_TONES = ((189, 214, 245), (160, 195, 234), (125, 170, 220), (95, 140, 195),
               (70, 105, 160), (50, 75, 115))
_HAIR_COLORS = ((20, 20, 25), (30, 45, 70), (40, 70, 120), (90, 150, 200), (160, 160, 165))


@dataclass(frozen=True)
class SyntheticOptions:
    """Sampling options shared by all samples of a dataset.

    Args:
        image_size (Tuple[int, int]): ``(W, H)`` pixels.
        focal_range (Tuple[float, float], optional): Focal length range, pixels. Defaults to
            ``FOCAL_RANGE_IN_DIAGONALS`` times the image diagonal.
        depth_range (Tuple[float, float]): Pelvis depth range, metres.
        truncation_prob (float): Probability that the body box crosses the image border.
        jpeg_quality (int): JPEG quality of the written images.
        max_yaw (float): People turn by a yaw in ``[-max_yaw, max_yaw]`` radians about the
            vertical, 0 = facing the camera. Defaults to pi (any direction).
        clutter (bool): Textured, striped and cluttered backgrounds with distractor shapes;
            False keeps only the smooth gradient backgrounds, without distractors. Defaults
            to True.
    """

    image_size: Tuple[int, int] = (640, 480)
    focal_range: Optional[Tuple[float, float]] = None
    depth_range: Tuple[float, float] = DEPTH_RANGE
    truncation_prob: float = TRUNCATION_PROB
    jpeg_quality: int = JPEG_QUALITY
    max_yaw: float = np.pi
    clutter: bool = True

    def __post_init__(self) -> None:
        width, height = (int(v) for v in self.image_size)
        if min(width, height) < MIN_IMAGE_SIDE:
            raise ValueError(f'SyntheticOptions: image_size must be (W, H) with both sides >= '
                             f'{MIN_IMAGE_SIDE} pixels, got {self.image_size}.')
        object.__setattr__(self, 'image_size', (width, height))
        if self.focal_range is None:
            diagonal = float(estimate_focal_length(width, height))
            object.__setattr__(self, 'focal_range',
                               tuple(diagonal * k for k in FOCAL_RANGE_IN_DIAGONALS))
        low, high = self.focal_range
        if not 0 < low <= high:
            raise ValueError(f'SyntheticOptions: focal_range must be 0 < low <= high pixels, got '
                             f'{self.focal_range}.')
        low, high = self.depth_range
        if not 0 < low <= high:
            raise ValueError(f'SyntheticOptions: depth_range must be 0 < low <= high metres, '
                             f'got {self.depth_range}.')
        if not 0.0 <= self.truncation_prob <= 1.0:
            raise ValueError('SyntheticOptions: truncation_prob must lie in [0, 1], got '
                             f'{self.truncation_prob}.')
        if not 0.0 <= self.max_yaw <= np.pi:
            raise ValueError(f'SyntheticOptions: max_yaw must lie in [0, pi] radians, got '
                             f'{self.max_yaw}.')
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ValueError(f'SyntheticOptions: jpeg_quality must lie in [1, 100], got '
                             f'{self.jpeg_quality}.')


@dataclass
class SyntheticBodyModels:
    """The gendered body models and the per-vertex data used to dress them.

    Attributes:
        models (Dict[str, SMPL]): ``{gender: SMPL}`` with ``human_data`` keypoints (H36M
            regressor first, then SMPL joints).
        faces (np.ndarray): ``(F, 3)`` int64.
        part_labels (Dict[str, np.ndarray]): ``{gender: (V,)}`` index of the dominant joint.
        hair (Dict[str, np.ndarray]): ``{gender: (V,)}`` bool, hair region of the head.
        front (Dict[str, np.ndarray]): ``{gender: (V,)}`` bool, front of the torso.
        keypoints_mask (np.ndarray): ``(190,)`` float32, 1 where a keypoint is produced.
    """

    models: Dict[str, SMPL]
    faces: np.ndarray
    part_labels: Dict[str, np.ndarray]
    hair: Dict[str, np.ndarray]
    front: Dict[str, np.ndarray]
    keypoints_mask: np.ndarray


@dataclass
class SyntheticSample:
    """One rendered sample.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR, before JPEG compression.
        mask (np.ndarray): ``(H, W)`` bool, pixels covered by the person.
        vertices (np.ndarray): ``(V, 3)`` float32 camera-frame mesh, metres.
        annotation (Dict[str, Any]): the per-sample HumanData entries (see the module
            docstring): ``bbox_xywh``, ``keypoints2d``, ``keypoints3d``, ``global_orient``,
            ``body_pose``, ``betas``, ``transl``, ``root_joint``, ``gender``,
            ``focal_length``, ``principal_point``, ``image_size``.
    """

    image: np.ndarray
    mask: np.ndarray
    vertices: np.ndarray
    annotation: Dict[str, Any]


def _check_body_model_dir(body_model_dir: str) -> None:
    missing = [name for name in BODY_MODEL_FILES + (H36M_REGRESSOR_FILE, )
               if not osp.isfile(osp.join(body_model_dir, name))]
    if missing:
        raise FileNotFoundError(
            f'Synthetic dataset: the body model directory {body_model_dir!r} lacks {missing}. '
            'It needs SMPL_{NEUTRAL,MALE,FEMALE}.pkl and J_regressor_h36m.npy: put real SMPL '
            'files there, or write the licence-free stand-in with tools/make_standin_smpl.py '
            '(mroi_plugin.body_models.standin.write_standin_smpl), or pass an empty or new '
            'directory to have it written automatically.')


def load_synthetic_body_models(body_model_dir: str) -> SyntheticBodyModels:
    """Load the three gendered models with the H36M regressor, and their dressing data.

    Args:
        body_model_dir (str): Directory with ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` and
            ``J_regressor_h36m.npy``.

    Returns:
        SyntheticBodyModels: the models (float32, eval mode) and per-vertex labels.
    """
    _check_body_model_dir(body_model_dir)
    regressor = {'h36m_17': osp.join(body_model_dir, H36M_REGRESSOR_FILE)}
    models, part_labels, hair, front = {}, {}, {}, {}
    head = _J['head']
    for gender in GENDERS:
        model = SMPL(body_model_dir, gender=gender, num_betas=NUM_BETAS,
                     keypoint_convention=KEYPOINT_CONVENTION,
                     extra_joint_regressors=regressor).eval()
        models[gender] = model
        weights = model.body_model.lbs_weights.detach().cpu().numpy()
        labels = weights.argmax(axis=1)
        rest = model.body_model.v_template.detach().cpu().numpy().astype(np.float64)
        rest_joints = model.body_model.J_regressor.detach().cpu().numpy() @ rest
        above = rest[:, 1] > rest_joints[head, 1] + _HAIR_ABOVE
        behind = rest[:, 2] < rest_joints[head, 2] - _HAIR_BEHIND
        part_labels[gender] = labels
        hair[gender] = (labels == head) & (above | behind)
        trunk = np.array([_J[name] for name in _FRONT_JOINTS])
        ahead = rest[:, 2] > rest_joints[labels, 2] + _FRONT_MARGIN
        front[gender] = np.isin(labels, trunk) & ahead
    first = models[GENDERS[0]]
    return SyntheticBodyModels(
        models=models, faces=np.asarray(first.faces, dtype=np.int64), part_labels=part_labels,
        hair=hair, front=front,
        keypoints_mask=first.keypoints_mask.cpu().numpy().astype(np.float32))


# --- samplers -----------------------------------------------------------------------------
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
        table[_J[name]] = value * _MIRROR if name.startswith('right_') else value
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


def _random_color(rng: np.random.Generator, sat: Tuple[float, float] = (0.0, 1.0),
                  val: Tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    """A random BGR colour (float64, 0-255) from any hue and saturation/value ranges."""
    # OpenCV's 8-bit HSV: hue in [0, 180), saturation and value in [0, 255].
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)


def _value_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """``(H, W)`` fractal value noise in [0, 1]: random grids upsampled, octaves summed."""
    total = np.zeros((height, width), np.float32)
    cells = int(rng.integers(*_NOISE_GRID_CELLS))
    weight, weight_sum = 1.0, 0.0
    for _ in range(int(rng.integers(*_NOISE_OCTAVES))):
        grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
        total += weight * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        weight_sum += weight
        weight *= _NOISE_PERSISTENCE
        cells *= 2
    total /= weight_sum
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)


def _two_color_map(field: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a ``(H, W)`` field in [0, 1] between two random colours -> float32 BGR."""
    c0, c1 = _random_color(rng), _random_color(rng)
    field = field.astype(np.float32)
    # Per channel then merged: much faster than broadcasting over a trailing axis of 3.
    return cv2.merge([field * np.float32(c1[k] - c0[k]) + np.float32(c0[k]) for k in range(3)])


def _draw_random_shape(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """Draw one random filled shape (rectangle, ellipse, polygon or thick line) in place."""
    height, width = canvas.shape[:2]
    color = tuple(float(c) for c in _random_color(rng))
    center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    size = max(2, int(scale * min(width, height) * rng.uniform(*_SHAPE_SIZE)))
    kind = int(rng.integers(4))
    if kind == 0:
        cv2.rectangle(canvas, (center[0] - size, center[1] - size // 2),
                      (center[0] + size, center[1] + size // 2), color, -1)
    elif kind == 1:
        cv2.ellipse(canvas, center, (size, max(1, int(size * rng.uniform(0.3, 1.0)))),
                    float(rng.uniform(0, 180)), 0, 360, color, -1)
    elif kind == 2:
        num = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, num))
        radii = size * rng.uniform(0.4, 1.0, num)
        points = np.stack([center[0] + radii * np.cos(angles),
                           center[1] + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], color)
    else:
        end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(canvas, center, end, color, max(1, size // 6))


def sample_background(rng: np.random.Generator, height: int, width: int,
                      clutter: bool = True) -> np.ndarray:
    """A random background: gradient, noise texture, stripes or shapes, plus distractors.

    Args:
        rng (np.random.Generator): Random generator.
        height (int): Image height, pixels.
        width (int): Image width, pixels.
        clutter (bool): False draws only smooth gradients and no distractors.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.
    """
    kind = int(rng.integers(4)) if clutter else 0
    if kind == 0:  # linear gradient, sometimes with a horizon (two-tone ground / sky)
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        field = np.cos(angle) * xs / width + np.sin(angle) * ys / height
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        canvas = _two_color_map(field, rng)
        if rng.uniform() < _HORIZON_PROB:
            horizon = int(rng.uniform(*_HORIZON_RANGE) * height)
            canvas[horizon:] = _two_color_map(field[horizon:], rng)
    elif kind == 1:  # noise texture
        canvas = _two_color_map(_value_noise(rng, height, width), rng)
        if rng.uniform() < _TEXTURE_SHADING_PROB:
            shading = _value_noise(rng, height, width)[..., None] - 0.5
            canvas += shading * _TEXTURE_SHADING_AMPLITUDE
    elif kind == 2:  # stripes
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(*_STRIPE_PERIOD) * max(height, width)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        phase = (np.cos(angle) * xs + np.sin(angle) * ys) * (2 * np.pi / period)
        field = 0.5 + 0.5 * np.sin(phase)
        if rng.uniform() < _HARD_STRIPES_PROB:
            field = (field > 0.5).astype(np.float32)
        canvas = _two_color_map(field, rng)
    else:  # clutter of random shapes over a flat or noisy base
        canvas = np.empty((height, width, 3), np.float32)
        canvas[:] = _random_color(rng)
        for _ in range(int(rng.integers(*_CLUTTER_SHAPES))):
            _draw_random_shape(canvas, rng, scale=1.0)
    num_distractors = 0
    if clutter:
        num_distractors = int(rng.integers(NUM_DISTRACTORS[0], NUM_DISTRACTORS[1] + 1))
    for _ in range(num_distractors):
        _draw_random_shape(canvas, rng, scale=_DISTRACTOR_SCALE)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def sample_person_colors(rng: np.random.Generator, part_labels: np.ndarray,
                         hair: np.ndarray, front: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-vertex clothing / skin colours from the body-part labels.

    Shirt (with long, short or no sleeves), trousers or shorts, shoes, skin and hair, each
    body part jittered in brightness so limbs stay distinguishable.

    Args:
        rng (np.random.Generator): Random generator.
        part_labels (np.ndarray): ``(V,)`` dominant joint per vertex (smpl_24 index).
        hair (np.ndarray): ``(V,)`` bool hair region.
        front (np.ndarray, optional): ``(V,)`` bool front of the torso; with probability
            ``_FRONT_PRINT_PROB`` it gets a print of contrasting lightness.

    Returns:
        np.ndarray: ``(V, 3)`` float64 BGR, 0-255.
    """
    skin = np.asarray(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], np.float64)
    skin = skin * rng.uniform(1.0 - _SKIN_JITTER, 1.0 + _SKIN_JITTER)
    shirt = _random_color(rng, *_SHIRT_SAT_VAL)
    pants = _random_color(rng, *_PANTS_SAT_VAL)
    shoes = _random_color(rng, *_SHOES_SAT_VAL)
    sleeve = rng.uniform()
    colors = {
        'shirt': shirt,
        'upper_arms': skin if sleeve < _SLEEVELESS_PROB else shirt,
        'forearms': shirt if sleeve > 1.0 - _LONG_SLEEVE_PROB else skin,
        'pants': pants,
        'shins': skin if rng.uniform() < _SHORTS_PROB else pants,
        'shoes': shoes,
        'skin': skin,
    }
    joint_colors = np.zeros((len(_J), 3))
    for part, joints in _PART_JOINTS.items():
        for joint in joints:
            joint_colors[_J[joint]] = colors[part] * rng.uniform(1 - _PART_JITTER,
                                                                 1 + _PART_JITTER)
    vertex_colors = joint_colors[part_labels]
    if rng.uniform() >= _BALD_PROB:
        hair_color = np.asarray(_HAIR_COLORS[rng.integers(len(_HAIR_COLORS))], np.float64)
        vertex_colors[hair] = hair_color * rng.uniform(1.0 - _HAIR_JITTER, 1.0 + _HAIR_JITTER)
    if front is not None and rng.uniform() < _FRONT_PRINT_PROB:
        towards = 0.0 if shirt.mean() > 127.5 else 255.0
        vertex_colors[front] = shirt + _FRONT_PRINT_CONTRAST * (towards - shirt)
    return np.clip(vertex_colors, 0, 255)


def _add_sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian pixel noise (std up to ``NOISE_STD_MAX``) from a randomly shifted tile.

    Drawing one normal per pixel dominates the sample time at 640x480; a periodic tile of
    ``_NOISE_TILE`` pixels is indistinguishable at these amplitudes.
    """
    height, width = image.shape[:2]
    std = rng.uniform(0.0, NOISE_STD_MAX)
    tile = rng.standard_normal((_NOISE_TILE, _NOISE_TILE, 3), dtype=np.float32) * std
    reps = (height // _NOISE_TILE + 2, width // _NOISE_TILE + 2, 1)
    dy, dx = (int(v) for v in rng.integers(0, _NOISE_TILE, size=2))
    noise = np.tile(tile, reps)[dy:dy + height, dx:dx + width]
    return cv2.add(image, noise, dtype=cv2.CV_8U)


def _place_person(rng: np.random.Generator, relative: np.ndarray, focal: float,
                  principal: np.ndarray, options: SyntheticOptions) -> np.ndarray:
    """Pelvis position ``(3,)`` in the camera frame for a body with vertices ``relative``
    (camera axes, pelvis at the origin)."""
    width, height = options.image_size
    z_near, z_far = options.depth_range
    extent_low, extent_high = relative[:, :2].min(axis=0), relative[:, :2].max(axis=0)
    body_height = float(extent_high[1] - extent_low[1])
    # Nearest depth at which the whole body still fits in the image height.
    z_fit = focal * body_height / (MAX_HEIGHT_FILL * height)
    z_low = min(max(z_near, z_fit), z_far)
    # Uniform in inverse depth = uniform in apparent size.
    depth = 1.0 / rng.uniform(1.0 / z_far, 1.0 / z_low)
    box_low = focal * extent_low / depth  # (2,) px offsets of the box from the pelvis
    box_high = focal * extent_high / depth
    limits = np.array([width - 1.0, height - 1.0])
    lo, hi = -box_low, limits - box_high
    pelvis_px = np.where(hi >= lo, lo + rng.uniform(size=2) * np.maximum(hi - lo, 0.0),
                         limits / 2)
    if rng.uniform() < options.truncation_prob:
        axis = int(rng.integers(2))
        size = box_high[axis] - box_low[axis]
        outside = rng.uniform(*TRUNCATION_FRACTION) * size
        if rng.uniform() < 0.5:  # past the left / top border
            pelvis_px[axis] = -box_low[axis] - outside
        else:  # past the right / bottom border
            pelvis_px[axis] = limits[axis] - box_high[axis] + outside
    return backproject_pixel(pelvis_px, depth, focal, principal)


def render_synthetic_sample(rng: np.random.Generator, body_models: SyntheticBodyModels,
                            options: SyntheticOptions) -> SyntheticSample:
    """Sample a person, camera and background and render them.

    Args:
        rng (np.random.Generator): Random generator (its state determines the sample).
        body_models (SyntheticBodyModels): From :func:`load_synthetic_body_models`.
        options (SyntheticOptions): Image size and sampling ranges.

    Returns:
        SyntheticSample: image, person mask, mesh and annotation.
    """
    width, height = options.image_size
    gender = GENDERS[rng.integers(len(GENDERS))]
    model = body_models.models[gender]
    betas = np.clip(rng.normal(size=NUM_BETAS), -BETAS_CLIP, BETAS_CLIP).astype(np.float32)
    body_pose = sample_body_pose(rng)[0].astype(np.float32)
    global_orient = sample_global_orient(rng, options.max_yaw).astype(np.float32)
    # Intrinsics are rounded to float32 first so the stored values are the ones used.
    focal = np.float32(rng.uniform(*options.focal_range))
    jitter = np.clip(rng.normal(0.0, PRINCIPAL_POINT_STD, size=2), -PRINCIPAL_POINT_CLIP *
                     PRINCIPAL_POINT_STD, PRINCIPAL_POINT_CLIP * PRINCIPAL_POINT_STD)
    principal = (np.array([width, height]) * (0.5 + jitter)).astype(np.float32)

    params = dict(betas=betas[None], body_pose=body_pose[None],
                  global_orient=global_orient[None])
    with torch.no_grad():
        # Posed at the origin first: the placement needs the body's extent about the pelvis.
        posed = model(**params)
        pelvis = posed['joints'][0, 0].numpy().astype(np.float64)
        relative = posed['vertices'][0].numpy().astype(np.float64) - pelvis
        target = _place_person(rng, relative, float(focal), principal.astype(np.float64),
                               options)
        transl = (target - pelvis).astype(np.float32)
        # The global rotation turns the body about the root joint, so at zero translation
        # joint 0 is J0(betas) itself.
        root_joint = pelvis.astype(np.float32)
        output = model(**params, transl=transl[None])
    vertices = output['vertices'][0].numpy()
    keypoints3d = output['keypoints'][0].numpy()  # (190, 3) float32, camera frame
    mask_kp = body_models.keypoints_mask

    focal_xy = np.array([focal, focal], dtype=np.float32)
    uv = perspective_projection(keypoints3d.astype(np.float64), np.zeros(3),
                                focal_xy.astype(np.float64), principal.astype(np.float64))
    inside = ((uv[:, 0] >= 0) & (uv[:, 0] <= width - 1) & (uv[:, 1] >= 0)
              & (uv[:, 1] <= height - 1))
    # Joints no source provides are zeros in every channel, as convert_keypoints leaves them.
    uv[mask_kp == 0] = 0.0
    keypoints2d = np.concatenate([uv, (mask_kp * inside)[:, None]], axis=1).astype(np.float32)
    keypoints3d = np.concatenate([keypoints3d, mask_kp[:, None]], axis=1).astype(np.float32)
    vertex_uv = perspective_projection(vertices.astype(np.float64), np.zeros(3),
                                       focal_xy.astype(np.float64), principal.astype(np.float64))
    low, high = vertex_uv.min(axis=0), vertex_uv.max(axis=0)
    bbox_xywh = np.array([low[0], low[1], high[0] - low[0], high[1] - low[1], 1.0], np.float32)

    image = sample_background(rng, height, width, options.clutter)
    colors = sample_person_colors(rng, body_models.part_labels[gender], body_models.hair[gender],
                                  body_models.front[gender])
    light = np.array([rng.uniform(low, high) for low, high in _LIGHT_DIRECTION_RANGE])
    image, mask = render_mesh(
        image, vertices, body_models.faces, float(focal), principal.astype(np.float64),
        color=colors, light_direction=light, ambient=rng.uniform(*AMBIENT_RANGE),
        diffuse=rng.uniform(*DIFFUSE_RANGE), cull_backfaces=True)
    if rng.uniform() < BLUR_PROB:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(*BLUR_SIGMA))
    image = _add_sensor_noise(image, rng)

    annotation = dict(
        bbox_xywh=bbox_xywh, keypoints2d=keypoints2d, keypoints3d=keypoints3d,
        global_orient=global_orient, body_pose=body_pose, betas=betas, transl=transl,
        root_joint=root_joint, gender=gender, focal_length=focal_xy, principal_point=principal,
        image_size=np.array([width, height], dtype=np.int32))
    return SyntheticSample(image=image, mask=mask, vertices=vertices, annotation=annotation)


# --- dataset writing ----------------------------------------------------------------------
def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of sample ``index`` of ``split`` in a dataset of ``seed``.

    ``render_synthetic_sample(sample_rng(seed, split, i), ...)`` re-creates exactly the sample
    :func:`generate_synthetic_dataset` wrote, whatever the number of workers.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))


def _image_name(split: str, index: int) -> str:
    return f'images/{split}/{index:05d}.jpg'


def _available_cpus() -> int:
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Tasks are handed to workers in chunks of at most _MAX_CHUNKSIZE samples, and at least
# _CHUNKS_PER_WORKER chunks per worker so that they finish together.
_MAX_CHUNKSIZE = 16
_CHUNKS_PER_WORKER = 4

# Per-process state of the generation workers (the body models are loaded once per process).
_WORKER: Dict[str, Any] = {}


def _init_worker(body_model_dir: str, options: SyntheticOptions, out_dir: str,
                 seed: int) -> None:
    # One thread per process: no oversubscription, and float results independent of the
    # number of workers.
    torch.set_num_threads(1)
    _WORKER.update(body_models=load_synthetic_body_models(body_model_dir), options=options,
                   out_dir=out_dir, seed=seed)


def _init_forked_worker() -> None:
    torch.set_num_threads(1)


def _make_sample(task: Tuple[str, int]) -> Dict[str, Any]:
    split, index = task
    sample = render_synthetic_sample(
        sample_rng(_WORKER['seed'], split, index), _WORKER['body_models'], _WORKER['options'])
    name = _image_name(split, index)
    ok, encoded = cv2.imencode('.jpg', sample.image,
                               [cv2.IMWRITE_JPEG_QUALITY, int(_WORKER['options'].jpeg_quality)])
    if not ok:
        raise RuntimeError(f'Synthetic dataset: JPEG encoding of {name} failed.')
    with open(osp.join(_WORKER['out_dir'], name), 'wb') as f:
        f.write(encoded.tobytes())
    return dict(sample.annotation, image_path=name)


def _humandata(annotations: List[Dict[str, Any]], keypoints_mask: np.ndarray) -> Dict[str, Any]:
    """Stack per-sample annotations into the HumanData dict written with ``np.savez``."""
    num = len(annotations)

    def stack(key: str, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        if not num:
            return np.zeros((0, ) + shape, dtype=dtype)
        return np.stack([a[key] for a in annotations]).astype(dtype).reshape((num, ) + shape)

    return {
        # Not strict: cam_param and image_size are mroi extensions MMHuman3D's strict key
        # check would reject.
        '__key_strict__': np.array(False),
        '__data_len__': np.array(num),
        '__keypoints_compressed__': np.array(False),
        'config': np.array(DATASET_NAME),
        'image_path': np.array([a['image_path'] for a in annotations], dtype=np.str_),
        'bbox_xywh': stack('bbox_xywh', (5, ), np.float32),
        'keypoints2d': stack('keypoints2d', (len(keypoints_mask), 3), np.float32),
        'keypoints2d_mask': keypoints_mask.astype(np.float32),
        'keypoints3d': stack('keypoints3d', (len(keypoints_mask), 4), np.float32),
        'keypoints3d_mask': keypoints_mask.astype(np.float32),
        'smpl': {
            'global_orient': stack('global_orient', (3, ), np.float32),
            'body_pose': stack('body_pose', (NUM_BODY_JOINTS, 3), np.float32),
            'betas': stack('betas', (NUM_BETAS, ), np.float32),
            'transl': stack('transl', (3, ), np.float32),
        },
        # Outside the smpl dict: not an SMPL parameter, so code that poses a body model with
        # the dict's entries as keywords keeps working.
        'smpl_root_joint': stack('root_joint', (3, ), np.float32),
        'meta': {'gender': np.array([a['gender'] for a in annotations], dtype='<U7')},
        'cam_param': {
            'focal_length': stack('focal_length', (2, ), np.float32),
            'principal_point': stack('principal_point', (2, ), np.float32),
        },
        'image_size': stack('image_size', (2, ), np.int32),
    }


def prepare_body_model_dir(body_model_dir: Optional[str] = None,
                           create: bool = True) -> str:
    """Return a body model directory, writing the licence-free stand-in if it is empty.

    Args:
        body_model_dir (str, optional): Directory with ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` and
            ``J_regressor_h36m.npy``. Defaults to :data:`DEFAULT_BODY_MODEL_DIR`.
        create (bool): Write the stand-in (seed 0) when *none* of the files exists. A
            directory with only some of them is an error either way.

    Returns:
        str: the directory.
    """
    body_model_dir = body_model_dir or DEFAULT_BODY_MODEL_DIR
    present = [name for name in BODY_MODEL_FILES + (H36M_REGRESSOR_FILE, )
               if osp.isfile(osp.join(body_model_dir, name))]
    if not present and create:
        from mroi_plugin.body_models.standin import write_standin_smpl
        print_log(f'Writing the licence-free stand-in body model to {body_model_dir}.',
                  logger='current')
        write_standin_smpl(body_model_dir, seed=0)
    _check_body_model_dir(body_model_dir)
    return body_model_dir


def generate_synthetic_dataset(out_dir: str,
                               num_train: int,
                               num_val: int,
                               num_test: int,
                               image_size: Tuple[int, int] = (640, 480),
                               seed: int = 0,
                               body_model_dir: Optional[str] = None,
                               workers: Optional[int] = None,
                               focal_range: Optional[Tuple[float, float]] = None,
                               depth_range: Tuple[float, float] = DEPTH_RANGE,
                               truncation_prob: float = TRUNCATION_PROB,
                               jpeg_quality: int = JPEG_QUALITY,
                               max_yaw: float = np.pi,
                               clutter: bool = True,
                               create_body_model: bool = True) -> Dict[str, str]:
    """Render a synthetic dataset: ``images/{split}/NNNNN.jpg`` and ``{split}.npz``.

    Args:
        out_dir (str): Output directory (created). Image paths in the ``.npz`` files are
            relative to it.
        num_train (int): Number of training samples.
        num_val (int): Number of validation samples.
        num_test (int): Number of test samples.
        image_size (Tuple[int, int]): ``(W, H)`` pixels. Defaults to ``(640, 480)``.
        seed (int): Seed of the whole dataset. Defaults to 0.
        body_model_dir (str, optional): Body model directory, see
            :func:`prepare_body_model_dir`. Defaults to :data:`DEFAULT_BODY_MODEL_DIR`.
        workers (int, optional): Worker processes; the results do not depend on it. Defaults
            to the CPUs available to this process, at most ``MAX_DEFAULT_WORKERS``.
        focal_range (Tuple[float, float], optional): Focal length range, px. Defaults to
            ``FOCAL_RANGE_IN_DIAGONALS`` x the image diagonal.
        depth_range (Tuple[float, float]): Pelvis depth range, metres. Defaults to
            ``DEPTH_RANGE``.
        truncation_prob (float): Probability of a person crossing the border.
        jpeg_quality (int): JPEG quality. Defaults to ``JPEG_QUALITY``.
        max_yaw (float): Largest turn away from the camera, radians. Defaults to pi.
        clutter (bool): Cluttered backgrounds and distractors. Defaults to True.
        create_body_model (bool): Write the stand-in body model if the directory is empty.

    Returns:
        Dict[str, str]: ``{split: path of its .npz}`` for the splits with samples.
    """
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    for split, count in counts.items():
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f'generate_synthetic_dataset: num_{split} must be a non-negative '
                             f'integer, got {count!r}.')
    if workers is None:
        workers = min(_available_cpus(), MAX_DEFAULT_WORKERS)
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f'generate_synthetic_dataset: workers must be >= 1, got {workers!r}.')
    options = SyntheticOptions(
        image_size=tuple(image_size), focal_range=None if focal_range is None else tuple(
            focal_range), depth_range=tuple(depth_range), truncation_prob=truncation_prob,
        jpeg_quality=jpeg_quality, max_yaw=float(max_yaw), clutter=bool(clutter))
    body_model_dir = prepare_body_model_dir(body_model_dir, create=create_body_model)
    tasks = [(split, i) for split in SPLITS for i in range(counts[split])]
    for split in SPLITS:
        if counts[split]:
            os.makedirs(osp.join(out_dir, 'images', split), exist_ok=True)

    init_args = (body_model_dir, options, out_dir, int(seed))
    num_workers = min(int(workers), max(len(tasks), 1))
    saved_state, saved_threads = dict(_WORKER), torch.get_num_threads()
    try:
        _init_worker(*init_args)
        keypoints_mask = _WORKER['body_models'].keypoints_mask
        if num_workers == 1:
            results = [_make_sample(task) for task in tasks]
        else:
            # Forked workers inherit the loaded models (copy-on-write); spawned ones load them.
            if 'fork' in multiprocessing.get_all_start_methods():
                context, initializer, initargs = multiprocessing.get_context('fork'), \
                    _init_forked_worker, ()
            else:
                context, initializer, initargs = multiprocessing.get_context('spawn'), \
                    _init_worker, init_args
            chunksize = max(1, min(_MAX_CHUNKSIZE, len(tasks) // (_CHUNKS_PER_WORKER *
                                                                  num_workers)))
            with context.Pool(num_workers, initializer=initializer, initargs=initargs) as pool:
                results = list(pool.imap(_make_sample, tasks, chunksize=chunksize))
    finally:
        torch.set_num_threads(saved_threads)
        _WORKER.clear()
        _WORKER.update(saved_state)

    paths = {}
    start = 0
    for split in SPLITS:
        annotations = results[start:start + counts[split]]
        start += counts[split]
        if not counts[split]:
            continue
        path = osp.join(out_dir, f'{split}.npz')
        np.savez_compressed(path, **_humandata(annotations, keypoints_mask))
        paths[split] = path
        print_log(f'Synthetic dataset: wrote {counts[split]} {split} samples to {path}.',
                  logger='current')
    return paths
