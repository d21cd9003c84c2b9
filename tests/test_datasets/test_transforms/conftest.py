"""A synthetic person seen by a full perspective camera, as HumanDataDataset emits it."""
from typing import Callable

import numpy as np
import pytest

from mroi_plugin.body_models.keypoint_conventions import get_flip_indices
from mroi_plugin.geometry import axis_angle_to_rotmat, perspective_projection

IMG_H, IMG_W = 480, 640
NUM_JOINTS = 24  # smpl_24, the flip transform's default convention
BOX_SCALE_FACTOR = 1.2  # as the datasets enlarge tight boxes
CROP_ASPECT = 256 / 192


def make_person(seed: int, dtype=np.float64) -> dict:
    """A ``results`` dict of docs/CONVENTIONS.md for a random person.

    Body-frame joints ``v`` (24, metres, joint 0 = pelvis at the origin) are
    rotated by the SMPL global orientation: ``keypoints3d = R_go v`` (relative
    to the root, camera axes) and the root sits at ``smpl_transl`` at 3-8 m.
    ``keypoints2d`` are their exact perspective projections with an
    off-centre principal point; the box surrounds them. The image is noise.
    """
    rng = np.random.default_rng(seed)
    focal = rng.uniform(500.0, 1000.0)
    principal_point = np.array([IMG_W / 2 + rng.uniform(-40, 40), IMG_H / 2 + rng.uniform(-30, 30)])
    depth = rng.uniform(3.0, 8.0)
    root_px = np.array([rng.uniform(250, 390), rng.uniform(180, 300)])
    transl = np.append((root_px - principal_point) * depth / focal, depth)

    body = np.stack([rng.uniform(-0.3, 0.3, NUM_JOINTS), rng.uniform(-0.8, 0.8, NUM_JOINTS),
                     rng.uniform(-0.15, 0.15, NUM_JOINTS)], axis=1)
    body[0] = 0.0
    global_orient = rng.normal(0.0, 0.4, 3)
    rel3d = body @ axis_angle_to_rotmat(global_orient).T
    keypoints2d = perspective_projection(rel3d, transl, np.float64(focal), principal_point)
    confidence = (rng.uniform(size=NUM_JOINTS) > 0.15).astype(np.float64)
    confidence[0] = 1.0
    lo, hi = keypoints2d.min(0), keypoints2d.max(0)
    width, height = hi - lo
    return dict(
        img=rng.integers(0, 256, (IMG_H, IMG_W, 3), dtype=np.uint8),
        img_path=f'synthetic_{seed}.jpg',
        img_shape=(IMG_H, IMG_W),
        ori_shape=(IMG_H, IMG_W),
        bbox_center=((lo + hi) / 2).astype(dtype),
        bbox_size=float(BOX_SCALE_FACTOR * max(height, width * CROP_ASPECT)),
        focal_length=float(focal),
        principal_point=principal_point.astype(dtype),
        keypoints2d=np.concatenate([keypoints2d, confidence[:, None]], 1).astype(dtype),
        keypoints3d=np.concatenate([rel3d, confidence[:, None]], 1).astype(dtype),
        smpl_global_orient=global_orient.astype(dtype),
        smpl_body_pose=rng.normal(0.0, 0.3, (23, 3)).astype(dtype),
        smpl_betas=rng.normal(0.0, 1.0, 10).astype(dtype),
        smpl_transl=transl.astype(dtype),
        has_keypoints2d=1.0, has_keypoints3d=1.0, has_smpl=1.0, has_transl=1.0,
        gender='neutral', sample_idx=seed, dataset_name='synthetic',
        body_joints=body,  # test-only: the body-frame skeleton behind keypoints3d
    )


@pytest.fixture
def person() -> Callable[..., dict]:
    """Factory ``person(seed, dtype=np.float64) -> results``."""
    return make_person


@pytest.fixture
def smpl_flip_indices() -> np.ndarray:
    return np.asarray(get_flip_indices('smpl_24'))
