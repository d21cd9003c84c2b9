"""Box operations shared by the person detectors: NMS, clipping and score filtering.

Boxes are ``x1, y1, x2, y2`` pixels (``x2 > x1``, ``y2 > y1``), optionally followed by a score
in a fifth column.
"""
import numpy as np

__all__ = ['box_iou', 'nms', 'clip_boxes', 'filter_boxes', 'empty_detections']


def empty_detections() -> np.ndarray:
    """No detection: a ``(0, 5)`` float64 array."""
    return np.zeros((0, 5), dtype=np.float64)


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of boxes.

    Args:
        boxes_a (np.ndarray): ``(M, 4+)`` boxes; columns after the fourth are ignored.
        boxes_b (np.ndarray): ``(N, 4+)`` boxes.

    Returns:
        np.ndarray: ``(M, N)`` IoU in ``[0, 1]``; 0 for boxes without area.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, np.shape(boxes_a)[-1])[:, :4]
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, np.shape(boxes_b)[-1])[:, :4]
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    The best-scoring box is kept and every remaining box overlapping it by IoU > ``iou_thr``
    is dropped, then again with the next best box left.

    Args:
        boxes (np.ndarray): ``(M, 4)`` xyxy pixels.
        scores (np.ndarray): ``(M,)``.
        iou_thr (float): Overlap above which the lower-scored box goes, in ``[0, 1]``.

    Returns:
        np.ndarray: Kept indices, best first (int64).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        order = rest[box_iou(boxes[best:best + 1], boxes[rest])[0] <= iou_thr]
    return np.asarray(keep, dtype=np.int64)


def clip_boxes(boxes: np.ndarray, image_shape) -> np.ndarray:
    """Clip boxes to the image ``[0, W] x [0, H]`` (detections may overshoot by a few pixels).

    Args:
        boxes (np.ndarray): ``(M, 4|5)``.
        image_shape (Sequence[int]): ``(H, W)``.

    Returns:
        np.ndarray: A clipped float64 copy.
    """
    boxes = np.array(boxes, dtype=np.float64)
    height, width = int(image_shape[0]), int(image_shape[1])
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes


def filter_boxes(boxes: np.ndarray, score_thr: float) -> np.ndarray:
    """Drop boxes whose score (fifth column, when present) is below ``score_thr``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim == 2 and boxes.shape[1] == 5:
        return boxes[boxes[:, 4] >= score_thr]
    return boxes
