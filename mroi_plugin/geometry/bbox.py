"""Person box -> RoI: the box's centre and size, then the crop's aspect and the padding.

The RoI of a person (centre ``c`` and height ``b`` in pixels, docs/CONVENTIONS.md) is decided
in two steps, as mmpose's ``GetBBoxCenterScale`` then ``TopdownAffine``: the pipeline step
:class:`~mroi_plugin.datasets.transforms.GetBBoxCenterScale` reads the tight box
(:func:`bbox_xyxy_to_center_wh`), and the crop transform, which alone knows the crop's aspect
ratio, takes the RoI height (:func:`roi_size`). ``bbox_xyxy_to_roi`` is both at once.
"""
from typing import Tuple, TypeVar

import numpy as np
import torch
from torch import Tensor

__all__ = ['DEFAULT_BBOX_PADDING', 'bbox_xyxy_to_center_wh', 'roi_size', 'bbox_xyxy_to_roi']

#: CLIFF/SPIN enlarge the person box by this factor before cropping (the one default).
DEFAULT_BBOX_PADDING = 1.2

# Boxes in and centres/sizes out are of one kind, computed without conversion.
BoxArray = TypeVar('BoxArray', Tensor, np.ndarray)


def bbox_xyxy_to_center_wh(bboxes: BoxArray) -> Tuple[BoxArray, BoxArray]:
    """Centre and ``(w, h)`` of boxes.

    Args:
        bboxes (Tensor | ndarray): ``(.., >=4)`` ``x1, y1, x2, y2`` pixels (extra columns such
            as a score are ignored).

    Returns:
        tuple: ``centers`` ``(.., 2)`` and ``wh`` ``(.., 2)`` pixels, same kind and dtype as
        the input.
    """
    boxes = bboxes[..., :4]
    return (boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]


def roi_size(wh: BoxArray, crop_aspect: float, padding: float) -> BoxArray:
    """RoI height of boxes of size ``(w, h)``, as CLIFF/SPIN crop them.

    ``size = max(h, w / crop_aspect) * padding``: the height of the smallest box of the
    crop's aspect ratio that holds the box, enlarged by ``padding``. The aspect is fixed
    before the padding is applied (the order CLIFF's and this package's numbers use; the
    other order differs in the last bit for wide boxes).

    Args:
        wh (Tensor | ndarray): ``(.., 2)`` box widths and heights, pixels.
        crop_aspect (float): ``crop_w / crop_h`` (192 / 256 for CLIFF's crops).
        padding (float): Enlargement of the box (SPIN/CLIFF: ``DEFAULT_BBOX_PADDING``).

    Returns:
        Tensor | ndarray: ``(..)`` RoI heights, pixels, same kind as ``wh``.
    """
    lib = torch if isinstance(wh, Tensor) else np
    return lib.maximum(wh[..., 1], wh[..., 0] / crop_aspect) * padding


def bbox_xyxy_to_roi(bboxes: BoxArray, crop_aspect: float,
                     padding: float) -> Tuple[BoxArray, BoxArray]:
    """RoI centre and size (height) of person boxes: both steps at once.

    :func:`bbox_xyxy_to_center_wh` then :func:`roi_size`, for callers that hold a box and
    the crop's facts together (tests, the box-fitted camera's checks, offline tools).

    Args:
        bboxes (Tensor | ndarray): ``(.., >=4)`` ``x1, y1, x2, y2`` pixels.
        crop_aspect (float): ``crop_w / crop_h``.
        padding (float): Enlargement of the box.

    Returns:
        tuple: ``centers`` ``(.., 2)`` and ``sizes`` ``(..)`` pixels, same kind as the input.
    """
    centers, wh = bbox_xyxy_to_center_wh(bboxes)
    return centers, roi_size(wh, crop_aspect, padding)
