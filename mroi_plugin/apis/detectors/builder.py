"""Turn the user's choice of person detector into a callable ``img -> (M, 5) boxes``."""
import copy
import os
from typing import Any, Callable, Optional

import numpy as np

from mroi_plugin.registry import TASK_UTILS

from .hog_detector import HOGPersonDetector
from .mmdet_detector import MMDetPersonDetector
from .onnx_detector import ONNXPersonDetector

__all__ = ['build_person_detector', 'PersonDetector']

#: ``detector(img (H, W, 3) uint8 BGR, name) -> (M, 5) x1, y1, x2, y2, score`` pixels.
PersonDetector = Callable[..., np.ndarray]


def build_person_detector(detector: Any,
                          det_weights: Optional[str] = None,
                          device: str = 'cpu') -> Optional[PersonDetector]:
    """Build a person detector from what the user gave.

    Args:
        detector: One of

            - ``None``: no detector (None is returned);
            - ``'hog'``: :class:`HOGPersonDetector`;
            - a ``.onnx`` file: :class:`ONNXPersonDetector` with its defaults;
            - an mmdet config file (``.py``) with ``det_weights``: :class:`MMDetPersonDetector`;
            - a dict with ``type`` (``'ONNXPersonDetector'``, ``'HOGPersonDetector'``,
              ``'MMDetPersonDetector'`` or any registered in ``TASK_UTILS``) and its arguments;
            - a callable ``detector(img, name) -> (M, 5)``, used as is.
        det_weights (str, optional): The mmdet checkpoint.
        device (str): Device of mmdet / onnxruntime detectors.

    Returns:
        callable | None: The detector.

    Raises:
        ValueError: A string that names no known kind of detector, or weights for a detector
            that takes none.
    """
    if detector is None:
        if det_weights is not None:
            raise ValueError('det_weights was given without a detector (an mmdet config).')
        return None
    if isinstance(detector, dict):
        spec = copy.deepcopy(detector)
        if spec.get('type') in ('ONNXPersonDetector', 'MMDetPersonDetector'):
            spec.setdefault('device', device)
        return TASK_UTILS.build(spec)
    if isinstance(detector, (str, os.PathLike)):
        name = os.fspath(detector)
        if name.lower() == 'hog':
            return HOGPersonDetector()
        if name.lower().endswith('.onnx'):
            return ONNXPersonDetector(name, device=device)
        if name.lower().endswith('.py'):
            if det_weights is None:
                raise ValueError(f'The mmdet detector {name} needs its checkpoint '
                                 '(det_weights= / --det-checkpoint).')
            return MMDetPersonDetector(name, det_weights, device=device)
        raise ValueError(f"Unknown detector {name!r}: give 'hog', a .onnx file, an mmdet "
                         'config (.py) with its weights, a dict with a type, or a callable.')
    if callable(detector):
        return detector
    raise TypeError(f'detector must be None, a string, a dict or a callable, got '
                    f'{type(detector).__name__}.')
