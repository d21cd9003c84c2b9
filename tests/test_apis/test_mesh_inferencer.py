"""MeshInferencer on every kind of input, on a tiny random-weight model.

The reference of every prediction is ``inference_mesh`` on the same image and box (itself
tested against the model's pipeline in test_inference.py): the inferencer must give the same
numbers whether frames come one by one, batched, from a folder, an array or a video.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mroi_plugin.apis import MeshInferencer, inference_mesh, init_model
from mroi_plugin.apis.video_io import iter_video
from mroi_plugin.visualization import MESH_PALETTE
from tests.inference_fixtures import IMAGE_H, IMAGE_W, make_inference_setup, xyxy

NUM_VERTICES = 6890


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> dict:
    data = make_inference_setup(tmp_path_factory.mktemp('inferencer'))
    data['inferencer'] = MeshInferencer(data['config'], data['checkpoint'], device='cpu',
                                        show_progress=False)
    data['model'] = init_model(data['config'], data['checkpoint'])
    return data


def _reference(setup, image, boxes) -> list:
    return inference_mesh(setup['model'], image, boxes)


def _assert_same_people(predicted: list, expected: list) -> None:
    assert len(predicted) == len(expected)
    for person, truth in zip(predicted, expected):
        for key in ('pose', 'betas', 'cam_full', 'bbox'):
            np.testing.assert_allclose(np.asarray(person[key]), truth[key], atol=1e-5)


def _write_video(path: Path, frames) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10.0,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()


def _read_video(path: Path) -> list:
    return [frame for _, frame in iter_video(str(path))]


# ---------------------------------------------------------------------------- inputs
def test_image_path_writes_overlay_json_and_obj(setup, tmp_path):
    image = setup['images'][0]
    box = xyxy(setup['xywh'][0]) + [0.9]
    result = setup['inferencer'](str(image), bboxes=[box], vis_out_dir=str(tmp_path / 'vis'),
                                 pred_out_dir=str(tmp_path / 'pred'), save_obj=True,
                                 return_vertices=True)
    assert result['names'] == [image.stem] and result['failures'] == []
    expected = _reference(setup, str(image), [box])
    _assert_same_people(result['predictions'][0], expected)
    person = result['predictions'][0][0]
    assert person['score'] == pytest.approx(0.9)
    np.testing.assert_allclose(person['vertices'], expected[0]['vertices'], atol=1e-5)
    assert json.dumps(result['predictions'])  # JSON-able as returned

    composite = cv2.imread(str(tmp_path / 'vis' / f'{image.stem}_mesh.jpg'))
    assert composite.shape == (IMAGE_H, 2 * IMAGE_W, 3)
    saved = json.loads((tmp_path / 'pred' / f'{image.stem}.json').read_text())
    assert saved['image_size'] == [IMAGE_W, IMAGE_H] and len(saved['people']) == 1
    np.testing.assert_allclose(saved['people'][0]['cam_full'], expected[0]['cam_full'],
                               atol=1e-5)
    lines = (tmp_path / 'pred' / f'{image.stem}_person00.obj').read_text().splitlines()
    assert sum(line.startswith('v ') for line in lines) == NUM_VERTICES
    # mmpose's out_dir: visualizations/ and predictions/ inside it.
    setup['inferencer'](str(image), bboxes=[box], out_dir=str(tmp_path / 'out'))
    assert (tmp_path / 'out' / 'visualizations' / f'{image.stem}_mesh.jpg').is_file()
    assert (tmp_path / 'out' / 'predictions' / f'{image.stem}.json').is_file()


def test_array_input_and_datasamples(setup):
    img = cv2.imread(str(setup['images'][1]))
    box = xyxy(setup['xywh'][1])
    result = setup['inferencer'](img, bboxes=[box], return_datasamples=True, return_vis=True)
    assert result['names'] == ['000000']
    expected = _reference(setup, img, [box])
    _assert_same_people(result['predictions'][0], expected)
    assert result['predictions'][0][0]['vertices'].shape == (NUM_VERTICES, 3)
    assert result['visualization'][0].shape == (IMAGE_H, 2 * IMAGE_W, 3)
    # One list of boxes cannot serve several images.
    with pytest.raises(ValueError, match='dict keyed by image name'):
        setup['inferencer']([img, img], bboxes=[box])
    with pytest.raises(ValueError, match='unknown argument'):
        setup['inferencer'](img, bboxes=[box], colour='red')


def test_folder_with_a_bad_file_batched(setup, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    boxes = {}
    for image, xywh in zip(setup['images'], setup['xywh']):
        (folder / image.name).write_bytes(image.read_bytes())
        boxes[image.name] = [xyxy(xywh)]
    (folder / 'broken.jpg').write_bytes(b'not a jpeg at all')
    (folder / 'notes.txt').write_text('not an image extension: ignored')
    boxes['broken.jpg'] = [[1, 1, 50, 50]]
    out = tmp_path / 'out'

    batched = setup['inferencer'](str(folder), bboxes=boxes, batch_size=2,
                                  vis_out_dir=str(out), pred_out_dir=str(out))
    single = setup['inferencer'](str(folder), bboxes=boxes, batch_size=1)

    assert len(batched['failures']) == 1 and 'broken.jpg' in batched['failures'][0]
    assert batched['names'] == ['00000', '00001', '00002', 'broken']
    for index, image in enumerate(setup['images']):
        expected = _reference(setup, str(image), boxes[image.name])
        _assert_same_people(batched['predictions'][index], expected)
        _assert_same_people(single['predictions'][index], expected)
        assert (out / f'{image.stem}_mesh.jpg').is_file()
    assert batched['predictions'][3] == []
    assert not (out / 'broken_mesh.jpg').exists()
    with pytest.raises(ValueError, match='No images'):
        setup['inferencer'](str(tmp_path / 'out' / '..' / 'images' / '..'), bboxes=boxes)


def test_box_outside_the_image_fails_that_frame_only(setup, tmp_path):
    images = [str(p) for p in setup['images'][:2]]
    boxes = {Path(images[0]).name: [[500, 500, 600, 700]],
             Path(images[1]).name: [xyxy(setup['xywh'][1])]}
    result = setup['inferencer'](images, bboxes=boxes, batch_size=2)
    assert len(result['failures']) == 1
    assert 'Box 0' in result['failures'][0] and 'outside' in result['failures'][0]
    assert result['predictions'][0] == []
    _assert_same_people(result['predictions'][1], _reference(setup, images[1],
                                                             boxes[Path(images[1]).name]))


# ----------------------------------------------------------------------------- video
def _two_person_clip(setup, num_frames: int = 4):
    """The synthetic person pasted twice per frame, moving right/left by 6 px per frame."""
    source = cv2.imread(str(setup['images'][0]))
    x1, y1, x2, y2 = (int(round(v)) for v in xyxy(setup['xywh'][0]))
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, IMAGE_W), min(y2, IMAGE_H)
    patch = source[y1:y2, x1:x2]
    width = 3 * IMAGE_W
    frames, boxes = [], {}
    for index in range(num_frames):
        frame = np.full((IMAGE_H, width, 3), 90, np.uint8)
        lefts = [20 + 6 * index, width - 20 - (x2 - x1) - 6 * index]
        frame_boxes = []
        for left in lefts:
            frame[y1:y2, left:left + x2 - x1] = patch
            frame_boxes.append([left, y1, left + x2 - x1, y2, 0.9])
        frames.append(frame)
        # The box order swaps every frame: ids must follow positions, not the order.
        boxes[str(index)] = frame_boxes if index % 2 == 0 else frame_boxes[::-1]
    return frames, boxes


def test_video_tracks_people_and_writes_a_video(setup, tmp_path):
    frames, boxes = _two_person_clip(setup)
    video = tmp_path / 'clip.mp4'
    _write_video(video, frames)
    out = tmp_path / 'out'
    result = setup['inferencer'](str(video), bboxes=boxes, batch_size=3, vis_out_dir=str(out),
                                 pred_out_dir=str(out), video_codec='mp4v')
    assert result['failures'] == [] and len(result['predictions']) == len(frames)
    left_ids = set()
    for people in result['predictions']:
        assert sorted(p['track_id'] for p in people) == [0, 1]
        left = min(people, key=lambda p: p['bbox'][0])
        left_ids.add(left['track_id'])
    assert len(left_ids) == 1  # the person on the left keeps one id
    written = _read_video(out / 'clip_mesh.mp4')
    assert len(written) == len(frames) and written[0].shape == (IMAGE_H, 6 * IMAGE_W, 3)
    saved = json.loads((out / 'clip.json').read_text())
    assert [f['frame_index'] for f in saved['frames']] == list(range(len(frames)))
    assert {p['track_id'] for p in saved['frames'][1]['people']} == {0, 1}
    with pytest.raises(ValueError, match='for a video give a dict'):
        setup['inferencer'](str(video), bboxes=boxes['0'])


def test_video_smoothing_of_a_still_person_changes_nothing(setup, tmp_path):
    img = cv2.imread(str(setup['images'][0]))
    video = tmp_path / 'still.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10.0,
                             (IMAGE_W, IMAGE_H))
    for _ in range(3):
        writer.write(img)
    writer.release()
    decoded = _read_video(video)
    box = xyxy(setup['xywh'][0])
    kwargs = dict(bboxes={str(i): [box] for i in range(3)}, return_datasamples=True)
    raw = setup['inferencer'](str(video), **kwargs)
    smooth = setup['inferencer'](str(video), smooth=True, smooth_min_cutoff=0.5, **kwargs)
    same_frames = all(np.array_equal(decoded[0], frame) for frame in decoded)
    for a, b in zip(raw['predictions'], smooth['predictions']):
        # Identical frames give identical predictions; a filter of a constant is the constant
        # (the body is posed again from the filtered pose: float32 round-off only).
        if same_frames:
            np.testing.assert_allclose(b[0]['vertices'], a[0]['vertices'], atol=1e-4)
        assert b[0]['vertices'].shape == (NUM_VERTICES, 3)
    with pytest.raises(ValueError, match='needs track'):
        setup['inferencer'](str(video), smooth=True, track=False, **kwargs)


def test_unreadable_video_is_a_failure(setup, tmp_path):
    video = tmp_path / 'broken.mp4'
    video.write_bytes(b'not a video at all')
    result = setup['inferencer'](str(video), bboxes={})
    assert len(result['failures']) == 1 and 'broken.mp4' in result['failures'][0]


# ------------------------------------------------------------------------- drawing
def test_boxes_and_scores_are_drawn(setup):
    img = cv2.imread(str(setup['images'][0]))
    box = xyxy(setup['xywh'][0]) + [0.87]
    drawn = setup['inferencer'](img, bboxes=[box], return_vis=True, side_view=False)
    plain = setup['inferencer'](img, bboxes=[box], return_vis=True, side_view=False,
                                draw_bbox=False)
    drawn, plain = drawn['visualization'][0], plain['visualization'][0]
    assert drawn.shape == img.shape
    x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
    x1, x2 = np.clip([x1, x2], 0, IMAGE_W - 1)
    y1, y2 = np.clip([y1, y2], 0, IMAGE_H - 1)
    edge = np.zeros(img.shape[:2], bool)
    edge[y1:y2 + 1, [x1, x2]] = True
    edge[[y1, y2], x1:x2 + 1] = True
    color = np.array(MESH_PALETTE[0]) * 0.6
    close = np.abs(drawn.astype(float) - color).max(axis=2) < 40
    assert close[edge].mean() > 0.5  # the box outline is in the person's (darkened) colour
    assert (drawn != plain).any(axis=2)[~edge].sum() > 0  # and the score label is written


def test_video_smoothing_is_exponential_smoothing_per_track(setup, tmp_path):
    """With beta = 0 the One-Euro filter is exponential smoothing, alpha = 1 / (1 + fps / (2 pi
    fc)); the smoothed camera of each track must follow that recursion on the raw cameras."""
    frames, boxes = _two_person_clip(setup)
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10.0,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    kwargs = dict(bboxes=boxes, return_datasamples=True)
    raw = setup['inferencer'](str(video), **kwargs)['predictions']
    smooth = setup['inferencer'](str(video), smooth=True, smooth_min_cutoff=1.0,
                                 smooth_beta=0.0, **kwargs)['predictions']
    alpha = 1.0 / (1.0 + 10.0 / (2 * np.pi * 1.0))
    for track_id in (0, 1):
        expected = None
        for raw_people, smooth_people in zip(raw, smooth):
            cam = next(p for p in raw_people if p['track_id'] == track_id)['cam_full']
            got = next(p for p in smooth_people if p['track_id'] == track_id)
            expected = cam if expected is None else alpha * cam + (1 - alpha) * expected
            np.testing.assert_allclose(got['cam_full'], expected, atol=1e-5)
            # The vertices are the re-posed body moved by the smoothed camera.
            np.testing.assert_allclose(got['vertices'] - got['vertices_local'],
                                       np.broadcast_to(got['cam_full'], (NUM_VERTICES, 3)),
                                       atol=1e-5)
    moved = [np.abs(r[0]['cam_full'] - s[0]['cam_full']).max() for r, s in zip(raw, smooth)]
    assert max(moved) > 1e-4  # the filter did something on this moving clip
