"""``MultiRoIContextCrop``: one context crop covering a person's RoIs (feature-level RoIs)."""
from typing import Optional, Tuple

import cv2
import numpy as np

from mroi_plugin.geometry import apply_affine, compose_affine, get_crop_affine, invert_affine
from mroi_plugin.registry import TRANSFORMS

from .multi_roi_crop import _INTERPOLATIONS, MultiRoICrop, _scale_colors

__all__ = ['MultiRoIContextCrop']

# (context_h, context_w) of the R50 feature-mode config: CLIFF's crop, one backbone pass of
# CLIFF's cost per person (docs/feature_rois.md).
DEFAULT_CONTEXT_SIZE = (256, 192)


@TRANSFORMS.register_module()
class MultiRoIContextCrop(MultiRoICrop):
    """``MultiRoICrop`` that cuts ONE context crop per person instead of ``N`` crops.

    The RoIs, their geometry and targets are exactly those of :class:`MultiRoICrop`
    (same virtual rotated image ``I'``, same ``roi_centers``, ``roi_sizes``,
    ``bbox_info``, ``crop_trans``, ``keypoints2d_crop`` and rotated 3D targets):
    only the image differs. The context crop is the axis-aligned box of ``I'``
    with the aspect of ``context_size`` that tightly covers the union of the
    RoI boxes, warped with one ``cv2.warpAffine`` from the input image. The model
    (``MultiRoIHMR`` with a ``roi_sampler``) runs the backbone once on it and
    samples every RoI's features from the shared map at the positions the RoI's
    own crop would have put them (``RoIFeatureSampler``).

    The layout is relative to the original box (shifts and sizes in units of
    ``b0``), so the context box and every RoI's place in it are the same for
    every person: only their pixel density in ``I'`` changes with ``b0``.

    Added keys, on top of those of :class:`MultiRoICrop`:

    - ``img``: ``(1, context_h, context_w, 3)`` uint8, the context crop.
    - ``context_trans`` ``(2, 3)``: affine ``I'`` pixels -> context pixels.
    - ``roi_boxes_context`` ``(N, 4)``: ``x1, y1, x2, y2`` in context pixels,
      where the edges of RoI ``k``'s crop (crop pixels ``(0, 0)`` and
      ``(crop_w, crop_h)``) land; pixel ``i`` covers ``[i, i + 1)``.
    - ``context_size``: ``(context_h, context_w)``.

    Args:
        context_size (tuple[int, int]): ``(context_h, context_w)`` of the context
            crop, pixels. For exact feature alignment each side should be a
            multiple of the backbone's output stride (32 for ResNet-50, 16 for
            the quickstart's TinyConvNet). Defaults to (256, 192).
        **kwargs: :class:`MultiRoICrop` arguments (``num_rois``, ``shifts``,
            ``scales``, ``crop_size``, ``bbox_info``, ``roi_table``,
            ``interpolation``, ``border_value``).
    """

    def __init__(self, context_size: Tuple[int, int] = DEFAULT_CONTEXT_SIZE, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.crop_mode != 'warp':
            raise ValueError(
                "MultiRoIContextCrop warps one context crop per person: crop_mode must be "
                f"'warp', got {self.crop_mode!r} (use MultiRoICrop for CLIFF's window crops).")
        if len(context_size) != 2 or any(
                isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0
                for s in context_size):
            raise ValueError(
                f'MultiRoIContextCrop: context_size must be (context_h, context_w) positive '
                f'ints, got {context_size!r}.')
        self.context_size = (int(context_size[0]), int(context_size[1]))
        self._context_from_crop0 = self._context_layout()

    def _context_layout(self) -> np.ndarray:
        """Affine crop-0 pixels -> context pixels (``(2, 3)``), the same for every person.

        Computed on a unit original box centred at the origin: both the crop and the context
        affines are isotropic scalings with translations proportional to ``b0``, so the
        composition does not depend on the box.
        """
        crop_h, crop_w = self.crop_size
        half = np.stack([self.scales * crop_w / crop_h, self.scales], axis=1) / 2
        low = (self.shifts - half).min(axis=0)
        high = (self.shifts + half).max(axis=0)
        context_h, context_w = self.context_size
        # Height of the context box in units of b0: the union's height, or its width at the
        # context's aspect, whichever is larger.
        height = max(high[1] - low[1], (high[0] - low[0]) * context_h / context_w)
        context = get_crop_affine((low + high) / 2, np.float64(height), self.context_size)
        crop0_inv = get_crop_affine(np.zeros(2), np.float64(1.0), self.crop_size, inverse=True)
        return compose_affine(context, crop0_inv)

    def _warp(self, img: np.ndarray, warps: np.ndarray,
              color_scale: Optional[np.ndarray]) -> np.ndarray:
        """One context crop, ``(1, context_h, context_w, C)``, instead of the ``N`` crops.

        ``warps[0]`` maps input pixels to RoI 0's crop (rotation included); the context is a
        fixed scaling and shift of that crop.
        """
        context_h, context_w = self.context_size
        warp = compose_affine(self._context_from_crop0, warps[0])
        context = np.empty((1, context_h, context_w) + img.shape[2:], dtype=img.dtype)
        cv2.warpAffine(
            img, warp, (context_w, context_h), dst=context[0],
            flags=_INTERPOLATIONS[self.interpolation],
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(self.border_value, ) * 3)
        if color_scale is not None:
            context = _scale_colors(context, color_scale)
        return context

    def transform(self, results: dict) -> dict:
        """Crop the context and place every RoI in it; targets as ``MultiRoICrop``."""
        results = super().transform(results)
        crop_trans = results['crop_trans']
        context_trans = compose_affine(self._context_from_crop0, crop_trans[0])
        crop_h, crop_w = self.crop_size
        corners = np.array([[0.0, 0.0], [crop_w, crop_h]])
        crop_to_context = compose_affine(np.broadcast_to(context_trans, crop_trans.shape),
                                         invert_affine(crop_trans))
        boxes = apply_affine(np.broadcast_to(corners, (len(crop_trans), 2, 2)), crop_to_context)
        results['context_trans'] = context_trans
        results['roi_boxes_context'] = boxes.reshape(len(crop_trans), 4)
        results['context_size'] = self.context_size
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', context_size={self.context_size})'

