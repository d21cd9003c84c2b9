"""Person detectors (ONNX, HOG), box files, NMS, the tracker and the One-Euro filter.

The ONNX models are exported by the tests themselves from torch modules that emit fixed outputs
in the RTMDet/mmdeploy end2end and YOLOX raw-head layouts, so the expected boxes are derived by
hand from the letterbox ratio and the layouts' definitions.
"""
import importlib.util
import json
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mroi_plugin.apis.detectors import (
    HOGPersonDetector,
    ONNXPersonDetector,
    box_iou,
    build_person_detector,
    letterbox,
    load_bbox_file,
    nms,
)
from mroi_plugin.apis.smoothing import OneEuroFilter
from mroi_plugin.apis.tracking import PersonTracker

INPUT = 64  # model input side
IMAGE_H, IMAGE_W = 160, 320  # letterbox ratio min(64 / 160, 64 / 320) = 0.2
RATIO = 0.2
HAS_ORT = importlib.util.find_spec('onnxruntime') is not None
BACKENDS = ['opencv', pytest.param('onnxruntime', marks=pytest.mark.skipif(
    not HAS_ORT, reason='onnxruntime is not installed (pip install onnxruntime)'))]


class _FixedOutputs(torch.nn.Module):
    """Emits constant tensors (made to depend on the input so exporters keep them outputs)."""

    def __init__(self, *outputs: torch.Tensor) -> None:
        super().__init__()
        for index, output in enumerate(outputs):
            self.register_buffer(f'out{index}', output)
        self.num = len(outputs)

    def forward(self, x: torch.Tensor):
        zero = x.mean() * 0
        outs = [getattr(self, f'out{i}') + zero for i in range(self.num)]
        return tuple(outs) if self.num > 1 else outs[0]


def _export(module: torch.nn.Module, path: Path, output_names) -> Path:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(module, torch.zeros(1, 3, INPUT, INPUT), str(path),
                              input_names=['input'], output_names=list(output_names),
                              opset_version=11, dynamo=False)
    except Exception as error:  # an exporter this torch build lacks
        pytest.skip(f'torch.onnx.export (TorchScript exporter) unavailable: {error}')
    return path


@pytest.fixture(scope='module')
def end2end_model(tmp_path_factory) -> Path:
    # mmdeploy's end2end layout: dets (1, N, 5) in model-input pixels, labels (1, N).
    dets = torch.tensor([[[10., 4., 30., 28., 0.8], [40., 8., 60., 30., 0.9],
                          [1., 1., 5., 5., 0.95], [0., 0., 0., 0., 0.0]]])
    labels = torch.tensor([[0., 0., 2., 0.]])  # class 2 is not a person; the last row pads
    return _export(_FixedOutputs(dets, labels), tmp_path_factory.mktemp('onnx') / 'e2e.onnx',
                   ['dets', 'labels'])


@pytest.fixture(scope='module')
def yolox_model(tmp_path_factory) -> Path:
    # YOLOX raw head on a 64x64 input: 8x8 + 4x4 + 2x2 = 84 anchors, 5 + 2 classes.
    raw = torch.zeros(1, 84, 7)
    # Stride-8 cell (x=3, y=2), flat index 2 * 8 + 3: centre ((0.5 + 3) * 8, (0.5 + 2) * 8) =
    # (28, 20), size (2 * 8, 4 * 8) = (16, 32): box [20, 4, 36, 36], score 0.9 * 0.8 = 0.72.
    raw[0, 19] = torch.tensor([0.5, 0.5, math.log(2), math.log(4), 0.9, 0.8, 0.1])
    # Cell (x=4, y=2) predicts the same box with score 0.5 * 0.8 = 0.4: NMS drops it.
    raw[0, 20] = torch.tensor([-0.5, 0.5, math.log(2), math.log(4), 0.5, 0.8, 0.1])
    # A confident box of class 1 (not a person) scores 0.9 * 0.0 for the person class.
    raw[0, 70] = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.9, 0.0, 1.0])
    return _export(_FixedOutputs(raw), tmp_path_factory.mktemp('onnx') / 'yolox.onnx',
                   ['output'])


@pytest.mark.parametrize('backend', BACKENDS)
def test_onnx_end2end_layout(end2end_model, backend):
    detector = ONNXPersonDetector(str(end2end_model), backend=backend, input_size=(64, 64))
    boxes = detector(np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8))
    # Persons only, best first, back in image pixels (divided by the letterbox ratio).
    expected = np.array([[40, 8, 60, 30, 0.9], [10, 4, 30, 28, 0.8]], float)
    expected[:, :4] /= RATIO
    np.testing.assert_allclose(boxes, expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize('backend', BACKENDS)
def test_onnx_yolox_raw_layout(yolox_model, backend):
    detector = ONNXPersonDetector(str(yolox_model), backend=backend, input_size=(64, 64))
    boxes = detector(np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[20 / RATIO, 4 / RATIO, 36 / RATIO, 36 / RATIO, 0.72]],
                               rtol=1e-5)
    if backend == 'opencv':  # OpenCV does not read the input size from the file
        wrong = ONNXPersonDetector(str(yolox_model), backend=backend, input_size=(96, 96))
        with pytest.raises(ValueError, match='anchors'):
            wrong(np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8))
    else:
        assert ONNXPersonDetector(str(yolox_model), backend=backend).input_size == (64, 64)
        with pytest.raises(ValueError, match='fixed 64x64 input'):
            ONNXPersonDetector(str(yolox_model), backend=backend, input_size=(96, 96))


def test_letterbox_and_normalisation(end2end_model):
    img = np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8)
    img[:] = (10, 20, 30)  # BGR
    canvas, ratio = letterbox(img, (INPUT, INPUT))
    assert ratio == pytest.approx(RATIO)
    # The image fills the top 160 * 0.2 = 32 rows; the rest is the grey 114 padding.
    assert (canvas[:32] == (10, 20, 30)).all() and (canvas[32:] == 114).all()
    detector = ONNXPersonDetector(str(end2end_model), backend='opencv', input_size=(64, 64),
                                  mean=(1, 2, 3), std=(2, 4, 8), to_rgb=True)
    blob, _ = detector._blob(img)
    assert blob.shape == (1, 3, INPUT, INPUT) and blob.dtype == np.float32
    # RGB order, then (value - mean) / std per channel.
    np.testing.assert_allclose(blob[0, :, 0, 0], [(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 8])
    np.testing.assert_allclose(blob[0, :, 40, 0], [(114 - 1) / 2, (114 - 2) / 4, (114 - 3) / 8])


def test_detector_builder_and_errors(end2end_model, tmp_path):
    assert build_person_detector(None) is None
    assert isinstance(build_person_detector(str(end2end_model)), ONNXPersonDetector)
    built = build_person_detector(dict(type='ONNXPersonDetector', model=str(end2end_model),
                                       backend='opencv', input_size=(64, 64)))
    assert built.backend == 'opencv'

    def custom(img, name=None):
        return np.zeros((0, 5))

    assert build_person_detector(custom) is custom
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        build_person_detector(str(tmp_path / 'missing.onnx'))
    with pytest.raises(ValueError, match='Unknown detector'):
        build_person_detector('yolo')
    with pytest.raises(ValueError, match='needs its checkpoint'):
        build_person_detector('det_config.py')
    with pytest.raises(ValueError, match='layout'):
        ONNXPersonDetector(str(end2end_model), layout='ssd')
    if not HAS_ORT:
        with pytest.raises(ImportError, match='pip install onnxruntime'):
            ONNXPersonDetector(str(end2end_model), backend='onnxruntime')
    if importlib.util.find_spec('mmdet') is None:
        config = tmp_path / 'det.py'
        config.write_text('')
        with pytest.raises(ImportError, match='mmdet'):
            build_person_detector(str(config), det_weights=str(config))


def test_inferencer_with_an_onnx_detector(end2end_model, tmp_path):
    """The detector's person boxes reach the meshes (the tiny model from the demo tests)."""
    from mroi_plugin.apis import MeshInferencer
    from tests.inference_fixtures import make_inference_setup
    setup = make_inference_setup(tmp_path, num_images=1)
    detector = dict(type='ONNXPersonDetector', model=str(end2end_model), backend='opencv',
                    input_size=(64, 64))
    inferencer = MeshInferencer(setup['config'], setup['checkpoint'], device='cpu',
                                detector=detector, show_progress=False)
    img = np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8)
    people = inferencer(img, bbox_thr=0.85)['predictions'][0]
    assert len(people) == 1  # 0.8 < bbox_thr
    np.testing.assert_allclose(people[0]['bbox'], np.array([40, 8, 60, 30]) / RATIO, atol=1e-3)
    assert people[0]['score'] == pytest.approx(0.9, abs=1e-6)

    # No boxes and no detector: OpenCV's HOG, the last fallback (needs a real photo).
    if hasattr(cv2, 'HOGDescriptor') and PW3D_IMAGE.is_file():
        fallback = MeshInferencer(setup['config'], setup['checkpoint'], device='cpu',
                                  show_progress=False)
        photo = cv2.imread(str(PW3D_IMAGE))
        people = fallback(photo)['predictions'][0]
        hog = HOGPersonDetector()(photo)
        hog = hog[hog[:, 4] >= 0.5]
        assert len(people) == len(hog) == 2  # the woman and the man of the 3DPW frame
        np.testing.assert_allclose([p['bbox'] for p in people], hog[:, :4], atol=1e-3)


# -------------------------------------------------------------------------------- HOG
needs_hog = pytest.mark.skipif(not hasattr(cv2, 'HOGDescriptor'),
                               reason='this OpenCV build has no HOG people detector (OpenCV 5 '
                               'moved it to opencv-contrib)')


@needs_hog
def test_hog_detector_output_format():
    detector = HOGPersonDetector()
    assert detector(np.full((120, 160, 3), 127, np.uint8)).shape == (0, 5)
    img = np.zeros((480, 640, 3), np.uint8)
    cv2.ellipse(img, (320, 150), (25, 30), 0, 0, 360, (230, 230, 230), -1)
    cv2.rectangle(img, (285, 180), (355, 330), (230, 230, 230), -1)
    cv2.rectangle(img, (290, 330), (315, 450), (230, 230, 230), -1)
    cv2.rectangle(img, (325, 330), (350, 450), (230, 230, 230), -1)
    boxes = detector(img)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and np.isfinite(boxes).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert (np.diff(boxes[:, 4]) <= 0).all()  # best first
    with pytest.raises(ValueError, match='work_height'):
        HOGPersonDetector(work_height=64)


PW3D_SAMPLE = Path('/work/shared/data/real_samples/pw3d_real')
PW3D_IMAGE = PW3D_SAMPLE / 'imageFiles/courtyard_rangeOfMotions_00/image_00311.jpg'
# The man on the right of that frame, measured by hand on the image (x1, y1, x2, y2 pixels;
# the annotation file covers only the woman).
PW3D_MAN_BOX = [540.0, 470.0, 990.0, 1640.0]


@needs_hog
@pytest.mark.skipif(not PW3D_IMAGE.is_file(), reason='needs the shared 3DPW sample')
def test_hog_finds_the_annotated_woman_without_false_boxes_above_threshold():
    ann = np.load(PW3D_SAMPLE / 'pw3d_real_sample.npz', allow_pickle=True)
    img = cv2.imread(str(PW3D_IMAGE))
    x, y, w, h = ann['bbox_xywh'][0, :4]
    height, width = img.shape[:2]
    truth = np.array([[max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)]])
    boxes = HOGPersonDetector()(img)
    assert box_iou(boxes, truth).max() > 0.5
    # Every box kept at the default threshold (0.5) lies on one of the two people.
    people = np.array([truth[0], PW3D_MAN_BOX])
    kept = boxes[boxes[:, 4] >= 0.5]
    inside = box_iou(kept, people).max(axis=1) > 0.1
    assert inside.all(), kept


# ------------------------------------------------------------------------ NMS, files
def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 5, 10, 15]], float)
    scores = np.array([0.5, 0.9, 0.7, 0.8])
    # IoU(1, 0) = 90/110 > 0.45: box 0 goes; IoU(1, 3) = 45/155 keeps box 3.
    assert nms(boxes, scores, 0.45).tolist() == [1, 3, 2]
    np.testing.assert_allclose(box_iou(boxes[:1], boxes[1:2]), [[90 / 110]])


def test_box_file_formats(tmp_path):
    mapping = tmp_path / 'mapping.json'
    mapping.write_text(json.dumps({'a/b.jpg': [[1, 2, 30, 40, 0.5]], 'c.png': []}))
    table = load_bbox_file(str(mapping))
    np.testing.assert_allclose(table.lookup(['b.jpg']), [[1, 2, 30, 40, 0.5]])
    assert table.lookup(['c.png']).shape == (0, 4)
    assert table.lookup(['nothing.jpg']).shape == (0, 4)

    coco = tmp_path / 'coco.json'
    coco.write_text(json.dumps(dict(
        images=[dict(id=7, file_name='x.jpg')],
        annotations=[dict(image_id=7, bbox=[10, 20, 30, 40], category_id=1),
                     dict(image_id=7, bbox=[0, 0, 5, 5], category_id=18)])))
    np.testing.assert_allclose(load_bbox_file(str(coco)).lookup(['x.jpg']), [[10, 20, 40, 60]])

    flat = tmp_path / 'flat.json'
    flat.write_text(json.dumps([dict(file_name='y.jpg', bbox=[1, 1, 2, 3], score=0.75)]))
    np.testing.assert_allclose(load_bbox_file(str(flat)).lookup(['y.jpg']), [[1, 1, 3, 4, 0.75]])

    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'z.jpg': [[1, 2, 3]]}))
    with pytest.raises(ValueError, match="bad.json, key 'z.jpg'"):
        load_bbox_file(str(bad))
    bad.write_text(json.dumps([dict(file_name='z.jpg')]))
    with pytest.raises(ValueError, match='entry 0'):
        load_bbox_file(str(bad))
    bad.write_text('{not json')
    with pytest.raises(ValueError, match='Cannot read box file'):
        load_bbox_file(str(bad))
    with pytest.raises(FileNotFoundError, match='Box file not found'):
        load_bbox_file(str(tmp_path / 'none.json'))


# ---------------------------------------------------------------------- tracking
def _box(cx: float, cy: float = 100.0, w: float = 40.0, h: float = 100.0) -> list:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_tracker_follows_a_fast_person_through_missed_frames():
    tracker = PersonTracker(iou_thr=0.3, center_thr=0.5, max_age=2)
    # A person walking right by 30 px a frame (IoU between frames 10/70 < 0.3: the centre
    # test matches), with a still person standing at x = 400.
    assert tracker.update([_box(100), _box(400)]).tolist() == [0, 1]
    assert tracker.update([_box(400), _box(130)]).tolist() == [1, 0]
    # Frame 3: the walker is missed; frame 4: found where the constant velocity puts it.
    assert tracker.update([_box(400)]).tolist() == [1]
    assert tracker.update([_box(190), _box(400)]).tolist() == [0, 1]
    # A newcomer gets a new id; ids are never reused after a track ends.
    assert tracker.update([_box(220), _box(400), _box(700)]).tolist() == [0, 1, 2]
    for _ in range(3):  # longer than max_age without the walker
        tracker.update([_box(400)])
    assert tracker.update([_box(250), _box(400)]).tolist() == [3, 1]
    assert tracker.update(np.zeros((0, 5))).tolist() == []
    tracker.reset()
    assert tracker.update([_box(250)]).tolist() == [0]


def test_tracker_two_people_swapping_list_order():
    tracker = PersonTracker()
    for step in range(6):
        left, right = _box(100 + 5 * step), _box(300 - 5 * step)
        boxes = [left, right] if step % 2 == 0 else [right, left]
        ids = tracker.update(boxes).tolist()
        assert ids == ([0, 1] if step % 2 == 0 else [1, 0])


# ----------------------------------------------------------------------- One-Euro
def test_one_euro_filter_closed_forms():
    # A constant passes unchanged.
    constant = OneEuroFilter(min_cutoff=1.0, beta=0.7)
    for _ in range(5):
        np.testing.assert_allclose(constant(np.full(3, 2.5), 0.1), 2.5)
    # beta = 0: exponential smoothing with alpha = 1 / (1 + 1 / (2 pi fc dt)).
    plain = OneEuroFilter(min_cutoff=0.5, beta=0.0)
    alpha = 1 / (1 + 1 / (2 * math.pi * 0.5 * 0.04))
    expected, signal = None, [0.0, 1.0, 1.0, -2.0, 0.5]
    for value in signal:
        out = plain(np.array([value]), 0.04)
        expected = value if expected is None else alpha * value + (1 - alpha) * expected
        assert out[0] == pytest.approx(expected)
    # On a ramp, a positive beta raises the cut-off with the speed: less lag.
    lag = {}
    for beta in (0.0, 1.0):
        ramp = OneEuroFilter(min_cutoff=0.5, beta=beta)
        for step in range(30):
            out = ramp(np.array([step * 0.1]), 0.04)
        lag[beta] = 29 * 0.1 - out[0]
    assert 0 < lag[1.0] < lag[0.0] / 2
    with pytest.raises(ValueError, match='min_cutoff'):
        OneEuroFilter(min_cutoff=0.0)
