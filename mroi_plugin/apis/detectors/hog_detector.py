"""OpenCV's HOG people detector: zero setup, the last fallback when no boxes or model is given."""
from typing import Optional

import cv2
import numpy as np

from mroi_plugin.registry import TASK_UTILS

from .box_ops import empty_detections, nms

__all__ = ['HOGPersonDetector']


@TASK_UTILS.register_module()
class HOGPersonDetector:
    """Dalal-Triggs HOG + linear SVM people detector (``cv2.HOGDescriptor``) with NMS.

    The image is resized to :attr:`work_height` pixels tall first: the detector's 64x128
    window pyramid then covers people from about a quarter of the image height to all of it,
    whatever the resolution (on a 1080x1920 3DPW frame the native resolution gave a false
    64x128 box on a torso and missed the man; at 480 px both people are found).

    **Score.** A box's score is the linear SVM's decision value (its margin, unitless):
    0 is the SVM's own boundary, and larger is more confident (on the 3DPW frame the two
    people score 2.4 and 1.0; the false boxes of the native resolution scored 0.3-0.7). The
    inferencer's ``bbox_thr`` (default 0.5) is compared with this value, so raise it (e.g. to
    1.0) to trade recall for fewer false people.

    Args:
        work_height (int): Height the image is resized to before detection, pixels.
        nms_thr (float): IoU above which the lower-scored of two boxes is dropped.
        person_fraction (float): The SVM's 64x128 window holds a ~96-px-tall person with a
            16-px margin; returned boxes are the window shrunk to this fraction about its
            centre.
        win_stride (int): Window step, pixels at the working resolution.
        pyramid_scale (float): Scale step of the image pyramid.

    Raises:
        ImportError: This OpenCV has no ``HOGDescriptor`` (OpenCV 5 moved it to the contrib
            build).
    """

    def __init__(self,
                 work_height: int = 480,
                 nms_thr: float = 0.45,
                 person_fraction: float = 0.75,
                 win_stride: int = 8,
                 pyramid_scale: float = 1.05) -> None:
        if not hasattr(cv2, 'HOGDescriptor') or not hasattr(
                cv2, 'HOGDescriptor_getDefaultPeopleDetector'):
            raise ImportError(
                f'OpenCV {cv2.__version__} has no HOG people detector (OpenCV 5 moved '
                'cv2.HOGDescriptor to opencv-contrib). Give person boxes (bboxes= / --bboxes), '
                'an ONNX detector, or install opencv-contrib-python of the same version in '
                'place of opencv-python (both provide the cv2 module).')
        if work_height < 128:
            raise ValueError(f'HOGPersonDetector: work_height must be >= 128 (the detection '
                             f'window is 128 px tall), got {work_height}.')
        self.work_height = int(work_height)
        self.nms_thr = float(nms_thr)
        self.person_fraction = float(person_fraction)
        self.win_stride = (int(win_stride), int(win_stride))
        self.pyramid_scale = float(pyramid_scale)
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(
            np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))

    def __call__(self, img: np.ndarray, name: Optional[str] = None) -> np.ndarray:
        """Detect people in one image.

        Args:
            img (np.ndarray): ``(H, W, 3)`` uint8 BGR.
            name (str, optional): Unused (the common detector signature).

        Returns:
            np.ndarray: ``(M, 5)`` ``x1, y1, x2, y2, score`` in pixels of ``img``, best first.
        """
        factor = self.work_height / img.shape[0]
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        work = cv2.resize(img, None, fx=factor, fy=factor, interpolation=interpolation)
        rects, weights = self.hog.detectMultiScale(
            work, winStride=self.win_stride, padding=(8, 8), scale=self.pyramid_scale)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / factor
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        if not len(rects):
            return empty_detections()
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        keep = nms(boxes, scores, self.nms_thr)
        boxes, scores = boxes[keep], scores[keep]
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        half = (boxes[:, 2:] - boxes[:, :2]) * self.person_fraction / 2
        return np.concatenate([centers - half, centers + half, scores[:, None]], axis=1)
