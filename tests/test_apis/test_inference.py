"""init_model / inference_mesh on a tiny Multi-RoI model with random weights.

The model is the quickstart config shrunk like ``tests/test_engine/conftest.py::tiny_config``
(64x48 crops, 3 RoIs, a tiny backbone); the images are a 3-person synthetic test split at
160x120. Independent truths: CLIFF's focal length ``sqrt(160^2 + 120^2) = 200`` px, RoI sizes
computed by hand from the boxes, and the closed form of the crop -> full camera (a crop camera
``(s, tx, ty)`` puts the body point ``(-tx, -ty, 0)`` at the RoI centre, at depth
``2 f / (b s)``).
"""
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mroi_plugin.apis import (
    CheckpointMismatchError,
    InvalidBoxError,
    inference_mesh,
    init_model,
)
from mroi_plugin.geometry import perspective_projection
from tests.tiny_configs import tiny_quickstart_config

REPO = Path(__file__).resolve().parents[2]
IMAGE_W, IMAGE_H = 160, 120
CLIFF_FOCAL = 200.0  # sqrt(160^2 + 120^2)
CROP_H, CROP_W = 64, 48
NUM_ROIS = 3
BBOX_SCALE = 1.2
NUM_VERTICES = 6890
NUM_JOINTS = 24  # smpl_24


def tiny_cfg(body_dir: Path, widths=(8, 16, 32, 64)) -> Config:
    """The quickstart model at test size (random weights, no mean-parameter file)."""
    return tiny_quickstart_config(body_dir, widths=widths, num_rois=NUM_ROIS,
                                  crop_size=(CROP_H, CROP_W))


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict:
    from mroi_plugin.synthetic import generate_synthetic_dataset
    from mroi_plugin.synthetic.standin import write_standin_smpl
    root = tmp_path_factory.mktemp('inference')
    write_standin_smpl(str(root / 'body_models'), seed=0)
    generate_synthetic_dataset(
        str(root / 'synthetic'), num_train=0, num_val=0, num_test=3,
        image_size=(IMAGE_W, IMAGE_H), seed=0, body_model_dir=str(root / 'body_models'),
        workers=1)
    ann = np.load(root / 'synthetic' / 'test.npz', allow_pickle=True)
    xywh = ann['bbox_xywh'][:, :4].astype(np.float64)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    images = [str(root / 'synthetic' / str(p)) for p in ann['image_path']]
    cfg = tiny_cfg(root / 'body_models')
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='random weights'):
        source = init_model(cfg)
    checkpoint = root / 'tiny.pth'
    torch.save({'state_dict': source.state_dict(), 'meta': {'note': 'random'}}, checkpoint)
    return dict(root=root, cfg=cfg, checkpoint=str(checkpoint), images=images, boxes=xyxy,
                state=source.state_dict())


@pytest.fixture(scope='module')
def model(data):
    return init_model(data['cfg'], data['checkpoint'])


def _two_boxes(data) -> np.ndarray:
    # Two people in one image: the first image's box and a box next to it.
    box = data['boxes'][0]
    return np.stack([box, box + np.array([40.0, 5.0, 40.0, 5.0])])


# ------------------------------------------------------------------------------ init_model
def test_init_model_loads_weights_in_eval_mode(data, model):
    assert model.cfg.model.type == 'MultiRoIHMR'
    assert not model.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, data['state'][key], rtol=0, atol=0)


def test_init_model_accepts_module_prefix_and_cfg_options(data, tmp_path):
    checkpoint = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in data['state'].items()}}, checkpoint)
    model = init_model(data['cfg'], str(checkpoint),
                       cfg_options={'model.test_cfg.camera': 'mean'})
    assert model.test_cfg['camera'] == 'mean'
    assert model.cfg.model.test_cfg.camera == 'mean'
    # The caller's config is not modified.
    assert data['cfg'].model.test_cfg.camera == 'roi0'


def test_missing_mean_params_file_is_not_needed_with_a_checkpoint(data, tmp_path):
    # A checkpoint whose regressor start values differ from the built-in defaults.
    state = {k: v.clone() for k, v in data['state'].items()}
    init_keys = [k for k in state if k.rsplit('.', 1)[-1].startswith('init_')]
    assert init_keys
    for key in init_keys:
        state[key] += 0.25
    checkpoint = tmp_path / 'with_means.pth'
    torch.save({'state_dict': state}, checkpoint)
    cfg = data['cfg'].copy()
    cfg.merge_from_dict({'model.head.mean_params': str(tmp_path / 'mean_params.npz')})
    with pytest.raises(FileNotFoundError, match='mean_params.npz'):
        init_model(cfg)
    with pytest.warns(UserWarning, match='mean_params.npz.*not found'):
        model = init_model(cfg, str(checkpoint))
    loaded = model.state_dict()
    for key in init_keys:
        torch.testing.assert_close(loaded[key], state[key], rtol=0, atol=0)
    assert cfg.model.head.mean_params == str(tmp_path / 'mean_params.npz')


def test_init_model_missing_files(data, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(data['cfg'], str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='no_config.py'):
        init_model(str(tmp_path / 'no_config.py'))


def test_init_model_shape_mismatch_names_keys(data, tmp_path):
    torch.manual_seed(1)
    with pytest.warns(UserWarning):
        wider = init_model(tiny_cfg(data['root'] / 'body_models', widths=(8, 16, 32, 96)))
    checkpoint = tmp_path / 'wider.pth'
    torch.save({'state_dict': wider.state_dict()}, checkpoint)
    with pytest.raises(CheckpointMismatchError) as info:
        init_model(data['cfg'], str(checkpoint))
    message = str(info.value)
    assert 'wider.pth' in message and 'shape mismatch' in message
    assert 'backbone.' in message and '(checkpoint (96,' in message


def test_init_model_missing_and_unexpected_keys(data, tmp_path):
    state = dict(data['state'])
    dropped = sorted(k for k in state if k.startswith('head.'))[0]
    del state[dropped]
    state['head.not_a_layer.weight'] = torch.zeros(2)
    checkpoint = tmp_path / 'edited.pth'
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointMismatchError) as info:
        init_model(data['cfg'], str(checkpoint))
    message = str(info.value)
    assert f'1 missing key(s) in the checkpoint: {dropped}' in message
    assert '1 unexpected key(s) in the checkpoint: head.not_a_layer.weight' in message


def test_init_model_unreadable_checkpoint(data, tmp_path):
    checkpoint = tmp_path / 'garbage.pth'
    checkpoint.write_bytes(b'this is not a checkpoint')
    with pytest.raises(ValueError, match='Cannot read checkpoint .*garbage.pth'):
        init_model(data['cfg'], str(checkpoint))


# --------------------------------------------------------------------------- inference_mesh
def test_inference_fields_and_shapes(data, model):
    boxes = _two_boxes(data)
    people = inference_mesh(model, data['images'][0], boxes)
    assert len(people) == 2
    for person, box in zip(people, boxes):
        assert person['pose'].shape == (24, 3)
        assert person['betas'].shape == (10, )
        assert person['vertices'].shape == (NUM_VERTICES, 3)
        assert person['vertices_local'].shape == (NUM_VERTICES, 3)
        assert person['joints3d'].shape == (NUM_JOINTS, 3)
        assert person['cam_full'].shape == (3, )
        assert person['cam_crop'].shape == (NUM_ROIS, 3)
        assert person['focal_length'] == pytest.approx(CLIFF_FOCAL)
        np.testing.assert_allclose(person['principal_point'], [IMAGE_W / 2, IMAGE_H / 2])
        np.testing.assert_allclose(person['bbox'], box, rtol=1e-6)
        assert person['score'] is None
        width, height = box[2] - box[0], box[3] - box[1]
        expected_size = max(height, width / (CROP_W / CROP_H)) * BBOX_SCALE
        assert person['bbox_size'] == pytest.approx(expected_size, rel=1e-6)
        np.testing.assert_allclose(person['bbox_center'], (box[:2] + box[2:]) / 2, rtol=1e-6)
        assert all(np.isfinite(v).all() for v in person.values() if isinstance(v, np.ndarray))
        # Camera-frame outputs are the body-frame ones moved by cam_full.
        np.testing.assert_allclose(person['vertices'] - person['cam_full'],
                                   person['vertices_local'], atol=1e-5)
        np.testing.assert_allclose(person['joints3d'] - person['cam_full'],
                                   person['joints3d_local'], atol=1e-5)


def test_projection_self_consistency(data, model):
    """Projecting body-frame vertices with cam_full == projecting the camera-frame ones."""
    person = inference_mesh(model, data['images'][1], data['boxes'][1:2])[0]
    focal = np.float64(person['focal_length'])
    principal = person['principal_point'].astype(np.float64)
    with_translation = perspective_projection(
        person['vertices_local'].astype(np.float64), person['cam_full'].astype(np.float64),
        focal, principal)
    in_camera = perspective_projection(person['vertices'].astype(np.float64), np.zeros(3), focal,
                                       principal)
    np.testing.assert_allclose(with_translation, in_camera, atol=1e-3)
    centroid = person['vertices'].astype(np.float64).mean(axis=0)
    expected = focal * centroid[:2] / centroid[2] + principal
    np.testing.assert_allclose(
        perspective_projection(centroid[None], np.zeros(3), focal, principal)[0], expected)


@pytest.mark.parametrize('focal_length, principal_point', [(None, None), (321.0, None),
                                                            (None, (70.0, 50.0))])
def test_forced_crop_camera_lands_on_the_box(data, model, monkeypatch, focal_length,
                                             principal_point):
    """With the head's crop camera forced to (s, tx, ty), the body point (-tx, -ty, 0) projects
    exactly to the box centre at depth 2 f / (b s) (CLIFF's crop -> full camera)."""
    scale, tx, ty = 0.8, 0.05, -0.1
    original = model.head.forward

    def forced(*args, **kwargs):
        preds = original(*args, **kwargs)
        cam = preds['pred_cam_crop']
        preds['pred_cam_crop'] = cam.new_tensor([scale, tx, ty]).expand_as(cam).clone()
        return preds

    monkeypatch.setattr(model.head, 'forward', forced)
    boxes = _two_boxes(data)
    people = inference_mesh(model, data['images'][0], boxes, focal_length=focal_length,
                            principal_point=principal_point)
    focal = CLIFF_FOCAL if focal_length is None else focal_length
    principal = (IMAGE_W / 2, IMAGE_H / 2) if principal_point is None else principal_point
    for person, box in zip(people, boxes):
        assert person['focal_length'] == pytest.approx(focal)
        np.testing.assert_allclose(person['principal_point'], principal)
        width, height = box[2] - box[0], box[3] - box[1]
        size = max(height, width / (CROP_W / CROP_H)) * BBOX_SCALE
        assert person['cam_full'][2] == pytest.approx(2 * focal / (size * scale), rel=1e-5)
        point = np.array([[-tx, -ty, 0.0]])
        uv = perspective_projection(point, person['cam_full'].astype(np.float64),
                                    np.float64(focal), person['principal_point'].astype(float))
        np.testing.assert_allclose(uv[0], (box[:2] + box[2:]) / 2, atol=1e-3)


def test_array_input_and_batching_match_single_runs(data, model):
    boxes = _two_boxes(data)
    from_path = inference_mesh(model, data['images'][0], boxes)
    image = cv2.imread(data['images'][0])
    from_array = inference_mesh(model, image, boxes)
    alone = inference_mesh(model, image, boxes[1:])
    for key in ('pose', 'betas', 'vertices', 'cam_full'):
        np.testing.assert_allclose(from_array[0][key], from_path[0][key], atol=1e-6)
        # People in one batch do not influence each other.
        np.testing.assert_allclose(from_array[1][key], alone[0][key], atol=1e-4)


def test_scores_are_passed_through(data, model):
    box = np.append(data['boxes'][2], 0.87)
    person = inference_mesh(model, data['images'][2], box[None])[0]
    assert person['score'] == pytest.approx(0.87)
    np.testing.assert_allclose(person['bbox'], data['boxes'][2], rtol=1e-6)


def test_no_boxes_gives_no_people(data, model):
    assert inference_mesh(model, data['images'][0], np.zeros((0, 4))) == []


@pytest.mark.parametrize('bad_box, index, pattern', [
    ([10, 10, 5, 50], 1, 'Box 1 .* degenerate'),
    ([10, 10, 10.5, 50], 1, 'Box 1 .* degenerate'),
    ([float('nan'), 10, 40, 50], 1, 'Box 1 .* degenerate'),
    ([IMAGE_W + 5, 10, IMAGE_W + 60, 50], 1, f'Box 1 .* outside the {IMAGE_W}x{IMAGE_H}'),
    ([-80, -90, -1, -2], 1, 'Box 1 .* outside'),
])
def test_bad_boxes_name_the_box(data, model, bad_box, index, pattern):
    boxes = np.array([data['boxes'][0], bad_box], dtype=np.float64)
    with pytest.raises(InvalidBoxError, match=pattern):
        inference_mesh(model, data['images'][0], boxes)


def test_box_crossing_the_border_is_accepted(data, model):
    people = inference_mesh(model, data['images'][0], [[-20.0, 30.0, 40.0, IMAGE_H + 30.0]])
    assert len(people) == 1 and np.isfinite(people[0]['vertices']).all()


def test_bad_box_array_shape(data, model):
    with pytest.raises(InvalidBoxError, match=r'\(M, 4\)'):
        inference_mesh(model, data['images'][0], [[1, 2, 3]])


def test_bad_images(data, model, tmp_path):
    box = data['boxes'][:1]
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inference_mesh(model, str(tmp_path / 'missing.jpg'), box)
    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='Cannot decode image .*corrupt.jpg'):
        inference_mesh(model, str(corrupt), box)
    with pytest.raises(ValueError, match=r'\(H, W, 3\) uint8'):
        inference_mesh(model, np.zeros((IMAGE_H, IMAGE_W), np.uint8), box)
    with pytest.raises(ValueError, match='focal_length'):
        inference_mesh(model, data['images'][0], box, focal_length=-1.0)


def test_model_without_cfg_is_refused(data):
    with pytest.warns(UserWarning):
        model = init_model(data['cfg'])
    del model.cfg
    with pytest.raises(AttributeError, match='init_model'):
        inference_mesh(model, data['images'][0], data['boxes'][:1])


def test_focal_default_is_cliff_estimate_for_other_sizes(data, model):
    image = cv2.resize(cv2.imread(data['images'][0]), (300, 400))
    person = inference_mesh(model, image, [[50.0, 60.0, 200.0, 380.0]])[0]
    assert person['focal_length'] == pytest.approx(math.hypot(300, 400))
    np.testing.assert_allclose(person['principal_point'], [150.0, 200.0])
