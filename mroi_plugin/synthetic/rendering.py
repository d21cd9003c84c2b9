"""One synthetic sample: a sampled person, camera and background, rendered.

The gendered body models (with the H36M joint regressor, so the keypoints come in the
``human_data`` convention) are loaded once; :func:`render_synthetic_sample` draws everything
else from the random generator it is given.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from mroi_plugin.body_models import SMPL
from mroi_plugin.geometry import estimate_focal_length, perspective_projection
from mroi_plugin.visualization.mesh_renderer import render_mesh

from .appearance import (
    body_part_regions,
    degrade_image,
    sample_background,
    sample_lighting,
    sample_person_colors,
)
from .placement import (
    DEPTH_RANGE,
    FOCAL_RANGE_IN_DIAGONALS,
    TRUNCATION_PROB,
    place_person,
    sample_intrinsics,
)
from .poses import BETAS_CLIP, sample_body_pose, sample_global_orient

__all__ = [
    'GENDERS', 'BODY_MODEL_FILES', 'H36M_REGRESSOR_FILE', 'NUM_BETAS', 'JPEG_QUALITY',
    'SyntheticOptions', 'SyntheticBodyModels', 'SyntheticSample', 'check_body_model_dir',
    'load_synthetic_body_models', 'render_synthetic_sample'
]

GENDERS = ('neutral', 'male', 'female')
BODY_MODEL_FILES = ('SMPL_NEUTRAL.pkl', 'SMPL_MALE.pkl', 'SMPL_FEMALE.pkl')
H36M_REGRESSOR_FILE = 'J_regressor_h36m.npy'
KEYPOINT_CONVENTION = 'human_data'
NUM_BETAS = 10
JPEG_QUALITY = 90

# Smallest image side (pixels) accepted: smaller images cannot show a recognisable body.
MIN_IMAGE_SIDE = 16


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
        focal_range = self.focal_range
        if focal_range is None:
            diagonal = float(estimate_focal_length(width, height))
            focal_range = (diagonal * FOCAL_RANGE_IN_DIAGONALS[0],
                           diagonal * FOCAL_RANGE_IN_DIAGONALS[1])
            object.__setattr__(self, 'focal_range', focal_range)
        low, high = focal_range
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


def check_body_model_dir(body_model_dir: str) -> None:
    """Raise if ``body_model_dir`` lacks one of the files the generator reads."""
    missing = [name for name in BODY_MODEL_FILES + (H36M_REGRESSOR_FILE, )
               if not osp.isfile(osp.join(body_model_dir, name))]
    if missing:
        raise FileNotFoundError(
            f'Synthetic dataset: the body model directory {body_model_dir!r} lacks {missing}. '
            'It needs SMPL_{NEUTRAL,MALE,FEMALE}.pkl and J_regressor_h36m.npy: put real SMPL '
            'files there, or write the licence-free stand-in with tools/make_standin_smpl.py '
            '(mroi_plugin.synthetic.write_standin_smpl), or pass an empty or new '
            'directory to have it written automatically.')


def load_synthetic_body_models(body_model_dir: str) -> SyntheticBodyModels:
    """Load the three gendered models with the H36M regressor, and their dressing data.

    Args:
        body_model_dir (str): Directory with ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` and
            ``J_regressor_h36m.npy``.

    Returns:
        SyntheticBodyModels: the models (float32, eval mode) and per-vertex labels.
    """
    check_body_model_dir(body_model_dir)
    regressor = {'h36m_17': osp.join(body_model_dir, H36M_REGRESSOR_FILE)}
    models, part_labels, hair, front = {}, {}, {}, {}
    for gender in GENDERS:
        model = SMPL(body_model_dir, gender=gender, num_betas=NUM_BETAS,
                     keypoint_convention=KEYPOINT_CONVENTION,
                     extra_joint_regressors=regressor).eval()
        models[gender] = model
        part_labels[gender], hair[gender], front[gender] = body_part_regions(
            *(tensor.detach().cpu().numpy() for tensor in (
                model.body_model.lbs_weights, model.body_model.v_template,
                model.body_model.J_regressor)))
    first = models[GENDERS[0]]
    return SyntheticBodyModels(
        models=models, faces=np.asarray(first.faces, dtype=np.int64), part_labels=part_labels,
        hair=hair, front=front,
        keypoints_mask=first.keypoints_mask.cpu().numpy().astype(np.float32))


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
    assert options.focal_range is not None  # SyntheticOptions fills it in
    focal, principal = sample_intrinsics(rng, options.image_size, options.focal_range)

    params = dict(betas=betas[None], body_pose=body_pose[None],
                  global_orient=global_orient[None])
    with torch.no_grad():
        # Posed at the origin first: the placement needs the body's extent about the pelvis.
        posed = model(**params)
        pelvis = posed['joints'][0, 0].numpy().astype(np.float64)
        relative = posed['vertices'][0].numpy().astype(np.float64) - pelvis
        target = place_person(rng, relative, float(focal), principal.astype(np.float64),
                              options.image_size, options.depth_range, options.truncation_prob)
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
    light, ambient, diffuse = sample_lighting(rng)
    image, mask = render_mesh(
        image, vertices, body_models.faces, float(focal), principal.astype(np.float64),
        color=colors, light_direction=light, ambient=ambient, diffuse=diffuse,
        cull_backfaces=True)
    image = degrade_image(image, rng)

    annotation = dict(
        bbox_xywh=bbox_xywh, keypoints2d=keypoints2d, keypoints3d=keypoints3d,
        global_orient=global_orient, body_pose=body_pose, betas=betas, transl=transl,
        root_joint=root_joint, gender=gender, focal_length=focal_xy, principal_point=principal,
        image_size=np.array([width, height], dtype=np.int32))
    return SyntheticSample(image=image, mask=mask, vertices=vertices, annotation=annotation)
