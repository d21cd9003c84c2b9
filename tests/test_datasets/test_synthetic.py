"""Synthetic dataset generator and the headless mesh renderer it uses.

Truths used: pixel-centre-in-triangle tests by OpenCV's ``pointPolygonTest``, depths from
ray/plane intersection, pinhole projection written out by hand, and the body model itself
(the stored SMPL parameters must reproduce the stored joints and box).
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mroi_plugin.body_models import (
    SMPL,
    convert_keypoints,
    get_keypoint_index,
    get_keypoint_names,
)
from mroi_plugin.datasets.root_joint import compute_root_joints
from mroi_plugin.geometry import axis_angle_to_rotmat
from mroi_plugin.synthetic import (
    GENDERS,
    SyntheticOptions,
    generate_synthetic_dataset,
    load_synthetic_body_models,
    render_synthetic_sample,
    sample_background,
    sample_body_pose,
    sample_global_orient,
    sample_person_colors,
    sample_rng,
)
from mroi_plugin.synthetic.standin import write_standin_smpl
from mroi_plugin.visualization import rasterize_mesh, render_mesh, render_meshes

IMAGE_SIZE = (160, 120)  # (W, H)
COUNTS = dict(num_train=3, num_val=2, num_test=1)
SEED = 7
NUM_JOINTS = 190
TORSO_JOINTS = ('pelvis', 'spine_1', 'spine_2', 'spine_3')
MAX_JPEG_ERROR = 8.0
NUM_POSE_DRAWS = 100

# --- renderer ----------------------------------------------------------------------------
FOCAL = 100.0
PRINCIPAL = (31.3, 24.7)
SHAPE = (48, 64)  # (H, W)
RED, BLUE = (0.0, 0.0, 200.0), (200.0, 0.0, 0.0)
TOWARDS_CAMERA = (0.0, 0.0, -1.0)


def _backproject(uv, depth):
    """Pixels ``(N, 2)`` at depths ``(N,)`` -> camera-frame points ``(N, 3)``."""
    uv, depth = np.asarray(uv, float), np.broadcast_to(np.asarray(depth, float), (len(uv), ))
    xy = (uv - np.asarray(PRINCIPAL)) * depth[:, None] / FOCAL
    return np.concatenate([xy, depth[:, None]], axis=1)


def _inside_polygon(uv):
    """``(H, W)`` bool: pixel centres strictly inside the 2D polygon ``uv``."""
    contour = np.asarray(uv, np.float32).reshape(-1, 1, 2)
    mask = np.zeros(SHAPE, bool)
    for v in range(SHAPE[0]):
        for u in range(SHAPE[1]):
            mask[v, u] = cv2.pointPolygonTest(contour, (float(u), float(v)), False) > 0
    return mask


def _ray_plane_depth(normal, offset):
    """``(H, W)`` depth where each pixel's ray meets the plane ``normal . X = offset``."""
    v, u = np.mgrid[0:SHAPE[0], 0:SHAPE[1]].astype(float)
    rays = np.stack([(u - PRINCIPAL[0]) / FOCAL, (v - PRINCIPAL[1]) / FOCAL, np.ones_like(u)],
                    axis=-1)
    return offset / (rays @ np.asarray(normal, float))


# Pixel corners chosen so that no pixel centre lies on an edge.
TRIANGLE_UV = np.array([[10.2, 8.3], [22.4, 40.6], [50.7, 12.1]])  # front-facing order


def test_single_triangle_renders_at_its_projection_with_its_colour():
    vertices = _backproject(TRIANGLE_UV, 2.0)
    faces = np.array([[0, 1, 2]])
    background = np.full(SHAPE + (3, ), 17, np.uint8)
    color = (30.0, 140.0, 250.0)
    # Lit head-on: shade = ambient + diffuse = 1, so the pixels take the colour exactly.
    rendered, mask, depth = render_mesh(
        background, vertices, faces, FOCAL, PRINCIPAL, color=color,
        light_direction=TOWARDS_CAMERA, ambient=0.25, diffuse=0.75, cull_backfaces=True,
        return_depth=True)
    expected = _inside_polygon(TRIANGLE_UV)
    assert expected.sum() > 300
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(rendered[mask], np.tile(np.uint8(color), (mask.sum(), 1)))
    np.testing.assert_array_equal(rendered[~mask], background[~mask])
    np.testing.assert_allclose(depth[mask], 2.0, rtol=0, atol=1e-12)
    assert np.isinf(depth[~mask]).all()
    assert (background == 17).all(), 'the input image must not be modified'

    # Seen from behind: culled when asked, otherwise lit on its other side (two-sided).
    flipped = faces[:, ::-1]
    _, culled_mask = render_mesh(background, vertices, flipped, FOCAL, PRINCIPAL,
                                 cull_backfaces=True)
    assert not culled_mask.any()
    both_sides, both_mask = render_mesh(
        background, vertices, flipped, FOCAL, PRINCIPAL, color=color,
        light_direction=TOWARDS_CAMERA, ambient=0.25, diffuse=0.75)
    np.testing.assert_array_equal(both_mask, expected)
    np.testing.assert_array_equal(both_sides, rendered)


def test_nearer_triangle_wins_whatever_the_face_order():
    near = _backproject(TRIANGLE_UV, 2.0)
    far = _backproject(TRIANGLE_UV + [8.0, 5.0], 4.0)
    vertices = np.concatenate([near, far])
    colors = np.array([RED] * 3 + [BLUE] * 3)
    background = np.zeros(SHAPE + (3, ), np.uint8)
    in_near = _inside_polygon(TRIANGLE_UV)
    in_far = _inside_polygon(TRIANGLE_UV + [8.0, 5.0])
    assert (in_near & in_far).sum() > 100 and (in_far & ~in_near).sum() > 30
    for faces in ([[0, 1, 2], [3, 4, 5]], [[3, 4, 5], [0, 1, 2]]):
        rendered, mask, depth = render_mesh(
            background, vertices, np.array(faces), FOCAL, PRINCIPAL, color=colors,
            light_direction=TOWARDS_CAMERA, ambient=1.0, diffuse=0.0, return_depth=True)
        np.testing.assert_array_equal(mask, in_near | in_far)
        assert (rendered[in_near] == np.uint8(RED)).all()
        assert (rendered[in_far & ~in_near] == np.uint8(BLUE)).all()
        np.testing.assert_allclose(depth[in_near], 2.0, atol=1e-12)
        np.testing.assert_allclose(depth[in_far & ~in_near], 4.0, atol=1e-12)


SLOPE = 0.25


def test_render_meshes_shares_one_depth_buffer():
    near = _backproject(TRIANGLE_UV, 2.0)
    far = _backproject(TRIANGLE_UV + [8.0, 5.0], 4.0)
    background = np.zeros(SHAPE + (3, ), np.uint8)
    shading = dict(light_direction=TOWARDS_CAMERA, ambient=1.0, diffuse=0.0)
    # The far mesh comes last, yet the near one stays in front where they overlap.
    rendered, mask = render_meshes(background, [near, far], np.array([[0, 1, 2]]), FOCAL,
                                   PRINCIPAL, colors=[RED, BLUE], **shading)
    in_near = _inside_polygon(TRIANGLE_UV)
    in_far = _inside_polygon(TRIANGLE_UV + [8.0, 5.0])
    np.testing.assert_array_equal(mask, in_near | in_far)
    assert (rendered[in_near] == np.uint8(RED)).all()
    assert (rendered[in_far & ~in_near] == np.uint8(BLUE)).all()
    with pytest.raises(ValueError, match='colours'):
        render_meshes(background, [near, far], np.array([[0, 1, 2]]), FOCAL, PRINCIPAL,
                      colors=[RED])


def test_intersecting_triangles_resolved_per_pixel():
    # Planes z = 3 + x / 4 (red) and z = 3 - x / 4 (blue) cross at x = 0: red is nearer left
    # of the principal point's column, blue right of it. Both triangles cover the image.
    corners = np.array([[-4.0, -4.0], [8.0, -4.0], [-4.0, 8.0]])

    def plane_triangle(slope):
        return np.array([[x, y, 3.0 + slope * x] for x, y in corners])

    vertices = np.concatenate([plane_triangle(SLOPE), plane_triangle(-SLOPE)])
    colors = np.array([RED] * 3 + [BLUE] * 3)
    rendered, mask, depth = render_mesh(
        np.zeros(SHAPE + (3, ), np.uint8), vertices, np.array([[0, 1, 2], [3, 4, 5]]), FOCAL,
        PRINCIPAL, color=colors, ambient=1.0, diffuse=0.0, return_depth=True)
    assert mask.all()
    u = np.arange(SHAPE[1])
    left, right = u < PRINCIPAL[0], u > PRINCIPAL[0]
    assert (rendered[:, left] == np.uint8(RED)).all()
    assert (rendered[:, right] == np.uint8(BLUE)).all()
    expected = np.minimum(_ray_plane_depth((-SLOPE, 0, 1), 3.0),
                          _ray_plane_depth((SLOPE, 0, 1), 3.0))
    np.testing.assert_allclose(depth, expected, rtol=1e-12)


def test_vertex_attributes_are_interpolated_perspective_correctly():
    # A triangle receding from 1.5 m to 6 m; its colour is an affine function of depth, so a
    # correct renderer shows colour(z(pixel)) with z from the ray/plane intersection.
    vertices = np.array([[-1.0, -0.8, 1.5], [0.3, 1.2, 6.0], [1.5, -1.0, 3.0]])
    colors = np.stack([20.0 + 30.0 * vertices[:, 2], 200.0 - 25.0 * vertices[:, 2],
                       np.full(3, 99.0)], axis=1)
    rendered, mask, depth = render_mesh(
        np.zeros(SHAPE + (3, ), np.uint8), vertices, np.array([[0, 1, 2]]), FOCAL, PRINCIPAL,
        color=colors, ambient=1.0, diffuse=0.0, return_depth=True)
    normal = np.cross(vertices[1] - vertices[0], vertices[2] - vertices[0])
    plane_depth = _ray_plane_depth(normal, normal @ vertices[0])
    assert mask.sum() > 200
    np.testing.assert_allclose(depth[mask], plane_depth[mask], rtol=1e-9)
    expected = np.stack([20.0 + 30.0 * plane_depth, 200.0 - 25.0 * plane_depth,
                         np.full(SHAPE, 99.0)], axis=-1)
    # Rounding to uint8 is the only error (affine interpolation would be off by tens).
    assert np.abs(rendered[mask] - expected[mask]).max() <= 0.5 + 1e-6


def test_alpha_blends_with_the_image():
    vertices = _backproject(TRIANGLE_UV, 2.0)
    image = np.random.default_rng(0).integers(0, 256, SHAPE + (3, ), dtype=np.uint8)
    color = np.array([250.0, 10.0, 120.0])
    rendered, mask = render_mesh(image, vertices, np.array([[0, 1, 2]]), FOCAL, PRINCIPAL,
                                 color=color, alpha=0.25, light_direction=TOWARDS_CAMERA,
                                 ambient=0.5, diffuse=0.5)
    expected = 0.25 * color + 0.75 * image[mask].astype(float)
    assert np.abs(rendered[mask] - expected).max() <= 0.5 + 1e-6
    np.testing.assert_array_equal(rendered[~mask], image[~mask])


def test_rasterization_skips_faces_behind_the_camera_and_outside_the_image():
    behind = _backproject(TRIANGLE_UV, 2.0) * [1, 1, -1]
    outside = _backproject(TRIANGLE_UV + [500.0, 0.0], 2.0)
    raster = rasterize_mesh(np.concatenate([behind, outside]), np.array([[0, 1, 2], [3, 4, 5]]),
                            FOCAL, PRINCIPAL, SHAPE)
    assert raster.pixels.size == 0 and not raster.mask.any()
    assert (raster.face_index == -1).all()


def test_renderer_rejects_bad_inputs():
    vertices = _backproject(TRIANGLE_UV, 2.0)
    image = np.zeros(SHAPE + (3, ), np.uint8)
    with pytest.raises(ValueError, match='uint8'):
        render_mesh(image.astype(np.float32), vertices, np.array([[0, 1, 2]]), FOCAL, PRINCIPAL)
    with pytest.raises(ValueError, match='faces'):
        render_mesh(image, vertices, np.array([[0, 1, 3]]), FOCAL, PRINCIPAL)
    with pytest.raises(ValueError, match='color'):
        render_mesh(image, vertices, np.array([[0, 1, 2]]), FOCAL, PRINCIPAL, color=(1, 2))
    with pytest.raises(ValueError, match='principal_point'):
        render_mesh(image, vertices, np.array([[0, 1, 2]]), FOCAL, (1.0, 2.0, 3.0))


# --- synthetic dataset --------------------------------------------------------------------
@pytest.fixture(scope='module', autouse=True)
def single_torch_thread():
    # The generator runs single-threaded (as its workers do); tiny body-model ops are several
    # times slower with a thread pool.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def body_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp('standin')
    write_standin_smpl(path, seed=0)
    return str(path)


@pytest.fixture(scope='module')
def body_models(body_model_dir):
    return load_synthetic_body_models(body_model_dir)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory, body_model_dir):
    out_dir = str(tmp_path_factory.mktemp('synthetic'))
    paths = generate_synthetic_dataset(out_dir, image_size=IMAGE_SIZE, seed=SEED,
                                       body_model_dir=body_model_dir, workers=1, **COUNTS)
    data = {}
    for split, path in paths.items():
        with np.load(path, allow_pickle=True) as npz:
            data[split] = {key: npz[key] for key in npz.files}
    return out_dir, data


def _flatten(data):
    flat = {}
    for key, value in data.items():
        if value.dtype == object and value.shape == ():
            for sub, array in value.item().items():
                flat[f'{key}.{sub}'] = array
        else:
            flat[key] = value
    return flat


def test_files_exist_and_decode(dataset):
    out_dir, data = dataset
    assert sorted(data) == ['test', 'train', 'val']
    for split, split_data in data.items():
        assert len(split_data['image_path']) == COUNTS[f'num_{split}']
        for i, rel in enumerate(split_data['image_path']):
            assert rel == f'images/{split}/{i:05d}.jpg'
            image = cv2.imread(osp.join(out_dir, rel))
            assert image is not None and image.shape == (IMAGE_SIZE[1], IMAGE_SIZE[0], 3)


def test_humandata_layout(dataset):
    _, data = dataset
    for split, split_data in data.items():
        n = COUNTS[f'num_{split}']
        flat = _flatten(split_data)
        shapes = {
            '__key_strict__': (), '__data_len__': (), '__keypoints_compressed__': (),
            'config': (), 'image_path': (n, ), 'bbox_xywh': (n, 5),
            'keypoints2d': (n, NUM_JOINTS, 3), 'keypoints2d_mask': (NUM_JOINTS, ),
            'keypoints3d': (n, NUM_JOINTS, 4), 'keypoints3d_mask': (NUM_JOINTS, ),
            'smpl.global_orient': (n, 3), 'smpl.body_pose': (n, 23, 3), 'smpl.betas': (n, 10),
            'smpl.transl': (n, 3), 'smpl_root_joint': (n, 3), 'meta.gender': (n, ),
            'cam_param.focal_length': (n, 2),
            'cam_param.principal_point': (n, 2), 'image_size': (n, 2)
        }
        assert {k: v.shape for k, v in flat.items()} == shapes
        assert int(flat['__data_len__']) == n
        assert not bool(flat['__keypoints_compressed__'])
        assert str(flat['config']) == 'synthetic'
        assert set(flat['meta.gender']) <= set(GENDERS)
        np.testing.assert_array_equal(flat['image_size'], np.tile(IMAGE_SIZE, (n, 1)))
        for key in shapes:
            if key.startswith(('keypoints', 'smpl', 'cam_param.', 'bbox')):
                assert flat[key].dtype == np.float32, key
        assert (flat['bbox_xywh'][:, 2:4] > 0).all() and (flat['bbox_xywh'][:, 4] == 1).all()
        # Available joints: SMPL's 24 and H36M's 17 share 10 names -> 31 joints.
        np.testing.assert_array_equal(flat['keypoints2d_mask'], flat['keypoints3d_mask'])
        assert flat['keypoints3d_mask'].sum() == 31
        np.testing.assert_array_equal(flat['keypoints3d'][..., 3],
                                      np.broadcast_to(flat['keypoints3d_mask'], (n, NUM_JOINTS)))


def test_stored_2d_keypoints_are_projections_of_the_3d_ones(dataset):
    _, data = dataset
    width, height = IMAGE_SIZE
    for split_data in data.values():
        cam = split_data['cam_param'].item()
        kp3d = split_data['keypoints3d'].astype(np.float64)
        kp2d = split_data['keypoints2d'].astype(np.float64)
        focal = cam['focal_length'].astype(np.float64)[:, None]
        principal = cam['principal_point'].astype(np.float64)[:, None]
        valid = kp3d[..., 3] > 0
        depth = np.where(valid, kp3d[..., 2], 1.0)[..., None]
        projected = focal * kp3d[..., :2] / depth + principal
        assert (kp3d[..., 2][valid] > 0).all()
        np.testing.assert_allclose(kp2d[..., :2][valid], projected[valid], rtol=0, atol=1e-3)
        inside = ((projected[..., 0] >= 0) & (projected[..., 0] <= width - 1)
                  & (projected[..., 1] >= 0) & (projected[..., 1] <= height - 1))
        np.testing.assert_array_equal(kp2d[..., 2], (valid & inside).astype(np.float32))
        np.testing.assert_array_equal(kp2d[~valid], 0)


def test_smpl_parameters_reproduce_joints_and_box(dataset, body_model_dir):
    _, data = dataset
    regressor = {'h36m_17': osp.join(body_model_dir, 'J_regressor_h36m.npy')}
    models = {g: SMPL(body_model_dir, gender=g, extra_joint_regressors=regressor)
              for g in GENDERS}
    for split_data in data.values():
        smpl = split_data['smpl'].item()
        genders = split_data['meta'].item()['gender']
        cam = split_data['cam_param'].item()
        for i, gender in enumerate(genders):
            with torch.no_grad():
                out = models[str(gender)](smpl['betas'][i:i + 1], smpl['body_pose'][i:i + 1],
                                          smpl['global_orient'][i:i + 1], smpl['transl'][i:i + 1])
            # Names: H36M regressor first, then SMPL joints (the body model's priority).
            from_h36m, h36m_mask = convert_keypoints(out['h36m_17'][0].numpy(), 'h36m_17',
                                                     'human_data')
            from_smpl, smpl_mask = convert_keypoints(out['joints'][0].numpy(), 'smpl_24',
                                                     'human_data')
            expected = np.where(h36m_mask[:, None] > 0, from_h36m, from_smpl)
            stored = split_data['keypoints3d'][i]
            np.testing.assert_array_equal(stored[:, 3], np.maximum(h36m_mask, smpl_mask))
            np.testing.assert_allclose(stored[:, :3], expected, rtol=0, atol=1e-5)

            vertices = out['vertices'][0].numpy().astype(np.float64)
            uv = (cam['focal_length'][i] * vertices[:, :2] / vertices[:, 2:]
                  + cam['principal_point'][i])
            x, y, w, h, _ = split_data['bbox_xywh'][i]
            np.testing.assert_allclose([x, y, x + w, y + h],
                                       np.concatenate([uv.min(0), uv.max(0)]), atol=1e-2)


def test_root_joint_is_the_rest_root_of_the_gendered_shape(dataset, body_model_dir):
    """smpl_root_joint = joint 0 of the shaped body in zero pose, and SMPL turns about it."""
    _, data = dataset
    models = {g: SMPL(body_model_dir, gender=g) for g in GENDERS}
    for split_data in data.values():
        smpl = split_data['smpl'].item()
        genders = split_data['meta'].item()['gender']
        for i, gender in enumerate(genders):
            with torch.no_grad():
                rest = models[str(gender)](smpl['betas'][i:i + 1], torch.zeros(1, 23, 3),
                                           torch.zeros(1, 3))
                posed = models[str(gender)](smpl['betas'][i:i + 1], smpl['body_pose'][i:i + 1],
                                            smpl['global_orient'][i:i + 1],
                                            smpl['transl'][i:i + 1])
            root = split_data['smpl_root_joint'][i]
            np.testing.assert_allclose(root, rest['joints'][0, 0].numpy(), rtol=0, atol=1e-6)
            np.testing.assert_allclose(root + smpl['transl'][i], posed['joints'][0, 0].numpy(),
                                       rtol=0, atol=1e-5)
        np.testing.assert_allclose(
            split_data['smpl_root_joint'],
            compute_root_joints(smpl['betas'], genders, body_model_dir), rtol=0, atol=1e-6)


def test_rendered_person_covers_the_torso_joints(dataset, body_models):
    out_dir, data = dataset
    options = SyntheticOptions(image_size=IMAGE_SIZE)
    torso = [get_keypoint_index(name, 'human_data') for name in TORSO_JOINTS]
    checked = 0
    for split, split_data in data.items():
        for i in range(len(split_data['image_path'])):
            sample = render_synthetic_sample(sample_rng(SEED, split, i), body_models,
                                             options)
            # The regenerated sample is the stored one ...
            np.testing.assert_array_equal(sample.annotation['keypoints2d'],
                                          split_data['keypoints2d'][i])
            stored = cv2.imread(osp.join(out_dir, split_data['image_path'][i]))
            # JPEG at quality 90 of a noisy 160x120 image: a few grey levels on average.
            assert np.abs(stored.astype(int) - sample.image).mean() < MAX_JPEG_ERROR
            # ... and its silhouette holds every torso joint that is in the image.
            for u, v, conf in sample.annotation['keypoints2d'][torso]:
                if conf > 0:
                    assert sample.mask[int(round(v)), int(round(u))]
                    checked += 1
            assert sample.mask.any()
    assert checked > 0


def test_deterministic_across_runs_and_worker_counts(dataset, body_model_dir, tmp_path):
    out_dir, data = dataset
    paths = generate_synthetic_dataset(str(tmp_path), image_size=IMAGE_SIZE, seed=SEED,
                                       body_model_dir=body_model_dir, workers=2, **COUNTS)
    for split, path in paths.items():
        with np.load(path, allow_pickle=True) as npz:
            again = _flatten({key: npz[key] for key in npz.files})
        first = _flatten(data[split])
        assert sorted(again) == sorted(first)
        for key in first:
            np.testing.assert_array_equal(again[key], first[key], err_msg=key)
        for rel in first['image_path']:
            with open(osp.join(out_dir, rel), 'rb') as a, open(osp.join(tmp_path, rel), 'rb') as b:
                assert a.read() == b.read(), rel


def test_samples_differ_across_seeds_and_indices(dataset, body_models):
    _, data = dataset
    options = SyntheticOptions(image_size=IMAGE_SIZE)
    other_seed = render_synthetic_sample(sample_rng(SEED + 1, 'train', 0), body_models, options)
    assert not np.array_equal(other_seed.annotation['keypoints3d'],
                              data['train']['keypoints3d'][0])
    assert not np.array_equal(data['train']['keypoints3d'][0], data['train']['keypoints3d'][1])
    assert not np.array_equal(data['train']['keypoints3d'][0], data['val']['keypoints3d'][0])


def test_pose_sampler_respects_hinges_and_upright_orientation():
    rng = np.random.default_rng(0)
    poses = np.stack([sample_body_pose(rng)[0] for _ in range(NUM_POSE_DRAWS)])
    rotmats = axis_angle_to_rotmat(poses)  # (N, 23, 3, 3)
    row = {name: i - 1 for i, name in enumerate(get_keypoint_names('smpl_24'))}
    tolerance = 0.03  # metres per metre: small twists of the hinge joints are allowed
    for side in ('left', 'right'):
        # Knees bend backwards: the shin (rest direction -y) never points forward (+z).
        shin = rotmats[:, row[f'{side}_knee']] @ np.array([0.0, -1.0, 0.0])
        assert (shin[:, 2] <= tolerance).all()
        # Elbows bend forwards: the forearm (rest direction +-x) never points backward.
        rest = np.array([1.0 if side == 'left' else -1.0, 0.0, 0.0])
        forearm = rotmats[:, row[f'{side}_elbow']] @ rest
        assert (forearm[:, 2] >= -tolerance).all()
    assert poses[:, row['left_knee'], 0].max() > 1.0  # knees do bend

    orients = np.stack([sample_global_orient(rng) for _ in range(NUM_POSE_DRAWS)])
    rotmats = axis_angle_to_rotmat(orients)
    up = rotmats @ np.array([0.0, 1.0, 0.0])  # SMPL's up in the camera frame (y down)
    assert (up[:, 1] < -0.6).all()
    facing = (rotmats @ np.array([0.0, 0.0, 1.0]))[:, 2]
    assert (facing < -0.5).any() and (facing > 0.5).any()  # towards and away from the camera


def test_truncation_puts_the_box_across_the_border(body_models):
    options = SyntheticOptions(image_size=IMAGE_SIZE, truncation_prob=1.0)
    width, height = IMAGE_SIZE
    for i in range(8):
        sample = render_synthetic_sample(np.random.default_rng(i), body_models, options)
        x, y, w, h, _ = sample.annotation['bbox_xywh']
        assert x < 0 or y < 0 or x + w > width - 1 or y + h > height - 1
        assert sample.mask.any()


def test_bad_arguments_raise_clear_errors(tmp_path, body_model_dir):
    with pytest.raises(ValueError, match='num_val'):
        generate_synthetic_dataset(str(tmp_path), 1, -1, 0, body_model_dir=body_model_dir)
    with pytest.raises(ValueError, match='image_size'):
        SyntheticOptions(image_size=(8, 8))
    partial = tmp_path / 'partial'
    partial.mkdir()
    (partial / 'SMPL_NEUTRAL.pkl').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='J_regressor_h36m.npy'):
        generate_synthetic_dataset(str(tmp_path / 'out'), 1, 0, 0, body_model_dir=str(partial))


def test_torso_front_differs_from_its_back(body_models):
    """The front print is what lets a model tell a person facing the camera from one facing
    away: it must sit on the chest side of the trunk only, in a contrasting lightness."""
    for gender, front in body_models.front.items():
        model = body_models.models[gender].body_model
        rest = model.v_template.numpy()
        labels = body_models.part_labels[gender]
        trunk = np.isin(labels, [3, 6, 9])  # spine_1, spine_2, spine_3
        assert front.any() and not (front & ~trunk).any()
        # Chest side: +z is forward in SMPL's rest frame.
        assert rest[front, 2].mean() > rest[trunk & ~front, 2].mean() + 0.02
    labels = body_models.part_labels['neutral']
    front = body_models.front['neutral']
    hair = body_models.hair['neutral']
    printed = 0
    for seed in range(20):
        colors = sample_person_colors(np.random.default_rng(seed), labels, hair, front)
        back = colors[np.isin(labels, [3, 6, 9]) & ~front].mean(axis=0)
        chest = colors[front].mean(axis=0)
        if not np.allclose(chest, back, atol=30):
            printed += 1
            # Light shirts get a darker print and dark shirts a lighter one.
            assert (chest.mean() - back.mean()) * (back.mean() - 127.5) < 0
    assert printed >= 12
    # Without the mask the colours are the plain per-part clothing.
    plain = sample_person_colors(np.random.default_rng(0), labels, hair)
    assert np.allclose(plain[front].std(axis=0), plain[np.isin(labels, [3, 6, 9])].std(axis=0),
                       atol=15)


def test_yaw_range_and_clutter_free_backgrounds():
    rng = np.random.default_rng(1)
    max_yaw = 0.5
    orients = np.stack([sample_global_orient(rng, max_yaw) for _ in range(NUM_POSE_DRAWS)])
    forward = axis_angle_to_rotmat(orients) @ np.array([0.0, 0.0, 1.0])
    # Towards the camera (-z) within max_yaw about the vertical, plus the small tilts.
    yaw = np.arctan2(forward[:, 0], -forward[:, 2])
    assert np.abs(yaw).max() <= max_yaw + 0.15 and np.abs(yaw).max() > 0.8 * max_yaw
    assert (forward[:, 2] < -0.5).all()

    def roughness(image):
        return np.abs(cv2.Laplacian(image.astype(np.float32), cv2.CV_32F)).mean()

    smooth = [roughness(sample_background(np.random.default_rng(s), 60, 80, clutter=False))
              for s in range(12)]
    cluttered = [roughness(sample_background(np.random.default_rng(s), 60, 80))
                 for s in range(12)]
    assert max(smooth) < 4.0 < np.median(cluttered)
    with pytest.raises(ValueError, match='max_yaw'):
        SyntheticOptions(image_size=(64, 64), max_yaw=4.0)
