"""Person detectors that run without mmcv's compiled ops, and box files.

Each detector is a callable ``detector(img, name=None) -> (M, 5)`` ``x1, y1, x2, y2, score``
pixels, best first (docs/inference.md).
"""
from .box_file import COCO_PERSON_CATEGORY_ID, BoxTable, load_bbox_file
from .box_ops import box_iou, clip_boxes, empty_detections, filter_boxes, nms
from .builder import PersonDetector, build_person_detector
from .hog_detector import HOGPersonDetector
from .mmdet_detector import MMDetPersonDetector
from .onnx_detector import ONNX_LAYOUTS, ONNXPersonDetector, letterbox

__all__ = [
    'BoxTable', 'load_bbox_file', 'COCO_PERSON_CATEGORY_ID', 'box_iou', 'clip_boxes',
    'empty_detections', 'filter_boxes', 'nms', 'PersonDetector', 'build_person_detector',
    'HOGPersonDetector', 'MMDetPersonDetector', 'ONNXPersonDetector', 'ONNX_LAYOUTS',
    'letterbox'
]
