"""Recover and draw the meshes of the people in images or a video (headless).

Usage::

    python tools/demo.py INPUT CONFIG CHECKPOINT --out-dir DIR [--bboxes FILE.json]
        [--det-config DET_CFG --det-checkpoint DET_CKPT] [--device cpu]
        [--focal-length F] [--score-thr 0.5] [--cfg-options KEY=VALUE ...]

``INPUT`` is an image, a folder of images (``*.jpg``, ``*.png``, ... directly inside it,
sorted by name) or a video (``*.mp4``, ``*.avi``, ... read with ``cv2.VideoCapture``).

People come from, in this order:

1. ``--bboxes FILE.json``, either a mapping from image name to boxes in pixels::

       {"0001.jpg": [[x1, y1, x2, y2], [x1, y1, x2, y2, score]], "0002.jpg": []}

   or a COCO-style list of ``{"file_name" or "image_id": ..., "bbox": [x, y, w, h],
   "score" (optional), "category_id" (optional; entries other than 1, COCO's person, are
   ignored)}`` (also accepted: a COCO dict with ``"images"`` and ``"annotations"``, whose
   ``image_id`` s are resolved to file names). An image is found by its file name, its
   path relative to the INPUT folder, or its stem; a video frame by its index (``"0"``,
   ``"1"``, ...) or its name ``{video stem}_{index:06d}``. A frame with no entry has no
   people.
2. an mmdetection detector, ``--det-config`` and ``--det-checkpoint`` (needs mmdet 3.x and
   mmcv with compiled ops; class 0, COCO's person, is kept);
3. otherwise OpenCV's HOG people detector (zero setup; OpenCV 5 moved it to
   opencv-contrib-python). Its boxes are coarse: give boxes or a detector for best results.

Boxes with a score below ``--score-thr`` are dropped. All people of a frame run in one forward
pass (``mroi_plugin.apis.inference_mesh``).

Outputs in ``--out-dir``, per frame ``NAME`` (image stem, or ``{video stem}_{index:06d}``):

- ``NAME_mesh.jpg``: the frame with the meshes drawn by the full-image camera, and next to it
  the side view (meshes turned 90 degrees about the vertical axis through their centre, on a
  plain background);
- ``NAME_personKK.obj``: vertices (camera frame: x right, y down, z forward; metres) and faces;
- ``NAME_personKK.json``: ``pose`` (24, 3) axis-angle (radians, global orientation first),
  ``betas`` (10,), ``cam_full`` (3,) translation (metres), ``cam_crop`` (N, 3) per RoI,
  ``focal_length`` and ``principal_point`` (pixels), ``bbox`` [x1, y1, x2, y2] and
  ``bbox_center`` / ``bbox_size`` (pixels), ``score``, ``image``, ``image_size`` [W, H];
- for a video, also ``{video stem}_mesh.mp4`` (mp4v) of the ``NAME_mesh.jpg`` frames.

Bad inputs do not stop a run: an unreadable image or video, or a box outside its image, is
reported, the run goes on, and the failures are listed at the end (exit code 1); a frame
without people is warned about and written without meshes. A config, checkpoint or box file
that cannot be used stops the run before any frame (exit code 2).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from mroi_plugin.apis import CheckpointMismatchError, inference_mesh, init_model
from mroi_plugin.geometry import default_intrinsics
from mroi_plugin.utils.cfg_options import CfgOptionsAction
from mroi_plugin.visualization import (
    render_overlay,
    render_side_view,
    side_by_side,
    write_obj,
    write_person_json,
)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
DEFAULT_SCORE_THR = 0.5
# Frame rate written when a video does not report one.
DEFAULT_FPS = 25.0
VIDEO_FOURCC = 'mp4v'
# COCO's category id of 'person' in annotation files, and its class index in COCO-trained
# mmdet detectors.
COCO_PERSON_CATEGORY_ID = 1
MMDET_PERSON_LABEL = 0
# OpenCV HOG people detector (Dalal & Triggs 2005): a 64x128 window holds a ~96-px-tall person
# with a 16-px margin, so the window is shrunk to this fraction about its centre.
HOG_PERSON_FRACTION = 0.75
HOG_WIN_STRIDE = (8, 8)
HOG_PADDING = (8, 8)
HOG_PYRAMID_SCALE = 1.05
HOG_NMS_IOU = 0.45
# The detector only looks for people at least 128 px tall: smaller images are upsampled first.
HOG_MIN_IMAGE_HEIGHT = 256
EXIT_OK, EXIT_FAILED_INPUTS, EXIT_SETUP_ERROR = 0, 1, 2

Detector = Callable[[np.ndarray], np.ndarray]


def _report(message: str) -> None:
    """A warning or error on its own line (after the progress bar's), on stderr."""
    print(f'\n{message}', file=sys.stderr, flush=True)


class SetupError(Exception):
    """The run cannot start (bad arguments, box file, detector, config or checkpoint)."""


# ----------------------------------------------------------------------------- arguments
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Multi-RoI HMR demo: meshes of the people in images or a video',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='See the module docstring of tools/demo.py for the box-file formats.')
    parser.add_argument('input', help='an image, a folder of images, or a video')
    parser.add_argument(
        'config', help='model config file, or mroi_plugin::REL for a packaged config')
    parser.add_argument('checkpoint', help='model checkpoint (.pth)')
    parser.add_argument('--out-dir', required=True, help='where the outputs are written')
    parser.add_argument('--bboxes', help='JSON file of person boxes (see the docstring)')
    parser.add_argument('--det-config', help='mmdet detector config (needs mmdet + mmcv ops)')
    parser.add_argument('--det-checkpoint', help='mmdet detector checkpoint')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--focal-length', type=float, default=None,
                        help='focal length in pixels (default: sqrt(W^2 + H^2), as CLIFF)')
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help='drop boxes with a lower score (detectors and scored boxes)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings of the model config, key=value pairs')
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------- boxes
def _xywh_to_xyxy(bbox: Sequence[float], score: Optional[float]) -> List[float]:
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h] + ([float(score)] if score is not None else [])


def _box_array(boxes: object, where: str) -> np.ndarray:
    try:
        array = np.array(boxes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise SetupError(f'{where}: boxes must be lists of 4 or 5 numbers ({error}).') from error
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise SetupError(f'{where}: expected a list of [x1, y1, x2, y2(, score)] boxes, got '
                         f'shape {array.shape}.')
    return array


def _coco_boxes(entries: list, path: str, image_names: Dict[str, str]) -> Dict[str, list]:
    table: Dict[str, list] = {}
    for index, entry in enumerate(entries):
        where = f'{path}, entry {index}'
        if not isinstance(entry, dict) or 'bbox' not in entry:
            raise SetupError(f'{where}: COCO-style entries need a "bbox": [x, y, w, h], got '
                             f'{entry!r:.80}.')
        if entry.get('category_id', COCO_PERSON_CATEGORY_ID) != COCO_PERSON_CATEGORY_ID:
            continue
        if 'file_name' in entry:
            key = str(entry['file_name'])
        elif 'image_id' in entry:
            key = image_names.get(str(entry['image_id']), str(entry['image_id']))
        else:
            raise SetupError(f'{where}: needs "file_name" or "image_id".')
        if len(entry['bbox']) != 4:
            raise SetupError(f'{where}: "bbox" must be [x, y, w, h], got {entry["bbox"]}.')
        table.setdefault(key, []).append(_xywh_to_xyxy(entry['bbox'], entry.get('score')))
    return table


def load_bbox_file(path: str) -> Dict[str, np.ndarray]:
    """Read a box file (formats in the module docstring) into ``{name: (M, 4|5) xyxy}``.

    Keys are also indexed by their base name, so ``"val/0001.jpg"`` matches ``0001.jpg``.

    Raises:
        SetupError: Missing file, invalid JSON or an entry of the wrong shape (named).
    """
    if not osp.isfile(path):
        raise SetupError(f'Box file not found: {path}')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise SetupError(f'Cannot read box file {path}: {error}') from error
    if isinstance(data, dict) and 'annotations' in data:
        names = {str(image['id']): str(image['file_name'])
                 for image in data.get('images', []) if 'id' in image and 'file_name' in image}
        raw = _coco_boxes(data['annotations'], path, names)
    elif isinstance(data, list):
        raw = _coco_boxes(data, path, {})
    elif isinstance(data, dict):
        raw = data
    else:
        raise SetupError(f'{path}: expected {{image_name: [[x1, y1, x2, y2], ...]}} or a '
                         f'COCO-style list, got {type(data).__name__}.')
    table = {str(k): _box_array(v, f'{path}, key {k!r}') for k, v in raw.items()}
    for key in list(table):
        table.setdefault(osp.basename(key), table[key])
    return table


def lookup_boxes(table: Dict[str, np.ndarray], candidates: Sequence[str]) -> np.ndarray:
    """The boxes of the first candidate name in ``table``; ``(0, 4)`` when none is."""
    for name in candidates:
        if name in table:
            return table[name]
    return np.zeros((0, 4))


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy non-maximum suppression of ``(M, 4)`` xyxy boxes; kept indices, best first."""
    order = np.argsort(-scores, kind='stable')
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, np.finfo(float).tiny)
        order = rest[iou <= iou_thr]
    return np.asarray(keep, dtype=np.int64)


class HOGPeopleDetector:
    """OpenCV's HOG + linear SVM people detector with non-maximum suppression.

    Returns ``(M, 5)`` boxes ``x1, y1, x2, y2, score`` (pixels; the score is the SVM margin).

    Raises:
        SetupError: This OpenCV has no ``HOGDescriptor`` (OpenCV 5 moved it to the contrib
            build).
    """

    def __init__(self) -> None:
        if not hasattr(cv2, 'HOGDescriptor') or not hasattr(
                cv2, 'HOGDescriptor_getDefaultPeopleDetector'):
            raise SetupError(
                f'No person boxes given and OpenCV {cv2.__version__} has no HOG people detector '
                '(OpenCV 5 moved cv2.HOGDescriptor to opencv-contrib). Give --bboxes FILE.json '
                'or an mmdet detector (--det-config/--det-checkpoint), or install '
                'opencv-contrib-python of the same version in place of opencv-python (both '
                'provide the cv2 module).')
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __call__(self, img: np.ndarray) -> np.ndarray:
        factor = max(1.0, HOG_MIN_IMAGE_HEIGHT / img.shape[0])
        if factor > 1.0:
            img = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        rects, weights = self.hog.detectMultiScale(
            img, winStride=HOG_WIN_STRIDE, padding=HOG_PADDING, scale=HOG_PYRAMID_SCALE)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / factor
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        if not len(rects):
            return np.zeros((0, 5))
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        keep = _nms(boxes, scores, HOG_NMS_IOU)
        boxes, scores = boxes[keep], scores[keep]
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        half = (boxes[:, 2:] - boxes[:, :2]) * HOG_PERSON_FRACTION / 2
        return np.concatenate([centers - half, centers + half, scores[:, None]], axis=1)


class MMDetPersonDetector:
    """An mmdetection 3.x detector; keeps class :data:`MMDET_PERSON_LABEL` (COCO's person).

    Raises:
        SetupError: mmdet (with compiled mmcv ops) does not import, or the files are missing.
    """

    def __init__(self, config: str, checkpoint: str, device: str) -> None:
        try:
            from mmdet.apis import inference_detector, init_detector
        except Exception as error:  # ImportError, or mmcv._ext missing under mmcv-lite
            raise SetupError(
                f'--det-config needs mmdetection 3.x with a compiled mmcv (mmcv.ops), which '
                f'does not import here ({type(error).__name__}: {error}). Install them '
                '(docs: mmcv==2.1.0 built from source + mmdet==3.3.0), or give --bboxes '
                'FILE.json, or leave out --det-config to use the OpenCV HOG detector.'
            ) from error
        for name, path in (('--det-config', config), ('--det-checkpoint', checkpoint)):
            if not osp.isfile(path):
                raise SetupError(f'{name} file not found: {path}')
        self._inference = inference_detector
        self.model = init_detector(config, checkpoint, device=device)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        instances = self._inference(self.model, img).pred_instances
        keep = instances.labels == MMDET_PERSON_LABEL
        boxes = instances.bboxes[keep].detach().cpu().numpy().astype(np.float64)
        scores = instances.scores[keep].detach().cpu().numpy().astype(np.float64)
        return np.concatenate([boxes, scores[:, None]], axis=1)


def filter_boxes(boxes: np.ndarray, score_thr: float) -> np.ndarray:
    """Drop boxes whose score (5th column, when present) is below ``score_thr``."""
    if boxes.ndim == 2 and boxes.shape[1] == 5:
        return boxes[boxes[:, 4] >= score_thr]
    return boxes


# ------------------------------------------------------------------------------- inputs
def list_images(folder: str) -> List[str]:
    """Image files directly inside ``folder`` (by extension), sorted by name."""
    return sorted(
        osp.join(folder, name) for name in os.listdir(folder)
        if name.lower().endswith(IMAGE_EXTENSIONS) and osp.isfile(osp.join(folder, name)))


def input_kind(path: str) -> str:
    """``'folder'``, ``'video'`` or ``'image'``; raises SetupError when it does not exist."""
    if osp.isdir(path):
        return 'folder'
    if not osp.isfile(path):
        raise SetupError(f'Input not found: {path} (give an image, a folder of images or a '
                         'video).')
    return 'video' if path.lower().endswith(VIDEO_EXTENSIONS) else 'image'


def iter_video(path: str) -> Iterator[Tuple[int, np.ndarray]]:
    """Frames of a video, in order; raises ValueError when it cannot be opened or is empty."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f'Cannot open video {path}: not a video OpenCV can read, or corrupt.')
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            yield index, frame
            index += 1
        if index == 0:
            raise ValueError(f'Video {path} has no readable frame.')
    finally:
        capture.release()


# ------------------------------------------------------------------------------ frames
class Demo:
    """Runs the model on frames and writes their outputs; collects the failures."""

    def __init__(self, model, args: argparse.Namespace, boxes: Optional[Dict[str, np.ndarray]],
                 detector: Optional[Detector]) -> None:
        self.model = model
        self.faces = model.body_model.faces
        self.args = args
        self.boxes = boxes
        self.detector = detector
        self.failures: List[str] = []
        self.num_frames = 0

    def people_boxes(self, img: np.ndarray, candidates: Sequence[str]) -> np.ndarray:
        if self.boxes is not None:
            boxes = lookup_boxes(self.boxes, candidates)
        else:
            boxes = self.detector(img)
            height, width = img.shape[:2]
            # Detections may leave the image by a fraction of a pixel.
            boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
            boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        return filter_boxes(boxes, self.args.score_thr)

    def render(self, img: np.ndarray, people: List[dict]) -> np.ndarray:
        """The overlay and the side view of ``people`` next to each other."""
        height, width = img.shape[:2]
        if people:
            focal, principal = people[0]['focal_length'], people[0]['principal_point']
        else:
            focal, principal = default_intrinsics(width, height, self.args.focal_length or None)
        vertices = [person['vertices'] for person in people]
        overlay = render_overlay(img, vertices, self.faces, focal, principal)
        side = render_side_view(vertices, self.faces, focal, principal, (height, width))
        return side_by_side(overlay, side)

    def process(self, img: np.ndarray, name: str, candidates: Sequence[str]) -> np.ndarray:
        """Run one frame and write its outputs; returns the composite image.

        Raises:
            ValueError: A box is degenerate or outside the image (InvalidBoxError).
        """
        self.num_frames += 1
        boxes = self.people_boxes(img, candidates)
        people = []
        if len(boxes) == 0:
            _report(f'warning: {name}: no person found; writing the frame without meshes.')
        else:
            try:
                people = inference_mesh(self.model, img, boxes,
                                        focal_length=self.args.focal_length)
            except ValueError as error:
                raise ValueError(f'{name}: {error}') from error
        composite = self.render(img, people)
        out_dir = self.args.out_dir
        image_file = osp.join(out_dir, f'{name}_mesh.jpg')
        if not cv2.imwrite(image_file, composite):
            raise OSError(f'Cannot write {image_file}.')
        height, width = img.shape[:2]
        for index, person in enumerate(people):
            stem = osp.join(out_dir, f'{name}_person{index:02d}')
            write_obj(stem + '.obj', person['vertices'], self.faces,
                      comment=f'mroi demo: {name}, person {index}\n'
                      'camera frame (x right, y down, z forward), metres')
            write_person_json(stem + '.json', person, image=name, image_size=[width, height])
        return composite

    def fail(self, where: str, error: Exception) -> None:
        message = f'{where}: {type(error).__name__}: {error}'
        self.failures.append(message)
        _report(f'error: {message}')

    # -------------------------------------------------------------------------- inputs
    def run_images(self, paths: Sequence[str], root: Optional[str]) -> None:
        progress = ProgressBar(len(paths))
        for path in paths:
            try:
                img = cv2.imread(path, cv2.IMREAD_COLOR)
                if img is None or img.size == 0:
                    raise ValueError(f'Cannot read image {path}: not an image OpenCV can '
                                     'decode, or the file is corrupt.')
                file_name = osp.basename(path)
                stem = osp.splitext(file_name)[0]
                candidates = [file_name, stem]
                if root is not None:
                    candidates.insert(0, osp.relpath(path, root))
                candidates.append(path)
                self.process(img, stem, candidates)
            except Exception as error:  # one bad file must not stop a folder run
                self.fail(path, error)
            progress.update()

    def run_video(self, path: str) -> None:
        stem = osp.splitext(osp.basename(path))[0]
        capture = cv2.VideoCapture(path)
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
        capture.release()
        fps = fps if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS
        video_file = osp.join(self.args.out_dir, f'{stem}_mesh.mp4')
        writer = None
        progress = ProgressBar(max(total, 0))
        try:
            for index, frame in iter_video(path):
                name = f'{stem}_{index:06d}'
                try:
                    composite = self.process(frame, name, [str(index), name])
                except Exception as error:  # keep the video going; show the plain frame
                    self.fail(f'{path}, frame {index}', error)
                    composite = self.render(frame, [])
                if writer is None:
                    writer = cv2.VideoWriter(video_file, cv2.VideoWriter_fourcc(*VIDEO_FOURCC),
                                             fps, (composite.shape[1], composite.shape[0]))
                    if not writer.isOpened():
                        raise OSError(f'Cannot write video {video_file} ({VIDEO_FOURCC}).')
                writer.write(composite)
                progress.update()
        except Exception as error:
            self.fail(path, error)
        finally:
            if writer is not None:
                writer.release()
        if writer is not None:
            print(f'\nVideo written to {video_file}')


def build_people_source(args: argparse.Namespace
                        ) -> Tuple[Optional[Dict[str, np.ndarray]], Optional[Detector]]:
    """The box table, or the detector (mmdet, else OpenCV HOG)."""
    if args.bboxes and (args.det_config or args.det_checkpoint):
        raise SetupError('Give either --bboxes or --det-config/--det-checkpoint, not both.')
    if args.bboxes:
        return load_bbox_file(args.bboxes), None
    if bool(args.det_config) != bool(args.det_checkpoint):
        raise SetupError('--det-config and --det-checkpoint go together.')
    if args.det_config:
        return None, MMDetPersonDetector(args.det_config, args.det_checkpoint, args.device)
    return None, HOGPeopleDetector()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; returns the exit code (0 ok, 1 some inputs failed, 2 cannot start)."""
    args = parse_args(argv)
    try:
        kind = input_kind(args.input)
        if args.focal_length is not None and not (np.isfinite(args.focal_length)
                                                  and args.focal_length > 0):
            raise SetupError(f'--focal-length must be positive pixels, got {args.focal_length}.')
        paths = []
        if kind == 'folder':
            paths = list_images(args.input)
            if not paths:
                raise SetupError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {args.input}.')
        elif kind == 'image':
            paths = [args.input]
        boxes, detector = build_people_source(args)
        model = init_model(args.config, args.checkpoint, device=args.device,
                           cfg_options=args.cfg_options)
    except (SetupError, CheckpointMismatchError, FileNotFoundError, KeyError,
            ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR
    os.makedirs(args.out_dir, exist_ok=True)
    demo = Demo(model, args, boxes, detector)
    if kind == 'video':
        demo.run_video(args.input)
    else:
        demo.run_images(paths, args.input if kind == 'folder' else None)
    print(f'\n{demo.num_frames} frame(s) processed; outputs in {args.out_dir}')
    if demo.failures:
        print(f'{len(demo.failures)} input(s) failed:', file=sys.stderr)
        for failure in demo.failures:
            print(f'  {failure}', file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
