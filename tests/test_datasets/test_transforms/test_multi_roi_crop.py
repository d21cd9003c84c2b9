"""MultiRoICrop: exact camera consistency of all RoIs, image content, RoI layout."""
import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose

from mroi_plugin.datasets.transforms import (
    ROI_TABLE_5,
    ROI_TABLE_9,
    MultiRoICrop,
    RandomColorScale,
    RandomFlipHMR,
    RandomScaleRotation,
)
from mroi_plugin.geometry import (
    apply_affine,
    axis_angle_to_rotmat,
    cam_crop_to_full,
    cam_full_to_crop,
    compute_bbox_info,
    get_crop_affine,
    perspective_projection,
    weak_perspective_projection,
)
from mroi_plugin.registry import TRANSFORMS

CROP_H, CROP_W = 256, 192
MIRROR = np.diag([-1.0, 1.0, 1.0])


def crop_pixels_to_normalized(points: np.ndarray) -> np.ndarray:
    """Crop pixels -> normalised crop coordinates, from the crop's own pixel grid."""
    return (points - np.array([CROP_W / 2, CROP_H / 2])) / (CROP_H / 2)


def augment_and_crop(results: dict, num_rois: int, flip: bool, seed: int) -> dict:
    np.random.seed(seed)
    pipeline = Compose([
        RandomFlipHMR(prob=float(flip)),
        RandomScaleRotation(rotation_prob=1.0),
        RandomColorScale(),
        MultiRoICrop(num_rois=num_rois),
    ])
    return pipeline(results)


@pytest.mark.parametrize('num_rois', [1, 5, 7])
@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_all_rois_share_one_exact_full_camera(person, smpl_flip_indices, num_rois, flip, seed):
    """THE test of the Data pipeline issue: the RoIs are views of one camera."""
    results = augment_and_crop(person(seed), num_rois, flip, seed)
    assert results['flip'] == flip and results['rotation'] != 0.0
    focal = results['focal_length']
    pp = results['principal_point']
    transl = results['smpl_transl']
    centers, sizes = results['roi_centers'], results['roi_sizes']
    kp_crop = results['keypoints2d_crop']
    kp3d = results['keypoints3d'][:, :3]
    assert centers.shape == (num_rois, 2) and sizes.shape == (num_rois, )
    assert kp_crop.shape == (num_rois, 24, 3)
    assert results['crop_trans'].shape == (num_rois, 2, 3)
    assert results['img'].shape == (num_rois, CROP_H, CROP_W, 3)
    focals = np.full(num_rois, focal)
    pps = np.broadcast_to(pp, (num_rois, 2))

    # GT crop cameras of every RoI map back to the same full camera.
    cam_crop = cam_full_to_crop(np.broadcast_to(transl, (num_rois, 3)), centers, sizes, focals,
                                pps)
    cam_full = cam_crop_to_full(cam_crop, centers, sizes, focals, pps)
    np.testing.assert_allclose(cam_full, np.broadcast_to(transl, (num_rois, 3)), rtol=1e-6)

    # Perspective projection with (f, p', T') lands on the 2D keypoints of I' ...
    projected = perspective_projection(kp3d, transl, np.float64(focal), pp)
    np.testing.assert_allclose(projected, results['keypoints2d'][:, :2], atol=1e-6)
    # ... and, mapped by each crop_trans, on keypoints2d_crop of every RoI.
    in_crop = apply_affine(np.broadcast_to(projected, (num_rois, 24, 2)), results['crop_trans'])
    np.testing.assert_allclose(crop_pixels_to_normalized(in_crop), kp_crop[..., :2], atol=1e-4)
    np.testing.assert_array_equal(kp_crop[..., 2], np.broadcast_to(
        results['keypoints2d'][:, 2], (num_rois, 24)))

    # Weak perspective is exact at the root's depth: the root (joint 0, at T') lands on its
    # crop keypoint in every RoI with that RoI's GT crop camera, so the camera-consistency
    # loss is zero for the ground truth.
    root = weak_perspective_projection(np.zeros((num_rois, 1, 3)), cam_crop)[:, 0]
    np.testing.assert_allclose(root, kp_crop[:, 0, :2], atol=1e-9)

    # Global orientation and 3D keypoints were rotated (and mirrored) consistently:
    # keypoints3d = R_go' v' with v' the (mirrored) body-frame skeleton.
    body = results['body_joints']
    if flip:
        body = body[smpl_flip_indices] @ MIRROR
    expected = body @ axis_angle_to_rotmat(results['smpl_global_orient']).T
    np.testing.assert_allclose(kp3d, expected, atol=1e-9)



def test_float32_annotations_stay_consistent(person):
    """Datasets emit float32; the geometry is computed in float64 from them."""
    results = augment_and_crop(person(20, dtype=np.float32), 5, True, seed=20)
    for key in ('roi_centers', 'crop_trans', 'keypoints2d_crop', 'principal_point', 'bbox_info'):
        assert results[key].dtype == np.float64, key
    projected = perspective_projection(results['keypoints3d'][:, :3], results['smpl_transl'],
                                       np.float64(results['focal_length']),
                                       results['principal_point'])
    in_crop = apply_affine(np.broadcast_to(projected, (5, 24, 2)), results['crop_trans'])
    np.testing.assert_allclose(crop_pixels_to_normalized(in_crop),
                               results['keypoints2d_crop'][..., :2], atol=1e-4)

@pytest.mark.parametrize('flip', [False, True])
def test_marked_pixel_lands_where_crop_trans_says(person, smpl_flip_indices, flip):
    results = person(3)
    center = results['bbox_center']
    joint = int(np.argmin(np.linalg.norm(results['keypoints2d'][:, :2] - center, axis=1)))
    # A Gaussian blob on the joint nearest the box centre, nothing else.
    sigma = 2.5
    vs, us = np.mgrid[:results['img'].shape[0], :results['img'].shape[1]]
    u0, v0 = results['keypoints2d'][joint, :2]
    blob = 255 * np.exp(-((us - u0)**2 + (vs - v0)**2) / (2 * sigma**2))
    results['img'] = np.repeat(np.rint(blob).astype(np.uint8)[..., None], 3, axis=2)

    results = augment_and_crop(results, 5, flip, seed=3)
    moved = smpl_flip_indices[joint] if flip else joint
    expected = apply_affine(
        np.broadcast_to(results['keypoints2d'][moved, :2], (5, 1, 2)), results['crop_trans'])[:, 0]
    for crop, (x, y) in zip(results['img'].astype(np.float64)[..., 0], expected):
        assert 10 < x < CROP_W - 10 and 10 < y < CROP_H - 10
        weights = crop / crop.sum()
        ys, xs = np.mgrid[:CROP_H, :CROP_W]
        # Colour scaling and clipping leave a symmetric blob's centroid in place.
        assert abs((weights * xs).sum() - x) < 0.25
        assert abs((weights * ys).sum() - y) < 0.25


def test_single_roi_is_a_plain_cliff_crop(person):
    """N = 1: the crop of the box rotated about its own centre, as CLIFF/SPIN do."""
    results = person(4)
    results.update(rotation=25.0, scale=1.1)
    expected_img = cv2.warpAffine(
        results['img'],
        get_crop_affine(results['bbox_center'], results['bbox_size'] * 1.1, (CROP_H, CROP_W),
                        rotation=np.float64(25.0)), (CROP_W, CROP_H), flags=cv2.INTER_LINEAR)
    cliff_affine = get_crop_affine(results['bbox_center'], results['bbox_size'] * 1.1,
                                   (CROP_H, CROP_W), rotation=np.float64(25.0))
    expected_kp = crop_pixels_to_normalized(
        apply_affine(results['keypoints2d'][:, :2], cliff_affine))
    center, size = results['bbox_center'].copy(), results['bbox_size'] * 1.1

    out = MultiRoICrop(num_rois=1)(copy.deepcopy(results))
    assert out['img'].shape == (1, CROP_H, CROP_W, 3)
    diff = np.abs(out['img'][0].astype(int) - expected_img.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01
    np.testing.assert_allclose(out['roi_centers'], center[None])
    np.testing.assert_allclose(out['roi_sizes'], [size])
    np.testing.assert_allclose(out['keypoints2d_crop'][0, :, :2], expected_kp, atol=1e-9)
    np.testing.assert_allclose(
        out['bbox_info'],
        compute_bbox_info(center[None], np.array([size]), np.array([out['focal_length']]),
                          out['principal_point'][None]))


def test_roi_layout_follows_the_paper_tables(person):
    results = person(5)
    c0, b0 = results['bbox_center'], results['bbox_size']
    out = MultiRoICrop(num_rois=5)(copy.deepcopy(results))
    hand = np.array([[0, 0, 1.0], [0.1, 0, 1.5], [-0.1, 0, 1.25], [0, 0.1, 0.8], [0, -0.1, 0.65]])
    np.testing.assert_allclose(out['roi_centers'], c0 + b0 * hand[:, :2])
    np.testing.assert_allclose(out['roi_sizes'], b0 * hand[:, 2])
    np.testing.assert_allclose(np.asarray(ROI_TABLE_5), hand)
    for num_rois in (2, 3, 4):
        out = MultiRoICrop(num_rois=num_rois)(copy.deepcopy(results))
        np.testing.assert_allclose(out['roi_sizes'], b0 * hand[:num_rois, 2])
    out = MultiRoICrop(num_rois=7)(copy.deepcopy(results))
    table9 = np.asarray(ROI_TABLE_9)
    np.testing.assert_allclose(out['roi_sizes'], b0 * table9[:7, 2])
    np.testing.assert_allclose(out['roi_centers'], c0 + b0 * table9[:7, :2])
    np.testing.assert_allclose(table9[1:, 2], [1.6, 1.45, 1.3, 1.15, 0.85, 0.7, 0.55, 0.4])


def test_more_than_nine_rois_need_an_explicit_layout(person):
    with pytest.raises(ValueError, match='shifts'):
        MultiRoICrop(num_rois=10)
    shifts = [(0.0, 0.0)] + [(0.05 * k, -0.02 * k) for k in range(1, 11)]
    scales = [1.0] + [1.0 + 0.05 * k for k in range(1, 11)]
    out = MultiRoICrop(num_rois=11, shifts=shifts, scales=scales)(person(6))
    assert out['img'].shape == (11, CROP_H, CROP_W, 3)
    assert out['bbox_info'].shape == (11, 3) and out['keypoints2d_crop'].shape == (11, 24, 3)
    with pytest.raises(ValueError, match='RoI 0'):
        MultiRoICrop(num_rois=2, shifts=[(0.1, 0), (0, 0)], scales=[1, 1])
    with pytest.raises(ValueError, match='scales'):
        MultiRoICrop(num_rois=2, shifts=[(0, 0), (0.1, 0)], scales=[1.0])
    with pytest.raises(ValueError, match='num_rois'):
        MultiRoICrop(num_rois=0)
    with pytest.raises(ValueError, match='bbox_info'):
        MultiRoICrop(bbox_info='normalised')


def test_color_scale_is_shared_by_all_rois():
    grey = np.array([100, 150, 200], dtype=np.uint8)
    results = dict(img=np.broadcast_to(grey, (480, 640, 3)).copy(),
                   bbox_center=np.array([320.0, 240.0]), bbox_size=200.0, focal_length=800.0,
                   principal_point=np.array([320.0, 240.0]),
                   color_scale=np.array([0.7, 1.2, 1.4]))
    out = MultiRoICrop(num_rois=5)(results)
    # 200 * 1.4 clips to 255; every RoI lies inside the image.
    np.testing.assert_array_equal(out['img'], np.broadcast_to([70, 180, 255], out['img'].shape))


def test_bbox_info_modes(person):
    results = person(7)
    raw = MultiRoICrop(num_rois=3, bbox_info='raw')(copy.deepcopy(results))
    f = results['focal_length']
    expected = np.concatenate([(raw['roi_centers'] - raw['principal_point']) / f,
                               raw['roi_sizes'][:, None] / f], axis=1)
    np.testing.assert_allclose(raw['bbox_info'], expected)


@pytest.mark.parametrize('size', [0.0, -5.0, float('nan')])
def test_degenerate_box_is_a_clear_error(person, size):
    results = person(8)
    results['bbox_size'] = size
    with pytest.raises(ValueError, match='degenerate box.*synthetic_8.jpg'):
        MultiRoICrop()(results)


def test_bad_focal_length_is_a_clear_error(person):
    results = person(9)
    results['focal_length'] = np.array([800.0, 810.0])
    with pytest.raises(ValueError, match='focal_length'):
        MultiRoICrop()(results)


def test_pipeline_is_deterministic_given_the_seed(person):
    cfg = [dict(type='RandomFlipHMR'), dict(type='RandomScaleRotation'),
           dict(type='RandomColorScale'), dict(type='MultiRoICrop', num_rois=5)]
    pipeline = Compose([TRANSFORMS.build(t) for t in cfg])
    outs = []
    for seed in (11, 11, 12):
        np.random.seed(seed)
        outs.append(pipeline(person(10)))
    for key in ('img', 'roi_centers', 'keypoints2d_crop', 'smpl_global_orient', 'color_scale'):
        np.testing.assert_array_equal(outs[0][key], outs[1][key])
    assert not np.array_equal(outs[0]['color_scale'], outs[2]['color_scale'])


def test_no_augmentation_keeps_the_targets(person):
    results = person(12)
    original = copy.deepcopy(results)
    out = MultiRoICrop(num_rois=5)(results)
    assert out['rotation'] == 0.0 and out['scale'] == 1.0 and out['flip'] is False
    for key in ('principal_point', 'keypoints2d', 'keypoints3d', 'smpl_global_orient',
                'smpl_transl'):
        np.testing.assert_allclose(out[key], original[key], atol=1e-12)
    assert out['img_shape'] == (480, 640) and out['crop_size'] == (CROP_H, CROP_W)


def test_root_joint_makes_the_translation_exact(person):
    """SMPL rotates about J0: the mesh point J0 + T must move like any 3D point."""
    results = person(13)
    root = np.array([0.01, -0.22, 0.03])
    results.update(rotation=40.0, smpl_root_joint=root)
    posed_root = root + results['smpl_transl']  # the root joint in the camera frame
    orient = axis_angle_to_rotmat(results['smpl_global_orient'])
    out = MultiRoICrop(num_rois=1)(results)
    # The camera rotation, read off the rotated global orientation.
    rotation = axis_angle_to_rotmat(out['smpl_global_orient']) @ orient.T
    np.testing.assert_allclose(root + out['smpl_transl'], rotation @ posed_root, atol=1e-12)


REAL_SAMPLE_DIR = Path(__file__).resolve().parents[3].parent / 'shared' / 'data' / 'real_samples'
PW3D_DIR = REAL_SAMPLE_DIR / 'pw3d_real'


@pytest.mark.skipif(not (PW3D_DIR / 'pw3d_real_sample.npz').exists(),
                    reason='real 3DPW sample not available')
def test_real_frame_with_a_box_past_the_border():
    """A real 1080x1920 3DPW frame whose box leaves the image: zero padding, exact crops."""
    data = np.load(PW3D_DIR / 'pw3d_real_sample.npz', allow_pickle=True)
    img = cv2.imread(str(PW3D_DIR / str(data['image_path'][0])))
    x, y, w, h = data['bbox_xywh'][0, :4]
    smpl = data['smpl'].item()
    results = dict(
        img=img, img_shape=img.shape[:2], bbox_center=np.array([x + w / 2, y + h / 2]),
        bbox_size=float(max(h, w * CROP_H / CROP_W)), focal_length=float(np.hypot(*img.shape[:2])),
        principal_point=np.array([img.shape[1] / 2, img.shape[0] / 2], np.float32),
        smpl_global_orient=smpl['global_orient'][0], smpl_body_pose=smpl['body_pose'][0],
        rotation=-20.0, scale=1.0)
    source = img.copy()
    out = MultiRoICrop(num_rois=5)(results)
    # Which crop pixels come from inside the source image: map the crop grid back.
    ys, xs = np.mgrid[:CROP_H, :CROP_W]
    grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    rot = cv2.getRotationMatrix2D(tuple(results['bbox_center'].tolist()), -20.0, 1.0)
    for crop, trans in zip(out['img'], out['crop_trans']):
        warp = np.vstack([trans @ np.vstack([rot, [0, 0, 1]]), [0, 0, 1]])
        src = grid @ np.linalg.inv(warp)[:2, :2].T + np.linalg.inv(warp)[:2, 2]
        outside = ((src[:, 0] < -1) | (src[:, 0] > img.shape[1]) | (src[:, 1] < -1)
                   | (src[:, 1] > img.shape[0])).reshape(CROP_H, CROP_W)
        inside = ((src[:, 0] > 1) & (src[:, 0] < img.shape[1] - 2) & (src[:, 1] > 1)
                  & (src[:, 1] < img.shape[0] - 2)).reshape(CROP_H, CROP_W)
        assert outside.any() and inside.any()
        assert crop[outside].max() == 0
        # Nearest source pixel of interior crop pixels: bilinear stays within the 2x2 range.
        sample = src[inside.ravel()]
        lo = np.minimum.reduce([source[np.floor(sample[:, 1]).astype(int) + dy,
                                       np.floor(sample[:, 0]).astype(int) + dx]
                                for dy in (0, 1) for dx in (0, 1)])
        hi = np.maximum.reduce([source[np.floor(sample[:, 1]).astype(int) + dy,
                                       np.floor(sample[:, 0]).astype(int) + dx]
                                for dy in (0, 1) for dx in (0, 1)])
        values = crop[inside]
        assert np.all(values.astype(int) >= lo.astype(int) - 1)
        assert np.all(values.astype(int) <= hi.astype(int) + 1)
