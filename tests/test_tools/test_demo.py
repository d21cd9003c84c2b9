"""tools/demo.py end to end on a tiny random-weight model (a thin CLI over MeshInferencer).

Images come from a 3-person synthetic split (160x120); the boxes are the split's annotated
boxes. The demo runs in-process through ``main(argv)``, which returns the exit code. The
building blocks (detectors, box files, tracking, side view) have their own tests in
tests/test_apis and tests/test_visualization.
"""
import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from mroi_plugin.apis import inference_mesh, init_model
from mroi_plugin.apis.video_io import iter_video
from tests.inference_fixtures import (
    IMAGE_H,
    IMAGE_W,
    make_inference_setup,
    save_random_checkpoint,
    tiny_cfg,
    xyxy,
)

REPO = Path(__file__).resolve().parents[2]
NUM_VERTICES = 6890


def _load_demo():
    spec = importlib.util.spec_from_file_location('_mroi_tool_demo', REPO / 'tools' / 'demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> dict:
    return make_inference_setup(tmp_path_factory.mktemp('demo'))


def _run(setup, input_path, out_dir, *extra) -> int:
    return demo.main([str(input_path), setup['config'], setup['checkpoint'], '--out-dir',
                      str(out_dir), *map(str, extra)])


def _count_obj_lines(path: Path) -> tuple:
    lines = path.read_text().splitlines()
    return (sum(line.startswith('v ') for line in lines),
            sum(line.startswith('f ') for line in lines))


def test_folder_with_a_corrupt_file(setup, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    names = []
    for image in setup['images'][:2]:
        (folder / image.name).write_bytes(image.read_bytes())
        names.append(image.name)
    (folder / 'broken.jpg').write_bytes(b'definitely not a jpeg')
    (folder / 'notes.txt').write_text('ignored: not an image extension')
    boxes = {name: [xyxy(xywh)] for name, xywh in zip(names, setup['xywh'])}
    boxes['broken.jpg'] = [[1, 1, 50, 50]]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps(boxes))
    out = tmp_path / 'out'

    code = _run(setup, folder, out, '--bboxes', box_file, '--batch-size', 2)

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
        saved = json.loads((out / f'{stem}.json').read_text())
        assert saved['image_size'] == [IMAGE_W, IMAGE_H]
        person = saved['people'][0]
        expected = inference_mesh(model, str(folder / name), [xyxy(xywh)])[0]
        np.testing.assert_allclose(person['pose'], expected['pose'], atol=1e-5)
        np.testing.assert_allclose(person['cam_full'], expected['cam_full'], atol=1e-5)
        np.testing.assert_allclose(person['bbox'], xyxy(xywh), atol=1e-4)
        assert person['focal_length'] == pytest.approx(math.hypot(IMAGE_W, IMAGE_H))
        assert len(person['betas']) == 10
    assert not list(out.glob('broken*'))


def test_video_writes_an_output_video(setup, tmp_path, capsys):
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

    assert _run(setup, video, out, '--bboxes', box_file, '--smooth') == demo.EXIT_OK

    frames = [frame for _, frame in iter_video(str(out / 'clip_mesh.mp4'))]
    assert len(frames) == 3
    assert all(frame.shape == (IMAGE_H, 2 * IMAGE_W, 3) for frame in frames)
    saved = json.loads((out / 'clip.json').read_text())
    assert [len(frame['people']) for frame in saved['frames']] == [1, 1, 0]
    assert [frame['people'][0]['track_id'] for frame in saved['frames'][:2]] == [0, 0]
    assert sorted(p.name for p in out.glob('*.obj')) == [
        'clip_000000_person00.obj', 'clip_000001_person00.obj']
    stdout = capsys.readouterr().out
    assert 'clip_mesh.mp4: 3 frames' in stdout
    if importlib.util.find_spec('av') is None and importlib.util.find_spec(
            'imageio_ffmpeg') is None:
        assert 'mp4v' in stdout and 'pip install av' in stdout


def test_no_person_keeps_going(setup, tmp_path):
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({'someone_else.jpg': [[1, 2, 30, 40]]}))
    out = tmp_path / 'out'
    image = setup['images'][0]
    assert _run(setup, image, out, '--bboxes', box_file) == demo.EXIT_OK
    composite = cv2.imread(str(out / f'{image.stem}_mesh.jpg'))
    # No mesh: the left half is the image, the right half the plain side-view background.
    original = cv2.imread(str(image))
    assert np.abs(composite[:, :IMAGE_W].astype(int) - original).mean() < 3
    # (JPEG ringing blurs the seam between the halves.)
    assert composite[:, IMAGE_W + 8:].min() > 240
    assert not list(out.glob('*.obj'))
    assert json.loads((out / f'{image.stem}.json').read_text())['people'] == []


def test_low_scores_are_dropped(setup, tmp_path):
    image = setup['images'][0]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({image.name: [xyxy(setup['xywh'][0]) + [0.3]]}))
    out = tmp_path / 'out'
    assert _run(setup, image, out, '--bboxes', box_file) == demo.EXIT_OK
    assert not list(out.glob('*.obj'))
    assert _run(setup, image, out, '--bboxes', box_file, '--score-thr', 0.2) == demo.EXIT_OK
    assert (out / f'{image.stem}_person00.obj').is_file()


def test_box_outside_the_image_is_reported(setup, tmp_path, capsys):
    image = setup['images'][0]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({image.name: [xyxy(setup['xywh'][0]),
                                                 [500, 500, 600, 700]]}))
    assert _run(setup, image, tmp_path / 'out', '--bboxes', box_file) == demo.EXIT_FAILED_INPUTS
    stderr = capsys.readouterr().err
    assert 'Box 1' in stderr and 'outside' in stderr and image.name in stderr


def test_mismatched_checkpoint_stops_before_any_frame(setup, tmp_path, capsys):
    checkpoint = tmp_path / 'other.pth'
    save_random_checkpoint(tiny_cfg(setup['root'] / 'body_models', widths=(8, 16, 32, 96)),
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


def test_detector_choices_and_messages(setup, tmp_path, capsys, monkeypatch):
    image = setup['images'][0]
    if importlib.util.find_spec('mmdet') is None:
        config = tmp_path / 'det.py'
        config.write_text('')
        code = _run(setup, image, tmp_path / 'out', '--det-config', config,
                    '--det-checkpoint', config)
        assert code == demo.EXIT_SETUP_ERROR
        assert 'mmdet' in capsys.readouterr().err
    code = _run(setup, image, tmp_path / 'out', '--detector', tmp_path / 'missing.onnx')
    assert code == demo.EXIT_SETUP_ERROR and 'missing.onnx' in capsys.readouterr().err
    code = _run(setup, image, tmp_path / 'out', '--bboxes', tmp_path / 'b.json', '--detector',
                'hog')
    assert code == demo.EXIT_SETUP_ERROR and 'not both' in capsys.readouterr().err
    code = _run(setup, image, tmp_path / 'out', '--det-config', 'det.py')
    assert code == demo.EXIT_SETUP_ERROR and 'go together' in capsys.readouterr().err
    monkeypatch.delattr(cv2, 'HOGDescriptor', raising=False)
    assert _run(setup, image, tmp_path / 'out') == demo.EXIT_SETUP_ERROR
    assert 'HOG' in capsys.readouterr().err


PW3D_SAMPLE = Path('/work/shared/data/real_samples/pw3d_real')
PW3D_IMAGE = PW3D_SAMPLE / 'imageFiles/courtyard_rangeOfMotions_00/image_00311.jpg'
# The man on the right of that frame, measured by hand on the image (x1, y1, x2, y2 pixels):
# the annotation file covers only the woman, and holds no 2D keypoints to derive boxes from.
PW3D_MAN_BOX = [540.0, 470.0, 990.0, 1640.0]


@pytest.mark.skipif(not PW3D_IMAGE.is_file(), reason='needs the shared 3DPW sample '
                    '(../shared/data/real_samples/pw3d_real)')
def test_real_3dpw_frame_two_people_from_a_box_file(setup, tmp_path):
    ann = np.load(PW3D_SAMPLE / 'pw3d_real_sample.npz', allow_pickle=True)
    x, y, w, h = (float(v) for v in ann['bbox_xywh'][0, :4])
    # The annotated box runs past the bottom of the 1080x1920 frame, as real boxes do.
    woman = [x, y, x + w, y + h]
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps({PW3D_IMAGE.name: [woman, PW3D_MAN_BOX]}))
    out = tmp_path / 'out'
    assert _run(setup, PW3D_IMAGE, out, '--bboxes', box_file, '--no-obj') == demo.EXIT_OK
    saved = json.loads((out / f'{PW3D_IMAGE.stem}.json').read_text())
    assert len(saved['people']) == 2
    np.testing.assert_allclose([p['bbox'] for p in saved['people']], [woman, PW3D_MAN_BOX],
                               atol=1e-3)
    for person in saved['people']:
        assert np.isfinite(person['cam_full']).all() and len(person['pose']) == 24
    composite = cv2.imread(str(out / f'{PW3D_IMAGE.stem}_mesh.jpg'))
    height, width = 1920, 1080
    assert composite.shape == (height, 2 * width, 3)
    side = composite[:, width + 8:].astype(int)
    # Both meshes are in the side view, whatever their depths (random weights here): person 0
    # is drawn in MESH_PALETTE[0] (BGR 200, 180, 160: blue above red), person 1 in
    # MESH_PALETTE[1] (140, 200, 240: red well above blue); the distance labels are grey.
    blue_minus_red = side[..., 0] - side[..., 2]
    assert (blue_minus_red > 8).sum() > 2000
    assert (blue_minus_red < -25).sum() > 2000
