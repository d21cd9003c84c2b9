"""The side view frames every person whatever their depths (a false detection's mesh 15 m away
must not swing the others out of the view)."""
import numpy as np
import pytest

from mroi_plugin.geometry import perspective_projection
from mroi_plugin.visualization import (
    MESH_PALETTE,
    SIDE_VIEW_MARGIN,
    render_side_view,
    rotate_about_vertical,
    side_by_side,
    side_view_camera,
)

# A closed box 0.4 x 1.6 x 0.2 m (a person's rough extent), 12 triangles.
_CORNERS = np.array([[x, y, z] for x in (-0.2, 0.2) for y in (-0.8, 0.8) for z in (-0.1, 0.1)])
_FACES = np.array([[0, 1, 3], [0, 3, 2], [4, 5, 7], [4, 7, 6], [0, 1, 5], [0, 5, 4], [2, 3, 7],
                   [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 3, 7], [1, 7, 5]])
SHAPE = (480, 270)  # (H, W), a portrait frame


def _pixels_of(image: np.ndarray, color) -> int:
    """Pixels whose hue is that of ``color`` (shading scales the colour; white is excluded)."""
    color = np.asarray(color, float)
    pixels = image.reshape(-1, 3).astype(float)
    lit = pixels.sum(axis=1) < 3 * 250
    cosine = pixels @ color / (np.linalg.norm(pixels, axis=1) * np.linalg.norm(color) + 1e-9)
    return int((lit & (cosine > 0.9995)).sum())


@pytest.mark.parametrize('far_depth', [5.5, 14.9, 300.0])
def test_every_vertex_projects_inside_the_margin(far_depth):
    rng = np.random.default_rng(0)
    near = rng.normal(size=(200, 3)) * [0.3, 0.8, 0.2] + [0.5, 0.1, 5.0]
    far = rng.normal(size=(200, 3)) * [0.3, 0.8, 0.2] + [-1.0, 0.3, far_depth]
    turned = rotate_about_vertical([near, far])
    offset, focal, principal = side_view_camera(turned, SHAPE)
    points = np.concatenate(turned) + offset
    assert (points[:, 2] > 0).all()
    uv = perspective_projection(points, np.zeros(3), focal, principal)
    height, width = SHAPE
    half = (1 - SIDE_VIEW_MARGIN) * np.array([width - 1, height - 1]) / 2
    assert (np.abs(uv - principal) <= half + 1e-9).all()
    # The framing is tight along at least one axis: the zoom is not arbitrarily small.
    assert (np.abs(uv - principal).max(axis=0) / half).max() > 0.5


def test_a_depth_outlier_does_not_blank_the_side_view():
    near = _CORNERS + [0.3, 0.0, 5.0]
    outlier = _CORNERS + [-0.5, 0.2, 14.9]  # the 3DPW false box's mesh distance
    kwargs = dict(focal_length=2200.0, principal_point=(135.0, 240.0), image_shape=SHAPE)
    auto = render_side_view([near, outlier], _FACES, labels=False, **kwargs)
    for color in MESH_PALETTE[:2]:
        assert _pixels_of(auto, color) > 50
    # The former behaviour (turn about the mean vertex, the image camera) loses both.
    legacy = render_side_view([near, outlier], _FACES, framing='camera', **kwargs)
    assert sum(_pixels_of(legacy, color) for color in MESH_PALETTE[:2]) == 0


def test_labels_and_bad_framing():
    near = _CORNERS + [0.0, 0.0, 4.0]
    kwargs = dict(focal_length=500.0, principal_point=(135.0, 240.0), image_shape=SHAPE)
    plain = render_side_view([near], _FACES, labels=False, **kwargs)
    labelled = render_side_view([near], _FACES, **kwargs)
    assert (plain != labelled).any()  # the distance is written
    empty = render_side_view([], _FACES, **kwargs)
    assert (empty == 255).all()
    with pytest.raises(ValueError, match='framing'):
        render_side_view([near], _FACES, framing='orbit', **kwargs)


def test_side_view_rotation_is_a_quarter_turn_about_the_centre():
    center = np.array([0.5, 0.2, 5.0])
    points = center + np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 0.7, 0]])
    mesh = np.concatenate([points, 2 * center - points])  # symmetric: the mean is the centre
    turned = rotate_about_vertical([mesh])[0]
    # +90 deg about y (down): x -> -z, z -> x; the vertical axis through the centre is fixed.
    np.testing.assert_allclose(turned[0], center + [0, 0, -1.0], atol=1e-12)
    np.testing.assert_allclose(turned[1], center + [-1.0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(turned[2], points[2], atol=1e-12)
    four = mesh
    for _ in range(4):
        four = rotate_about_vertical([four])[0]
    np.testing.assert_allclose(four, mesh, atol=1e-12)


def test_side_view_of_a_wall_seen_edge_on():
    # A square facing the camera becomes, turned 90 degrees, a plane seen edge on: it covers
    # almost no pixels, while unturned (angle 0) it covers its projected area.
    square = np.array([[-0.5, -0.5, 4.0], [0.5, -0.5, 4.0], [0.5, 0.5, 4.0], [-0.5, 0.5, 4.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    kwargs = dict(focal_length=200.0, principal_point=(80.0, 60.0), image_shape=(120, 160),
                  framing='camera')
    front = render_side_view([square], faces, angle_deg=0.0, **kwargs)
    side = render_side_view([square], faces, **kwargs)
    covered_front = (front != 255).any(axis=2).sum()
    assert covered_front == pytest.approx(51 * 51, rel=0.1)  # 200 * 1 / 4 = 50 px side
    assert (side != 255).any(axis=2).sum() < covered_front / 20
    assert side_by_side(front, side).shape == (120, 320, 3)
