"""tools/demo.py end to end on a tiny random-weight model, and its building blocks.

Images come from a 3-person synthetic split (160x120); the boxes are the split's annotated
boxes. The demo is run in-process through ``main(argv)``, which returns the exit code.
"""
import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mroi_plugin.apis import inference_mesh, init_model
from mroi_plugin.visualization import (
    render_side_view,
    rotate_about_vertical,
    side_by_side,
    write_obj,
)
from tests.tiny_configs import tiny_quickstart_config

REPO = Path(__file__).resolve().parents[2]
IMAGE_W, IMAGE_H = 160, 120
NUM_VERTICES = 6890


def _load_demo():
    spec = importlib.util.spec_from_file_location('_mroi_tool_demo', REPO / 'tools' / 'demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def tiny_cfg(body_dir: Path, widths=(8, 16, 32, 64)) -> Config:
    """The quickstart model at test size: 64x48 crops, 2 RoIs, a tiny backbone."""
    return tiny_quickstart_config(body_dir, widths=widths, num_rois=2, crop_size=(64, 48))


def _save_random_checkpoint(cfg: Config, path: Path, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    with pytest.warns(UserWarning, match='random weights'):
        model = init_model(cfg)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model.state_dict()


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> dict:
    from mroi_plugin.synthetic import generate_synthetic_dataset
    from mroi_plugin.synthetic.standin import write_standin_smpl
    root = tmp_path_factory.mktemp('demo')
    write_standin_smpl(str(root / 'body_models'), seed=0)
    generate_synthetic_dataset(
        str(root / 'synthetic'), num_train=0, num_val=0, num_test=3,
        image_size=(IMAGE_W, IMAGE_H), seed=0, body_model_dir=str(root / 'body_models'),
        workers=1)
    ann = np.load(root / 'synthetic' / 'test.npz', allow_pickle=True)
    cfg = tiny_cfg(root / 'body_models')
    config_file = root / 'tiny_config.py'
    cfg.dump(str(config_file))
    checkpoint = root / 'tiny.pth'
    _save_random_checkpoint(cfg, checkpoint)
    images = [root / 'synthetic' / str(p) for p in ann['image_path']]
    return dict(root=root, cfg=cfg, config=str(config_file), checkpoint=str(checkpoint),
                images=images, xywh=ann['bbox_xywh'][:, :4].astype(np.float64))


def _xyxy(xywh: np.ndarray) -> list:
    x, y, w, h = (float(v) for v in xywh)
    return [x, y, x + w, y + h]


def _run(setup, input_path, out_dir, *extra) -> int:
    return demo.main([str(input_path), setup['config'], setup['checkpoint'], '--out-dir',
                      str(out_dir), *map(str, extra)])


def _count_obj_lines(path: Path) -> tuple:
    lines = path.read_text().splitlines()
    return (sum(line.startswith('v ') for line in lines),
            sum(line.startswith('f ') for line in lines))


# ------------------------------------------------------------------------------ end to end
def test_folder_with_a_corrupt_file(setup, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    names = []
    for image in setup['images'][:2]:
        (folder / image.name).write_bytes(image.read_bytes())
        names.append(image.name)
    (folder / 'broken.jpg').write_bytes(b'definitely not a jpeg')
    (folder / 'notes.txt').write_text('ignored: not an image extension')
    boxes = {name: [_xyxy(xywh)] for name, xywh in zip(names, setup['xywh'])}
    boxes['broken.jpg'] = [[1, 1, 50, 50]]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps(boxes))
    out = tmp_path / 'out'

    code = _run(setup, folder, out, '--bboxes', box_file)

    assert code == demo.EXIT_FAILED_INPUTS
    stderr = capsys.readouterr().err
    assert '1 input(s) failed' in stderr and 'broken.jpg' in stderr.split('failed:')[1]
    model = init_model(setup['config'], setup['checkpoint'])
    faces = model.body_model.faces
    for name, xywh in zip(names, setup['xywh']):
        stem = Path(name).stem
        composite = cv2.imread(str(out / f'{stem}_mesh.jpg'))
        assert composite.shape == (IMAGE_H, 2 * IMAGE_W, 3)
        assert _count_obj_lines(out / f'{stem}_person00.obj') == (NUM_VERTICES, len(faces))
        saved = json.loads((out / f'{stem}_person00.json').read_text())
        expected = inference_mesh(model, str(folder / name), [_xyxy(xywh)])[0]
        np.testing.assert_allclose(saved['pose'], expected['pose'], atol=1e-5)
        np.testing.assert_allclose(saved['cam_full'], expected['cam_full'], atol=1e-5)
        np.testing.assert_allclose(saved['bbox'], _xyxy(xywh), atol=1e-4)
        assert saved['focal_length'] == pytest.approx(math.hypot(IMAGE_W, IMAGE_H))
        assert saved['image_size'] == [IMAGE_W, IMAGE_H]
        assert len(saved['betas']) == 10
    assert not list(out.glob('broken*'))


def test_video_writes_an_output_video(setup, tmp_path):
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10.0,
                             (IMAGE_W, IMAGE_H))
    for image in setup['images']:
        writer.write(cv2.imread(str(image)))
    writer.release()
    # COCO-style list keyed by frame index; frame 2 has no entry (no person).
    boxes = [dict(image_id=index, bbox=setup['xywh'][index].tolist(), score=0.9,
                  category_id=1) for index in range(2)]
    boxes.append(dict(image_id=1, bbox=[0, 0, 30, 30], category_id=3))  # not a person
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps(boxes))
    out = tmp_path / 'out'

    assert _run(setup, video, out, '--bboxes', box_file) == demo.EXIT_OK

    capture = cv2.VideoCapture(str(out / 'clip_mesh.mp4'))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 3
    assert all(frame.shape == (IMAGE_H, 2 * IMAGE_W, 3) for frame in frames)
    for index in range(3):
        assert (out / f'clip_{index:06d}_mesh.jpg').is_file()
    assert sorted(p.name for p in out.glob('*.obj')) == [
        'clip_000000_person00.obj', 'clip_000001_person00.obj']


def test_no_person_warns_and_keeps_going(setup, tmp_path, capsys):
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({'someone_else.jpg': [[1, 2, 30, 40]]}))
    out = tmp_path / 'out'
    image = setup['images'][0]
    assert _run(setup, image, out, '--bboxes', box_file) == demo.EXIT_OK
    assert 'no person found' in capsys.readouterr().err
    composite = cv2.imread(str(out / f'{image.stem}_mesh.jpg'))
    # No mesh: the left half is the image, the right half the plain side-view background.
    original = cv2.imread(str(image))
    assert np.abs(composite[:, :IMAGE_W].astype(int) - original).mean() < 3
    # (JPEG ringing blurs the seam between the halves.)
    assert composite[:, IMAGE_W + 8:].min() > 240
    assert not list(out.glob('*.obj'))


def test_low_scores_are_dropped(setup, tmp_path, capsys):
    image = setup['images'][0]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({image.name: [_xyxy(setup['xywh'][0]) + [0.3]]}))
    out = tmp_path / 'out'
    assert _run(setup, image, out, '--bboxes', box_file) == demo.EXIT_OK
    assert not list(out.glob('*.obj'))
    assert _run(setup, image, out, '--bboxes', box_file, '--score-thr', 0.2) == demo.EXIT_OK
    assert (out / f'{image.stem}_person00.obj').is_file()


def test_box_outside_the_image_is_reported(setup, tmp_path, capsys):
    image = setup['images'][0]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({image.name: [_xyxy(setup['xywh'][0]),
                                                 [500, 500, 600, 700]]}))
    assert _run(setup, image, tmp_path / 'out', '--bboxes', box_file) == demo.EXIT_FAILED_INPUTS
    stderr = capsys.readouterr().err
    assert 'Box 1' in stderr and 'outside' in stderr and image.name in stderr


def test_mismatched_checkpoint_stops_before_any_frame(setup, tmp_path, capsys):
    checkpoint = tmp_path / 'other.pth'
    _save_random_checkpoint(tiny_cfg(setup['root'] / 'body_models', widths=(8, 16, 32, 96)),
                            checkpoint)
    out = tmp_path / 'out'
    code = demo.main([str(setup['images'][0]), setup['config'], str(checkpoint), '--out-dir',
                      str(out), '--bboxes', str(tmp_path / 'unused.json')])
    assert code == demo.EXIT_SETUP_ERROR  # the box file is checked first
    assert 'unused.json' in capsys.readouterr().err
    (tmp_path / 'unused.json').write_text('{}')
    code = demo.main([str(setup['images'][0]), setup['config'], str(checkpoint), '--out-dir',
                      str(out), '--bboxes', str(tmp_path / 'unused.json')])
    assert code == demo.EXIT_SETUP_ERROR
    stderr = capsys.readouterr().err
    assert 'does not match' in stderr and 'other.pth' in stderr and 'shape mismatch' in stderr
    assert not out.exists()


def test_unreadable_video_and_missing_input(setup, tmp_path, capsys):
    video = tmp_path / 'broken.mp4'
    video.write_bytes(b'not a video at all')
    box_file = tmp_path / 'boxes.json'
    box_file.write_text('{}')
    assert _run(setup, video, tmp_path / 'out', '--bboxes', box_file) == demo.EXIT_FAILED_INPUTS
    assert 'broken.mp4' in capsys.readouterr().err.split('failed:')[1]
    assert _run(setup, tmp_path / 'nothing_here', tmp_path / 'out', '--bboxes',
                box_file) == demo.EXIT_SETUP_ERROR
    assert 'Input not found' in capsys.readouterr().err


def test_detector_unavailable_messages(setup, tmp_path, capsys, monkeypatch):
    image = setup['images'][0]
    if importlib.util.find_spec('mmdet') is None:
        code = _run(setup, image, tmp_path / 'out', '--det-config', 'det.py',
                    '--det-checkpoint', 'det.pth')
        assert code == demo.EXIT_SETUP_ERROR
        assert 'mmdet' in capsys.readouterr().err
    monkeypatch.delattr(cv2, 'HOGDescriptor', raising=False)
    assert _run(setup, image, tmp_path / 'out') == demo.EXIT_SETUP_ERROR
    assert 'HOG' in capsys.readouterr().err
    code = _run(setup, image, tmp_path / 'out', '--bboxes', tmp_path / 'b.json', '--det-config',
                'det.py', '--det-checkpoint', 'det.pth')
    assert code == demo.EXIT_SETUP_ERROR
    assert 'not both' in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(cv2, 'HOGDescriptor'),
                    reason='this OpenCV build has no HOG people detector (OpenCV 5 moved it '
                    'to opencv-contrib)')
def test_hog_detector_output_format():
    detector = demo.HOGPeopleDetector()
    assert detector(np.full((IMAGE_H, IMAGE_W, 3), 127, np.uint8)).shape == (0, 5)
    # A bright upright silhouette on a dark background: whatever is found is well formed.
    img = np.zeros((480, 640, 3), np.uint8)
    cv2.ellipse(img, (320, 150), (25, 30), 0, 0, 360, (230, 230, 230), -1)
    cv2.rectangle(img, (285, 180), (355, 330), (230, 230, 230), -1)
    cv2.rectangle(img, (290, 330), (315, 450), (230, 230, 230), -1)
    cv2.rectangle(img, (325, 330), (350, 450), (230, 230, 230), -1)
    boxes = detector(img)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and np.isfinite(boxes).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


PW3D_SAMPLE = Path('/work/shared/data/real_samples/pw3d_real')


@pytest.mark.skipif(not hasattr(cv2, 'HOGDescriptor') or not PW3D_SAMPLE.is_dir(),
                    reason='needs OpenCV with HOG (opencv-contrib in OpenCV 5) and the shared '
                    '3DPW sample')
def test_hog_detector_finds_the_annotated_person():
    ann = np.load(PW3D_SAMPLE / 'pw3d_real_sample.npz', allow_pickle=True)
    img = cv2.imread(str(PW3D_SAMPLE / str(ann['image_path'][0])))
    x, y, w, h = ann['bbox_xywh'][0, :4]
    height, width = img.shape[:2]
    # The annotated box runs past the bottom of the image: compare the visible part.
    truth = np.array([max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)])
    boxes = demo.HOGPeopleDetector()(img)
    top_left = np.maximum(boxes[:, :2], truth[:2])
    bottom_right = np.minimum(boxes[:, 2:4], truth[2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    areas = np.prod(boxes[:, 2:4] - boxes[:, :2], axis=1)
    iou = inter / (areas + np.prod(truth[2:] - truth[:2]) - inter)
    assert iou.max() > 0.4


# -------------------------------------------------------------------------- building blocks
def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 5, 10, 15]], float)
    scores = np.array([0.5, 0.9, 0.7, 0.8])
    # IoU(1, 0) = 90/110 > 0.45: box 0 goes; IoU(1, 3) = 45/155 and IoU(3, 0) unused.
    assert demo._nms(boxes, scores, 0.45).tolist() == [1, 3, 2]


def test_box_file_formats(tmp_path):
    mapping = tmp_path / 'mapping.json'
    mapping.write_text(json.dumps({'a/b.jpg': [[1, 2, 30, 40, 0.5]], 'c.png': []}))
    table = demo.load_bbox_file(str(mapping))
    np.testing.assert_allclose(table['b.jpg'], [[1, 2, 30, 40, 0.5]])
    assert table['c.png'].shape == (0, 4)

    coco = tmp_path / 'coco.json'
    coco.write_text(json.dumps(dict(
        images=[dict(id=7, file_name='x.jpg')],
        annotations=[dict(image_id=7, bbox=[10, 20, 30, 40], category_id=1),
                     dict(image_id=7, bbox=[0, 0, 5, 5], category_id=18)])))
    np.testing.assert_allclose(demo.load_bbox_file(str(coco))['x.jpg'], [[10, 20, 40, 60]])

    flat = tmp_path / 'flat.json'
    flat.write_text(json.dumps([dict(file_name='y.jpg', bbox=[1, 1, 2, 3], score=0.75)]))
    np.testing.assert_allclose(demo.load_bbox_file(str(flat))['y.jpg'], [[1, 1, 3, 4, 0.75]])
    assert demo.lookup_boxes({}, ['y.jpg']).shape == (0, 4)

    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'z.jpg': [[1, 2, 3]]}))
    with pytest.raises(demo.SetupError, match="bad.json, key 'z.jpg'"):
        demo.load_bbox_file(str(bad))
    bad.write_text(json.dumps([dict(file_name='z.jpg')]))
    with pytest.raises(demo.SetupError, match='entry 0'):
        demo.load_bbox_file(str(bad))
    bad.write_text('{not json')
    with pytest.raises(demo.SetupError, match='Cannot read box file'):
        demo.load_bbox_file(str(bad))


def test_write_obj_counts_and_indices(tmp_path):
    vertices = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 2]], float)
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    path = tmp_path / 'quad.obj'
    write_obj(path, vertices, faces, comment='two triangles')
    lines = path.read_text().splitlines()
    assert lines[0] == '# two triangles'
    assert [line for line in lines if line.startswith('f ')] == ['f 1 2 3', 'f 2 4 3']
    parsed = np.array([[float(x) for x in line.split()[1:]] for line in lines
                       if line.startswith('v ')])
    np.testing.assert_allclose(parsed, vertices)
    with pytest.raises(ValueError, match='face indices'):
        write_obj(path, vertices, faces + 2)


def test_side_view_rotation_is_a_quarter_turn_about_the_centre():
    center = np.array([0.5, 0.2, 5.0])
    points = center + np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 0.7, 0]])
    mesh = np.concatenate([points, 2 * center - points])  # symmetric: the mean is the centre
    turned = rotate_about_vertical([mesh])[0]
    # +90 deg about y (down): x -> -z, z -> x; the vertical axis through the centre is fixed.
    np.testing.assert_allclose(turned[0], center + [0, 0, -1.0], atol=1e-12)
    np.testing.assert_allclose(turned[1], center + [-1.0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(turned[2], points[2], atol=1e-12)
    four = mesh
    for _ in range(4):
        four = rotate_about_vertical([four])[0]
    np.testing.assert_allclose(four, mesh, atol=1e-12)


def test_side_view_of_a_wall_seen_edge_on():
    # A square facing the camera becomes, turned 90 degrees, a plane seen edge on: it covers
    # almost no pixels, while unturned (angle 0) it covers its projected area.
    square = np.array([[-0.5, -0.5, 4.0], [0.5, -0.5, 4.0], [0.5, 0.5, 4.0], [-0.5, 0.5, 4.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    kwargs = dict(focal_length=200.0, principal_point=(80.0, 60.0), image_shape=(120, 160),
                  framing='camera')
    front = render_side_view([square], faces, angle_deg=0.0, **kwargs)
    side = render_side_view([square], faces, **kwargs)
    covered_front = (front != 255).any(axis=2).sum()
    assert covered_front == pytest.approx(51 * 51, rel=0.1)  # 200 * 1 / 4 = 50 px side
    assert (side != 255).any(axis=2).sum() < covered_front / 20
    assert side_by_side(front, side).shape == (120, 320, 3)
