"""``GetBBoxCenterScale``: a person box -> centre, size and padding (the crop fixes the aspect)."""
import math
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mroi_plugin.geometry import DEFAULT_BBOX_PADDING, DEFAULT_CROP_SIZE, bbox_xyxy_to_center_wh
from mroi_plugin.registry import TRANSFORMS

__all__ = [
    'GetBBoxCenterScale', 'pipeline_crop_box', 'pipeline_step_type', 'CROP_TRANSFORMS',
    'check_removed_box_args'
]

#: Pipeline steps that cut the RoIs and therefore own the crop size (and so the aspect).
CROP_TRANSFORMS = ('MultiRoICrop', 'MultiRoIContextCrop')
_STEP = 'GetBBoxCenterScale'


@TRANSFORMS.register_module()
class GetBBoxCenterScale(BaseTransform):
    """Turn the person's tight box into the centre, size and padding the crop starts from.

    The first half of the one owner of the crop box, as mmpose's ``GetBBoxCenterScale``
    (padding) then ``TopdownAffine`` (input size): this step sets the padding, the crop
    transform (:class:`~mroi_plugin.datasets.transforms.MultiRoICrop` or
    :class:`~mroi_plugin.datasets.transforms.MultiRoIContextCrop`) fixes the aspect ratio from
    its own ``crop_size``, giving RoI 0's height
    ``b0 = max(h, w / (crop_w / crop_h)) * padding`` (:func:`~mroi_plugin.geometry.roi_size`).
    Unlike mmpose, the padded ``(w, h)`` is not stored: the aspect is fixed before the padding
    is applied, the order of CLIFF's numbers (the other order differs in the last bit for wide
    boxes).

    Place it right after ``LoadImage`` and before the augmentations (``RandomFlipHMR`` mirrors
    ``bbox_center``; the RoI size does not change under a flip or a rotation).

    Samples whose file defines the crop itself (:class:`~mroi_plugin.datasets.SPINNpzDataset`:
    ``bbox_center`` and ``bbox_size``, the RoI height, already padded and of the crop's
    aspect) are left as they are, as mmpose computes centre and scale only from a box.

    Required keys: ``bbox_xyxy`` ``(4,)`` ``x1, y1, x2, y2`` pixels (unless ``bbox_size`` is
    present).

    Added keys:

    - ``bbox_center`` ``(2,)`` float32 px: the box's centre.
    - ``bbox_wh`` ``(2,)`` float64 px: the tight box's width and height.
    - ``bbox_padding`` (float): ``padding``, the enlargement from the tight box to RoI 0
      (carried into each data sample's metainfo by ``PackHMRInputs``).

    Args:
        padding (float): Enlargement of the box. Defaults to ``DEFAULT_BBOX_PADDING`` (1.2,
            SPIN's and CLIFF's).

    Raises:
        ValueError: (in ``transform``) a degenerate box: not 4 finite numbers, or a side that
            is not positive.
    """

    def __init__(self, padding: float = DEFAULT_BBOX_PADDING) -> None:
        if isinstance(padding, bool) or not isinstance(padding, (int, float)) \
                or not 0 < padding < math.inf:
            raise ValueError(f'{_STEP}: padding must be a positive number (the enlargement of '
                             f'the person box, e.g. {DEFAULT_BBOX_PADDING}), got {padding!r}.')
        self.padding = float(padding)

    def transform(self, results: dict) -> dict:
        """Add ``bbox_center``, ``bbox_wh`` and ``bbox_padding`` from ``bbox_xyxy``."""
        if 'bbox_size' in results:
            return results  # the file's own crop
        if 'bbox_xyxy' not in results:
            raise KeyError(f"{_STEP}: results has neither 'bbox_xyxy' (the person box, x1, y1, "
                           "x2, y2 px) nor a file-defined 'bbox_size'; put it after a dataset "
                           'that sets one (e.g. HumanDataDataset).')
        # float64: the dataset's x + w of float32 numbers is exact there, not in float32.
        box = np.asarray(results['bbox_xyxy'], dtype=np.float64).reshape(-1)
        if box.shape != (4, ) or not np.isfinite(box).all() \
                or not (box[2:] - box[:2] > 0).all():
            raise ValueError(
                f"{_STEP}: degenerate box bbox_xyxy={box.tolist()} (sample_idx="
                f"{results.get('sample_idx')}, img_path={results.get('img_path')}); a box is 4 "
                'finite numbers x1, y1, x2, y2 px with x2 > x1 and y2 > y1. Fix the annotation '
                'or the detector output, or drop the instance.')
        center, wh = bbox_xyxy_to_center_wh(box)
        results['bbox_center'] = center.astype(np.float32)
        results['bbox_wh'] = wh
        results['bbox_padding'] = self.padding
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(padding={self.padding})'


def pipeline_step_type(step: Any) -> str:
    """The registered type name of a pipeline step, given as a config dict or built."""
    kind = step.get('type') if isinstance(step, dict) else type(step)
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))
    return name.rsplit('.', 1)[-1]


def _step_arg(step: Any, name: str, default: Any) -> Any:
    if isinstance(step, dict):
        return step.get(name, default)
    return getattr(step, name, default)


def pipeline_crop_box(pipeline: Sequence[Union[dict, Any]]) -> Tuple[float, Tuple[int, int]]:
    """The padding and crop size a pipeline crops persons with.

    The one reader of the crop box for code that places RoIs outside a dataset (the mean
    crop camera, the constant-camera baseline, inference meta, benchmarks), so that they use
    the values the pipeline itself uses.

    Args:
        pipeline (Sequence[dict | transform]): Pipeline configs or built transforms.

    Returns:
        tuple: ``padding`` (float) of its ``GetBBoxCenterScale`` and ``crop_size``
        ``(crop_h, crop_w)`` of its crop step (their defaults where not given).

    Raises:
        ValueError: the pipeline has no ``GetBBoxCenterScale`` or no crop step.
    """
    names = [pipeline_step_type(step) for step in pipeline]
    if _STEP not in names or not any(name in CROP_TRANSFORMS for name in names):
        raise ValueError(
            f'The pipeline {names} has no {_STEP} or no crop step {CROP_TRANSFORMS}; a person '
            f"box becomes a RoI through both: add dict(type='{_STEP}') after LoadImage "
            '(its padding, 1.2 by default) and a MultiRoICrop (its crop_size sets the aspect).')
    padding = _step_arg(pipeline[names.index(_STEP)], 'padding', DEFAULT_BBOX_PADDING)
    crop = next(step for step, name in zip(pipeline, names) if name in CROP_TRANSFORMS)
    crop_h, crop_w = _step_arg(crop, 'crop_size', DEFAULT_CROP_SIZE)
    return float(padding), (int(crop_h), int(crop_w))


def check_removed_box_args(owner: str, fix: str, crop_aspect: Optional[float] = None,
                           bbox_scale_factor: Optional[float] = None) -> None:
    """The one error for configs that still give ``crop_aspect`` / ``bbox_scale_factor``.

    An error, not a warning: a config that still sets them has no GetBBoxCenterScale (or no
    pipeline to read the box from), so its crop could not be made anyway.

    Args:
        owner (str): Who was given them (e.g. ``'HumanDataDataset'``).
        fix (str): Where the values go now, for this owner.
        crop_aspect, bbox_scale_factor (float, optional): The removed arguments as passed.

    Raises:
        ValueError: one of them was given.
    """
    given = [name for name, value in (('crop_aspect', crop_aspect),
                                      ('bbox_scale_factor', bbox_scale_factor))
             if value is not None]
    if given:
        raise ValueError(
            f'{owner}: {" and ".join(given)} are no longer arguments of {owner} (the crop box '
            f'has one owner, the pipeline; CHANGELOG.md, Unreleased). Remove them from its '
            f"config; {fix} The padding is set by dict(type='{_STEP}', padding=...) right after "
            "dict(type='LoadImage') (default 1.2), the aspect ratio by the crop step's "
            'crop_size (MultiRoICrop / MultiRoIContextCrop).')
