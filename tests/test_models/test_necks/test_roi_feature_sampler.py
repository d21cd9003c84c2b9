"""RoIFeatureSampler: RoI features sampled from a context map equal the RoI crop's own map."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from mroi_plugin.datasets.transforms import MultiRoIContextCrop, MultiRoICrop
from mroi_plugin.models.necks import RoIFeatureSampler
from tests.test_datasets.test_transforms.test_multi_roi_context_crop import (
    ALIGNED,
    ALIGNED_CONTEXT,
    aligned_person,
)


def ramp(height: int, width: int, coeffs) -> torch.Tensor:
    """``(1, C, H, W)`` maps ``a_c x + b_c y + d_c`` of the cells' centre coordinates
    ``x = j + 0.5``, ``y = i + 0.5`` (feature cells)."""
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float64) + 0.5,
                          torch.arange(width, dtype=torch.float64) + 0.5, indexing='ij')
    return torch.stack([a * x + b * y + d for a, b, d in coeffs])[None]


@pytest.mark.parametrize('sampling_ratio', [1, 2, 3])
@pytest.mark.parametrize('stride', [4, 8])
def test_sampling_is_exact_on_linear_maps(sampling_ratio, stride):
    """Bilinear interpolation and the mean of a cell's points reproduce a linear map, so each
    sampled cell equals the map's value at the cell centre, hand-derived from the box."""
    context_h, context_w, crop_h, crop_w = 64, 48, 32, 24
    coeffs = [(0.7, -0.3, 2.0), (-1.1, 0.4, -0.5)]
    feat = ramp(context_h // stride, context_w // stride, coeffs)
    # Fractional boxes of RoI crops (any scale), kept off the outer half cell so no clamping.
    boxes = torch.tensor([[[6.3, 5.1, 30.7, 37.6], [10.0, 9.5, 40.25, 49.83]]],
                         dtype=torch.float64)
    (sampled, ) = RoIFeatureSampler(sampling_ratio)(feat, boxes, (context_h, context_w),
                                                     (crop_h, crop_w))
    out_h, out_w = math.ceil(crop_h / stride), math.ceil(crop_w / stride)
    assert sampled.shape == (2, 2, out_h, out_w)
    for k, (x1, y1, x2, y2) in enumerate(boxes[0].tolist()):
        # Cell (i, j) of the crop is centred at crop pixel ((j + .5) s, (i + .5) s); in the
        # context at x1 + that * (x2 - x1) / crop_w; in map cells, divided by s.
        cx = (x1 + (np.arange(out_w) + 0.5) * stride * (x2 - x1) / crop_w) / stride
        cy = (y1 + (np.arange(out_h) + 0.5) * stride * (y2 - y1) / crop_h) / stride
        for c, (a, b, d) in enumerate(coeffs):
            expected = a * cx[None, :] + b * cy[:, None] + d
            np.testing.assert_allclose(sampled[k, c].numpy(), expected, atol=1e-9)


class PointwiseThenPool(nn.Module):
    """A backbone whose receptive field is one 2x2 block: 1x1 conv, ReLU, 2x2 mean (stride 2),
    and a second, stride-4 map; any crop aligned with the context sees exactly its pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 1)

    def forward(self, x):
        first = nn.functional.avg_pool2d(torch.relu(self.conv(x)), 2)
        return first, nn.functional.avg_pool2d(first, 2)


def test_aligned_rois_sample_exactly_their_crops_backbone_features():
    """Crop mode: the backbone on each of the 3 RoI crops. Feature mode: once on the context,
    each RoI sampled. On a shared pixel grid with 4-px RoI offsets (even, and multiples of the
    second map's stride for RoI 0 and 1's x and RoI 2's y) the maps agree exactly."""
    torch.manual_seed(0)
    backbone = PointwiseThenPool().double()
    crops = MultiRoICrop(**ALIGNED)(aligned_person(1))
    context = MultiRoIContextCrop(context_size=ALIGNED_CONTEXT, **ALIGNED)(aligned_person(1))
    to_tensor = lambda img: torch.from_numpy(img).permute(0, 3, 1, 2).double() / 255  # noqa
    with torch.no_grad():
        crop_maps = backbone(to_tensor(crops['img']))
        context_maps = backbone(to_tensor(context['img']))
        sampled = RoIFeatureSampler()(
            context_maps, torch.from_numpy(context['roi_boxes_context'])[None],
            ALIGNED_CONTEXT, ALIGNED['crop_size'])
    assert [m.shape for m in sampled] == [m.shape for m in crop_maps]
    assert sampled[0].shape == (3, 5, 8, 6)
    torch.testing.assert_close(sampled[0], crop_maps[0], rtol=0, atol=1e-12)
    assert not torch.allclose(sampled[0][0], sampled[0][1])
    # Stride 4: RoI boxes at x = 0, 4, 0 and y = 0, 0, 4 are multiples of 4, so exact too.
    torch.testing.assert_close(sampled[1], crop_maps[1], rtol=0, atol=1e-12)


def test_gradients_reach_the_map():
    feat = torch.randn(2, 3, 8, 6, requires_grad=True)
    boxes = torch.tensor([[[0.0, 0.0, 48.0, 64.0], [8.0, 8.0, 32.0, 40.0]]] * 2)
    (sampled, ) = RoIFeatureSampler(2)(feat, boxes, (64, 48), (64, 48))
    assert sampled.shape == (4, 3, 8, 6)
    sampled.sum().backward()
    assert feat.grad.abs().sum() > 0
    # Bilinear weights of each sample sum to one and RoI 0 covers the map once per cell.
    assert feat.grad.sum().item() == pytest.approx(sampled.numel(), rel=1e-5)


def test_context_not_a_multiple_of_the_stride_is_refused():
    with pytest.raises(ValueError, match='multiples of the backbone'):
        RoIFeatureSampler()(torch.zeros(1, 2, 5, 5), torch.zeros(1, 1, 4), (72, 72), (64, 48))


@pytest.mark.parametrize('ratio', [0, 1.5, True])
def test_bad_sampling_ratio_is_refused(ratio):
    with pytest.raises(ValueError, match='sampling_ratio'):
        RoIFeatureSampler(ratio)
