"""fit_translation_to_box: the translation at which a body fills its RoI as the RoI was made.

Truths: the boxes are made from known translations by projecting the points and padding the
tight box to the crop's aspect (bbox_xyxy_to_roi), so the fit must return those translations;
a planar body (every point at the same depth) is seen exactly by the weak-perspective start.
"""
import numpy as np
import pytest
import torch

from mroi_plugin.geometry import (
    bbox_xyxy_to_roi,
    cam_crop_to_full,
    fit_translation_to_box,
    perspective_projection,
)

ASPECT, PADDING = 0.75, 1.2


def _bodies(depth_extent: float = 0.15) -> torch.Tensor:
    """Four point clouds of person size (1.2-1.8 m tall, one lying: wider than tall)."""
    gen = torch.Generator().manual_seed(0)
    spread = torch.tensor([[0.25, 0.6, depth_extent], [0.3, 0.45, depth_extent],
                           [0.9, 0.2, depth_extent], [0.2, 0.5, depth_extent]],
                          dtype=torch.float64)
    return torch.randn(4, 400, 3, generator=gen, dtype=torch.float64) * spread[:, None]


# Near (2 m, wide-angle), far and off-centre cameras; the third body is the lying one.
TRANSLATIONS = torch.tensor([[0.3, 0.2, 2.0], [-1.0, 0.5, 9.0], [0.2, 0.9, 3.0],
                             [2.0, -0.5, 5.0]], dtype=torch.float64)
FOCAL = torch.tensor([1000., 1000., 600., 1500.], dtype=torch.float64)
PRINCIPAL = torch.tensor([[640., 360.], [640., 360.], [320., 240.], [960., 540.]],
                         dtype=torch.float64)


def _rois(points: torch.Tensor, translation: torch.Tensor):
    pixels = perspective_projection(points, translation, FOCAL, PRINCIPAL)
    xyxy = torch.cat([pixels.amin(dim=-2), pixels.amax(dim=-2)], dim=-1)
    return bbox_xyxy_to_roi(xyxy, ASPECT, PADDING), xyxy


def test_recovers_the_translation_that_made_the_box():
    points = _bodies()
    (center, size), xyxy = _rois(points, TRANSLATIONS)
    width, height = (xyxy[:, 2:] - xyxy[:, :2]).unbind(-1)
    assert width[2] / ASPECT > height[2]  # the lying body sets the RoI by its width
    fitted = fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, ASPECT, PADDING)
    torch.testing.assert_close(fitted, TRANSLATIONS, rtol=0, atol=1e-8)


def test_each_step_shrinks_the_error_and_the_default_steps_reach_1e_8_metres():
    """Deep bodies (points +-0.9 m deep) as near as 2 m: the hardest case for the steps."""
    points = _bodies(depth_extent=0.3)
    (center, size), _ = _rois(points, TRANSLATIONS)
    errors = [(fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, ASPECT, PADDING,
                                      num_iters=n) - TRANSLATIONS).norm(dim=-1).max().item()
              for n in range(0, 21)]
    assert errors[0] > 1e-1  # depth extent makes weak perspective visibly wrong at 2 m
    assert all(b < a for a, b in zip(errors[:15], errors[1:16]))
    assert errors[20] < 1e-8
    default = fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, ASPECT, PADDING)
    assert (default - TRANSLATIONS).norm(dim=-1).max().item() == errors[20]


def test_a_planar_body_is_fitted_exactly_by_the_weak_perspective_start():
    """All points at the body's own depth: perspective = weak perspective, so num_iters=0 is
    exact, and the start is the closed form s = (2 / padding) / max(ext_y, ext_x / aspect)."""
    points = _bodies()
    points[..., 2] = 0
    (center, size), _ = _rois(points, TRANSLATIONS)
    fitted = fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, ASPECT, PADDING,
                                    num_iters=0)
    torch.testing.assert_close(fitted, TRANSLATIONS, rtol=0, atol=1e-9)
    extent = points[..., :2].amax(dim=-2) - points[..., :2].amin(dim=-2)
    scale = (2 / PADDING) / torch.maximum(extent[:, 1], extent[:, 0] / ASPECT)
    mid = (points[..., :2].amax(dim=-2) + points[..., :2].amin(dim=-2)) / 2
    by_hand = cam_crop_to_full(torch.cat([scale[:, None], -mid], -1), center, size, FOCAL,
                               PRINCIPAL)
    torch.testing.assert_close(fitted, by_hand, rtol=0, atol=1e-12)


def test_numpy_in_numpy_out_and_gradients_flow():
    points = _bodies()
    (center, size), _ = _rois(points, TRANSLATIONS)
    out = fit_translation_to_box(points.numpy(), center.numpy(), size.numpy(), FOCAL.numpy(),
                                 PRINCIPAL.numpy(), ASPECT, PADDING)
    assert isinstance(out, np.ndarray) and out.shape == (4, 3)
    np.testing.assert_allclose(out, TRANSLATIONS.numpy(), atol=1e-8)
    # A bigger body at the same box must be farther away: d Tz / d(scale of body) > 0.
    grow = torch.ones((), dtype=torch.float64, requires_grad=True)
    fit_translation_to_box(points * grow, center, size, FOCAL, PRINCIPAL, ASPECT,
                           PADDING)[:, 2].sum().backward()
    assert grow.grad > 0


def test_a_larger_padding_means_the_body_is_farther():
    points = _bodies()
    (center, size), _ = _rois(points, TRANSLATIONS)
    near = fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, ASPECT, 1.0)
    far = fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, ASPECT, PADDING)
    assert (far[:, 2] > near[:, 2]).all()


@pytest.mark.parametrize('aspect, padding', [(0., 1.2), (0.75, -1.), (0.75, float('nan'))])
def test_bad_aspect_or_padding_is_refused(aspect, padding):
    points = _bodies()
    (center, size), _ = _rois(points, TRANSLATIONS)
    with pytest.raises(ValueError, match='crop_aspect .* and padding .* must be positive'):
        fit_translation_to_box(points, center, size, FOCAL, PRINCIPAL, aspect, padding)
