"""Flip and rotation move smpl_transl with the body: the augmented SMPL body, posed with the
stand-in body model and projected with the augmented translation and camera, lands on the
augmented 2D keypoints of every RoI."""
import copy
import pickle

import numpy as np
import pytest
import torch

from mroi_plugin.body_models import SMPL
from mroi_plugin.datasets.transforms import MultiRoICrop, RandomFlipHMR
from mroi_plugin.datasets.transforms.augmentation import mirror_smpl_transl
from mroi_plugin.geometry import image_to_normalized_crop, perspective_projection
from mroi_plugin.synthetic.standin import make_standin_smpl

IMG_H, IMG_W = 240, 320
FOCAL = 400.0
PRINCIPAL = np.array([170.0, 112.0])
# The stand-in body is symmetric about its x = 0 plane, so its J0_x is 0; shifting the
# template moves the symmetry plane and J0 to x = 4 cm, where the flip's -2 J0_x term shows.
SHIFT_X = 0.04
# Normalised crop units (1 = half a RoI); the target of the task.
TOLERANCE = 1e-4


@pytest.fixture(scope='module')
def body_models(tmp_path_factory) -> dict:
    arrays = make_standin_smpl(seed=0, gender='neutral')
    shifted = dict(arrays, v_template=np.asarray(arrays['v_template']) + [SHIFT_X, 0.0, 0.0])
    models = {}
    for name, model in (('symmetric', arrays), ('shifted', shifted)):
        path = tmp_path_factory.mktemp(name) / 'SMPL_NEUTRAL.pkl'
        with open(path, 'wb') as f:
            pickle.dump(model, f, protocol=2)
        models[name] = SMPL(str(path), keypoint_convention='smpl_24').double()
    return models


def _pose(model: SMPL, results: dict, with_transl: bool = True) -> np.ndarray:
    """(24, 3) camera-frame SMPL joints of the sample's parameters."""
    with torch.no_grad():
        out = model(betas=torch.as_tensor(results['smpl_betas'])[None],
                    body_pose=torch.as_tensor(results['smpl_body_pose'])[None],
                    global_orient=torch.as_tensor(results['smpl_global_orient'])[None],
                    transl=torch.as_tensor(results['smpl_transl'])[None] if with_transl else None)
    return out['keypoints'][0].numpy()


def _rest_root_joint(model: SMPL, betas: np.ndarray) -> np.ndarray:
    """J0(betas): SMPL joint 0 of the shaped body in zero pose, no translation."""
    with torch.no_grad():
        out = model(betas=torch.as_tensor(betas)[None], body_pose=torch.zeros(1, 23, 3,
                                                                              dtype=torch.float64),
                    global_orient=torch.zeros(1, 3, dtype=torch.float64))
    return out['joints'][0, 0].numpy()


def _person(model: SMPL, seed: int) -> dict:
    """A posed stand-in person seen by a pinhole camera, as HumanDataDataset emits it."""
    rng = np.random.default_rng(seed)
    results = dict(
        smpl_betas=np.clip(rng.normal(size=10), -2, 2),
        smpl_body_pose=rng.normal(0.0, 0.2, (23, 3)),
        smpl_global_orient=np.array([np.pi, 0.0, 0.0]) + rng.normal(0.0, 0.3, 3),
        smpl_transl=np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.2, 0.4), 5.0]))
    joints = _pose(model, results)
    uv = perspective_projection(joints, np.zeros(3), np.float64(FOCAL), PRINCIPAL)
    lo, hi = uv.min(0), uv.max(0)
    results.update(
        img=np.zeros((IMG_H, IMG_W, 3), np.uint8), img_shape=(IMG_H, IMG_W),
        bbox_center=(lo + hi) / 2, bbox_size=1.2 * float(max(hi - lo)), focal_length=FOCAL,
        principal_point=PRINCIPAL.copy(),
        keypoints2d=np.concatenate([uv, np.ones((24, 1))], 1),
        keypoints3d=np.concatenate([joints, np.ones((24, 1))], 1),
        smpl_root_joint=_rest_root_joint(model, results['smpl_betas']))
    return results


def _augment(results: dict, flip: bool, rotation: float, scale: float = 1.0) -> dict:
    results = copy.deepcopy(results)
    if flip:
        results = RandomFlipHMR(prob=1.0).flip(results)
    results.update(rotation=rotation, scale=scale)
    return MultiRoICrop(num_rois=5)(results)


def _reprojection_error(model: SMPL, out: dict) -> float:
    """Largest distance, normalised crop units, between the re-posed body and the targets."""
    uv = perspective_projection(_pose(model, out), np.zeros(3), np.float64(FOCAL),
                                out['principal_point'])
    crop = image_to_normalized_crop(np.broadcast_to(uv, (5, 24, 2)), out['roi_centers'],
                                    out['roi_sizes'])
    return float(np.abs(crop - out['keypoints2d_crop'][..., :2]).max())


@pytest.fixture(scope='module')
def people(body_models) -> dict:
    """Two people per body model, each checked unaugmented (the targets are consistent)."""
    people = {}
    for name, model in body_models.items():
        people[name] = [_person(model, seed) for seed in range(2)]
        for person in people[name]:
            assert _reprojection_error(model, _augment(person, False, 0.0)) < TOLERANCE
    return people


@pytest.mark.parametrize('model_name', ['symmetric', 'shifted'])
@pytest.mark.parametrize('flip,rotation,scale', [(False, 25.0, 1.0), (False, -60.0, 0.8),
                                                 (True, 0.0, 1.0), (True, 40.0, 1.2)])
def test_augmented_body_lands_on_augmented_keypoints(body_models, people, model_name, flip,
                                                     rotation, scale):
    model = body_models[model_name]
    for person in people[model_name]:
        assert _reprojection_error(model, _augment(person, flip, rotation, scale)) < TOLERANCE


def test_identity_augmentation_keeps_the_parameters(people):
    person = people['shifted'][0]
    out = _augment(person, False, 0.0)
    for key in ('smpl_global_orient', 'smpl_transl'):
        np.testing.assert_allclose(out[key], person[key], atol=1e-12)


def test_without_the_root_joint_the_translation_misses(body_models, people):
    """The defect this fixes: moving transl about the camera origin misses by (R - I) J0."""
    model = body_models['shifted']
    person = copy.deepcopy(people['shifted'][0])
    del person['smpl_root_joint']
    # |(R - I) J0| ~ 2 sin(12.5 deg) * 0.22 m ~ 10 cm at 5 m: ~0.1 of a half-RoI.
    assert _reprojection_error(model, _augment(person, False, 25.0)) > 0.02
    # Flip: T'_x off by 2 J0_x = 8 cm.
    assert _reprojection_error(model, _augment(person, True, 0.0)) > 0.02


def test_mirror_smpl_transl_by_hand():
    transl = np.array([0.5, -0.2, 4.0], np.float32)
    mirrored = mirror_smpl_transl(transl, np.array([0.03, -0.22, 0.01]))
    assert mirrored.dtype == np.float32
    np.testing.assert_allclose(mirrored, [-0.5 - 0.06, -0.2, 4.0], rtol=1e-6)
    np.testing.assert_allclose(mirror_smpl_transl(transl), [-0.5, -0.2, 4.0], rtol=1e-6)
