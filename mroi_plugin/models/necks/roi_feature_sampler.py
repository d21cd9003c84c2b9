"""``RoIFeatureSampler``: RoI-Align-style bilinear sampling of RoI features from a shared map."""
import math
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['RoIFeatureSampler']


@MODELS.register_module()
class RoIFeatureSampler(BaseModule):
    """Cut every RoI's feature map out of the backbone maps of a context crop.

    Feature-level RoIs (docs/feature_rois.md): the backbone runs once on a
    person's context crop (``MultiRoIContextCrop``) and each RoI's features are
    sampled where the RoI's own crop would have put them. On a map of stride
    ``s`` (context pixels per feature cell; cell ``i`` covers context pixels
    ``[i s, (i + 1) s)``), a crop of ``crop_h x crop_w`` pixels through the same
    backbone would give ``ceil(crop_h / s) x ceil(crop_w / s)`` cells, cell
    ``(i, j)`` centred at crop pixel ``((j + 0.5) s, (i + 0.5) s)``. That point is
    carried into the context by the RoI's box (crop pixel ``x`` -> ``x1 + x (x2 -
    x1) / crop_w``) and read by bilinear interpolation (``F.grid_sample``,
    ``align_corners=False``, positions clamped to the map as RoI-Align clamps
    them). With ``sampling_ratio = r > 1`` every cell is the mean of an ``r x r``
    grid of points spread over it, as RoI-Align averages its bins.

    Where the RoI's crop and the context share their pixel grid (same scale,
    offsets a multiple of ``s``) and the backbone's receptive field stays inside
    the crop, the sampled map equals the crop's map exactly; elsewhere it differs
    by interpolation and by the context the receptive field sees.

    Args:
        sampling_ratio (int): Points per cell side, ``r >= 1``. Defaults to 1
            (one point at each cell centre: cheapest, and exact on aligned grids).
    """

    def __init__(self, sampling_ratio: int = 1) -> None:
        super().__init__()
        if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, int) or \
                sampling_ratio < 1:
            raise ValueError(
                f'RoIFeatureSampler: sampling_ratio must be an int >= 1, got {sampling_ratio!r}.')
        self.sampling_ratio = sampling_ratio

    @staticmethod
    def _stride(feat: Tensor, context_size: Tuple[int, int]) -> float:
        context_h, context_w = context_size
        height, width = feat.shape[-2:]
        if context_h % height or context_w % width or context_h // height != context_w // width:
            raise ValueError(
                f'RoIFeatureSampler: a {height}x{width} feature map of a {context_h}x{context_w} '
                'context crop has no single integer stride; make both sides of the context '
                "crop (MultiRoIContextCrop's context_size) multiples of the backbone's output "
                'stride (32 for ResNet-50, 16 for a 4-stage TinyConvNet).')
        return float(context_h // height)

    def _sample(self, feat: Tensor, boxes: Tensor, context_size: Tuple[int, int],
                crop_size: Tuple[int, int]) -> Tensor:
        num_people, num_rois = boxes.shape[:2]
        if feat.dim() != 4 or feat.shape[0] != num_people:
            raise ValueError(
                f'RoIFeatureSampler: expected maps (B={num_people}, C, H, W), one per '
                f'person, got {tuple(feat.shape)}.')
        stride = self._stride(feat, context_size)
        crop_h, crop_w = crop_size
        out_h, out_w = math.ceil(crop_h / stride), math.ceil(crop_w / stride)
        ratio = self.sampling_ratio
        # Crop-pixel positions of the samples: r points per cell, spread evenly over it.
        offsets = (torch.arange(ratio, dtype=boxes.dtype, device=boxes.device) + 0.5) / ratio
        ys = (torch.arange(out_h, dtype=boxes.dtype, device=boxes.device)[:, None]
              + offsets).flatten() * stride
        xs = (torch.arange(out_w, dtype=boxes.dtype, device=boxes.device)[:, None]
              + offsets).flatten() * stride
        x1, y1, x2, y2 = boxes.unbind(-1)  # (B, N) each, context pixels
        x = x1[..., None] + xs * ((x2 - x1) / crop_w)[..., None]  # (B, N, out_w * r)
        y = y1[..., None] + ys * ((y2 - y1) / crop_h)[..., None]  # (B, N, out_h * r)
        # Context pixels -> grid_sample's [-1, 1] over the map's extent (align_corners=False).
        height, width = feat.shape[-2:]
        gx = 2 * x / (width * stride) - 1
        gy = 2 * y / (height * stride) - 1
        rows, cols = gy.shape[-1], gx.shape[-1]
        grid = torch.stack(torch.broadcast_tensors(
            gx[:, :, None, :], gy[:, :, :, None]), dim=-1)  # (B, N, rows, cols, 2)
        sampled = F.grid_sample(
            feat, grid.reshape(num_people, num_rois * rows, cols, 2).to(feat.dtype),
            mode='bilinear', padding_mode='border', align_corners=False)
        channels = feat.shape[1]
        sampled = sampled.view(num_people, channels, num_rois, rows, cols).transpose(1, 2)
        sampled = sampled.reshape(num_people * num_rois, channels, rows, cols)
        if ratio > 1:
            sampled = F.avg_pool2d(sampled, ratio)
        return sampled

    def forward(self, feats: Union[Tensor, Sequence[Tensor]], boxes: Tensor,
                context_size: Tuple[int, int],
                crop_size: Tuple[int, int]) -> Tuple[Tensor, ...]:
        """Sample every RoI from every map.

        Args:
            feats (Tensor | Sequence[Tensor]): The backbone's maps of the context
                crops, each ``(B, C_l, H_l, W_l)``.
            boxes (Tensor): ``(B, N, 4)`` ``x1, y1, x2, y2`` of each RoI crop's
                edges in context pixels (``roi_boxes_context``).
            context_size (tuple[int, int]): ``(context_h, context_w)``, pixels.
            crop_size (tuple[int, int]): ``(crop_h, crop_w)`` of the RoI crops the
                sampled maps stand for, pixels.

        Returns:
            tuple[Tensor]: Per map, ``(B*N, C_l, ceil(crop_h / s_l), ceil(crop_w /
            s_l))``, RoIs of a person consecutive (the crop mode's order).
        """
        if boxes.dim() != 3 or boxes.shape[-1] != 4:
            raise ValueError(
                'RoIFeatureSampler: boxes must be (B, N, 4) x1, y1, x2, y2 context pixels, got '
                f'{tuple(boxes.shape)}.')
        maps = (feats, ) if isinstance(feats, Tensor) else tuple(feats)
        return tuple(self._sample(feat, boxes, (context_size[0], context_size[1]),
                                  (crop_size[0], crop_size[1]))
                     for feat in maps)
