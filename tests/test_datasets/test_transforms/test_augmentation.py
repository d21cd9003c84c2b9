"""Flip, scale/rotation and colour augmentation of one person."""
import copy

import numpy as np
import pytest

from mroi_plugin.body_models.keypoint_conventions import get_keypoint_names
from mroi_plugin.datasets.transforms import (
    RandomColorScale,
    RandomFlipHMR,
    RandomScaleRotation,
    flip_smpl_pose,
)
from mroi_plugin.geometry import axis_angle_to_rotmat, perspective_projection
from mroi_plugin.registry import TRANSFORMS

MIRROR = np.diag([-1.0, 1.0, 1.0])
NUM_DRAWS = 4000

ARRAY_KEYS = ('img', 'bbox_center', 'principal_point', 'keypoints2d', 'keypoints3d',
              'smpl_global_orient', 'smpl_body_pose', 'smpl_transl')


def test_flip_is_an_involution(person):
    results = person(0)
    original = copy.deepcopy(results)
    flip = RandomFlipHMR(prob=1.0)
    once = flip(results)
    assert once['flip'] is True
    assert not np.array_equal(once['img'], original['img'])
    twice = flip(once)
    assert twice['flip'] is False
    for key in ARRAY_KEYS:
        np.testing.assert_allclose(twice[key], original[key], atol=1e-12, err_msg=key)


def test_flip_keeps_projection_exact(person, smpl_flip_indices):
    results = RandomFlipHMR(prob=1.0)(person(1))
    projected = perspective_projection(results['keypoints3d'][:, :3], results['smpl_transl'],
                                       np.float64(results['focal_length']),
                                       results['principal_point'])
    np.testing.assert_allclose(projected, results['keypoints2d'][:, :2], atol=1e-6)
    # The mirrored body: keypoints3d = R_go' (M v) with joints renamed left <-> right.
    body = results['body_joints'][smpl_flip_indices] @ MIRROR
    expected = body @ axis_angle_to_rotmat(results['smpl_global_orient']).T
    np.testing.assert_allclose(results['keypoints3d'][:, :3], expected, atol=1e-9)


def test_flip_mirrors_pixels_and_coordinates(person):
    results = person(2)
    width = results['img'].shape[1]
    original = copy.deepcopy(results)
    out = RandomFlipHMR(prob=1.0)(results)
    np.testing.assert_array_equal(out['img'][:, width - 1 - 17], original['img'][:, 17])
    np.testing.assert_allclose(out['principal_point'],
                               [width - 1 - original['principal_point'][0],
                                original['principal_point'][1]])
    np.testing.assert_allclose(out['bbox_center'],
                               [width - 1 - original['bbox_center'][0],
                                original['bbox_center'][1]])
    names = get_keypoint_names('smpl_24')
    left, right = names.index('left_wrist'), names.index('right_wrist')
    np.testing.assert_allclose(out['keypoints2d'][left],
                               [width - 1 - original['keypoints2d'][right, 0],
                                *original['keypoints2d'][right, 1:]])
    np.testing.assert_allclose(out['keypoints3d'][left],
                               [-original['keypoints3d'][right, 0],
                                *original['keypoints3d'][right, 1:]])
    np.testing.assert_allclose(out['smpl_transl'], original['smpl_transl'] * [-1, 1, 1])


def test_flip_smpl_pose_conjugates_by_the_mirror(smpl_flip_indices):
    rng = np.random.default_rng(3)
    global_orient, body_pose = rng.normal(0, 0.5, 3), rng.normal(0, 0.5, (23, 3))
    new_orient, new_pose = flip_smpl_pose(global_orient, body_pose, smpl_flip_indices)
    assert new_orient.shape == (3, ) and new_pose.shape == (23, 3)
    np.testing.assert_allclose(axis_angle_to_rotmat(new_orient),
                               MIRROR @ axis_angle_to_rotmat(global_orient) @ MIRROR, atol=1e-12)
    names = get_keypoint_names('smpl_24')
    for joint, partner in (('left_hip', 'right_hip'), ('spine_1', 'spine_1'),
                           ('right_elbow', 'left_elbow')):
        i, j = names.index(joint) - 1, names.index(partner) - 1  # body_pose skips the pelvis
        np.testing.assert_allclose(axis_angle_to_rotmat(new_pose[i]),
                                   MIRROR @ axis_angle_to_rotmat(body_pose[j]) @ MIRROR,
                                   atol=1e-12)
    # Mirroring twice is the identity.
    back = flip_smpl_pose(new_orient, new_pose, smpl_flip_indices)
    np.testing.assert_allclose(back[0], global_orient)
    np.testing.assert_allclose(back[1], body_pose)


def test_flip_probability_and_validation(person):
    results = person(4)
    original = copy.deepcopy(results)
    out = RandomFlipHMR(prob=0.0)(results)
    assert out['flip'] is False
    np.testing.assert_array_equal(out['img'], original['img'])
    np.random.seed(0)
    flip = RandomFlipHMR()
    rate = np.mean([flip(dict(img_shape=(4, 6)))['flip'] for _ in range(NUM_DRAWS)])
    assert abs(rate - 0.5) < 0.04
    with pytest.raises(ValueError, match='prob'):
        RandomFlipHMR(prob=1.5)
    with pytest.raises(ValueError, match='permutation'):
        RandomFlipHMR(flip_indices=[0, 0, 1])
    results['keypoints2d'] = results['keypoints2d'][:17]
    with pytest.raises(ValueError, match='17 keypoints.*keypoint_convention'):
        RandomFlipHMR(prob=1.0)(results)


def test_scale_rotation_follow_spin_distributions():
    np.random.seed(0)
    transform = TRANSFORMS.build(dict(type='RandomScaleRotation'))
    draws = [transform({}) for _ in range(NUM_DRAWS)]
    scales = np.array([d['scale'] for d in draws])
    rotations = np.array([d['rotation'] for d in draws])
    assert scales.min() >= 0.75 and scales.max() <= 1.25
    assert abs(scales.mean() - 1.0) < 0.01
    # N(1, 0.25) clipped at +-1 std puts ~16 % of the mass on each bound.
    assert 0.13 < np.mean(scales == 1.25) < 0.19
    assert np.abs(rotations).max() <= 60.0
    rotated = rotations[rotations != 0]
    assert abs(len(rotated) / NUM_DRAWS - 0.4) < 0.03
    assert 25.0 < rotated.std() < 30.0  # N(0, 30) clipped at 2 std: ~27.9
    assert abs(rotated.mean()) < 2.0


def test_scale_rotation_is_configurable():
    np.random.seed(1)
    transform = RandomScaleRotation(scale_std=0.0, rotation_std=10.0, max_rotation=5.0,
                                    rotation_prob=1.0)
    draws = [transform({}) for _ in range(200)]
    assert all(d['scale'] == 1.0 for d in draws)
    assert all(0 < abs(d['rotation']) <= 5.0 for d in draws)
    assert np.mean([abs(d['rotation']) == 5.0 for d in draws]) > 0.5
    with pytest.raises(ValueError, match='scale_range'):
        RandomScaleRotation(scale_range=(1.2, 0.8))
    with pytest.raises(ValueError, match='rotation_prob'):
        RandomScaleRotation(rotation_prob=-0.1)


def test_color_scale_draws_three_factors():
    np.random.seed(2)
    transform = RandomColorScale()
    factors = np.stack([transform({})['color_scale'] for _ in range(NUM_DRAWS)])
    assert factors.shape == (NUM_DRAWS, 3)
    assert factors.min() >= 0.6 and factors.max() <= 1.4
    np.testing.assert_allclose(factors.mean(0), 1.0, atol=0.02)
    assert abs(np.corrcoef(factors[:, 0], factors[:, 1])[0, 1]) < 0.05  # independent channels
    with pytest.raises(ValueError, match='scale_range'):
        RandomColorScale(scale_range=(1.4, 0.6))


@pytest.mark.parametrize('cfg', [dict(type='RandomFlipHMR'), dict(type='RandomScaleRotation'),
                                 dict(type='RandomColorScale')])
def test_augmentation_is_deterministic_given_the_seed(cfg, person):
    transform = TRANSFORMS.build(cfg)
    outs = []
    for seed in (5, 5):
        np.random.seed(seed)
        outs.append([transform(person(5)) for _ in range(8)])
    for first, second in zip(*outs):
        for key in ('flip', 'scale', 'rotation', 'color_scale', 'keypoints2d'):
            if key in first:
                np.testing.assert_array_equal(first[key], second[key])
