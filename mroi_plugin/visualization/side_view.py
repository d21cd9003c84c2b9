"""Mesh overlay and side view of the people of one image, side by side.

The overlay draws the meshes with the full-image camera that produced them; the side view turns
the same meshes about a vertical axis and draws them on a plain background, so depth errors
invisible in the overlay show up.

The side view frames the people itself (``framing='auto'``): after the turn, a virtual camera
with the view's principal point at its centre is placed far enough in front of the people's
bounding box, and given the focal length, that every vertex of every person projects inside the
view with a margin. A person whose depth is wrong by metres (e.g. a false detection's mesh
15 m away) therefore shrinks the others but never pushes the view out of frame or blanks it;
each person is labelled with its distance from the camera.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from mroi_plugin.geometry import axis_angle_to_rotmat, perspective_projection

from .mesh_renderer import MESH_PALETTE, render_meshes

__all__ = [
    'SIDE_VIEW_ANGLE_DEG', 'SIDE_VIEW_BACKGROUND', 'SIDE_VIEW_MARGIN', 'rotate_about_vertical',
    'render_overlay', 'render_side_view', 'side_view_camera', 'side_by_side'
]

#: Rotation of the side view about the camera's vertical (y) axis, degrees.
SIDE_VIEW_ANGLE_DEG = 90.0
#: Plain background of the side view (BGR).
SIDE_VIEW_BACKGROUND = (255, 255, 255)
#: Fraction of the view's half-width / half-height left free around the framed people.
SIDE_VIEW_MARGIN = 0.1
# Distance of the side view's virtual camera from the people's bounding box, in units of the
# box's largest side: far enough that perspective barely distorts the sizes of near and far
# people.
_CAMERA_DISTANCE_IN_EXTENTS = 2.0
# Smallest framed extent, metres (a single flat or point-like mesh still gets a finite zoom).
_MIN_EXTENT_M = 0.05
_LABEL_COLOR = (60, 60, 60)
# The camera's vertical axis: y points down in the camera frame (docs/CONVENTIONS.md).
_VERTICAL_AXIS = np.array([0.0, 1.0, 0.0])


def rotate_about_vertical(vertices: Sequence[np.ndarray],
                          angle_deg: float = SIDE_VIEW_ANGLE_DEG,
                          center: Optional[np.ndarray] = None) -> list:
    """Rotate meshes together about the vertical axis through their centre.

    Args:
        vertices (Sequence[np.ndarray]): ``M`` arrays ``(V_i, 3)``, camera frame, metres.
        angle_deg (float): Angle about the camera's y axis (right-hand rule; y points down),
            degrees. Defaults to :data:`SIDE_VIEW_ANGLE_DEG`.
        center (np.ndarray, optional): ``(3,)`` point the axis passes through; defaults to the
            mean of all vertices, so several people keep their arrangement.

    Returns:
        list[np.ndarray]: ``M`` rotated ``(V_i, 3)`` float64 arrays.
    """
    meshes = [np.asarray(v, dtype=np.float64) for v in vertices]
    if not meshes:
        return []
    if center is None:
        center = np.concatenate(meshes).mean(axis=0)
    center = np.asarray(center, dtype=np.float64).reshape(3)
    rotation = axis_angle_to_rotmat(_VERTICAL_AXIS * math.radians(angle_deg))
    return [(mesh - center) @ rotation.T + center for mesh in meshes]


def render_overlay(image: np.ndarray,
                   vertices: Sequence[np.ndarray],
                   faces: np.ndarray,
                   focal_length: Union[float, Sequence[float]],
                   principal_point: Sequence[float],
                   colors: Optional[Sequence] = None) -> np.ndarray:
    """The image with the meshes drawn over it (solid shaded) by the full camera.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR.
        vertices (Sequence[np.ndarray]): ``M`` arrays ``(V, 3)``, camera frame, metres.
        faces (np.ndarray): ``(F, 3)`` shared faces.
        focal_length (float | Sequence[float]): Pixels.
        principal_point (Sequence[float]): ``(px, py)`` pixels.
        colors (Sequence, optional): One BGR colour per mesh; defaults to the palette.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR; a copy of ``image`` when ``M == 0``.
    """
    if len(vertices) == 0:
        return np.array(image, copy=True)
    return render_meshes(image, vertices, faces, focal_length, principal_point,
                         colors=colors)[0]


def side_view_camera(vertices: Sequence[np.ndarray],
                     image_shape: Tuple[int, int],
                     margin: float = SIDE_VIEW_MARGIN) -> Tuple[np.ndarray, float, np.ndarray]:
    """A virtual pinhole camera that sees every vertex inside the view.

    The points are moved so the centre of their bounding box lies on the optical axis at
    distance ``D = extent_z / 2 + 2 * max(extent_x, extent_y, extent_z)``; the focal length is
    the largest with which the bounding box's nearest face (depth ``D - extent_z / 2``, where a
    point's projection is largest) still projects inside the view shrunk by ``margin``.

    Args:
        vertices (Sequence[np.ndarray]): ``M >= 1`` arrays ``(V_i, 3)``, metres.
        image_shape (Tuple[int, int]): ``(H, W)`` of the view.
        margin (float): Free fraction of the half-sides, in ``[0, 1)``.

    Returns:
        tuple: ``offset`` (3,) to add to the points, ``focal_length`` (pixels) and
        ``principal_point`` (2,) (the view's centre).
    """
    points = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1, 3) for v in vertices])
    points = points[np.isfinite(points).all(axis=1)]
    height, width = int(image_shape[0]), int(image_shape[1])
    principal = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    if not len(points):
        return np.zeros(3), 1.0, principal
    low, high = points.min(axis=0), points.max(axis=0)
    half = np.maximum((high - low) / 2, _MIN_EXTENT_M / 2)
    distance = half[2] + _CAMERA_DISTANCE_IN_EXTENTS * 2 * half.max()
    near = distance - half[2]
    usable = (1.0 - margin) * np.array([width - 1, height - 1]) / 2.0
    focal = float(np.min(usable * near / half[:2]))
    offset = np.array([0.0, 0.0, distance]) - (low + high) / 2
    return offset, focal, principal


def render_side_view(vertices: Sequence[np.ndarray],
                     faces: np.ndarray,
                     focal_length: Union[float, Sequence[float]],
                     principal_point: Sequence[float],
                     image_shape: Tuple[int, int],
                     angle_deg: float = SIDE_VIEW_ANGLE_DEG,
                     background: Sequence[int] = SIDE_VIEW_BACKGROUND,
                     colors: Optional[Sequence] = None,
                     framing: str = 'auto',
                     labels: bool = True) -> np.ndarray:
    """The meshes turned about a vertical axis, on a plain image.

    Args:
        vertices (Sequence[np.ndarray]): ``M`` arrays ``(V, 3)``, camera frame, metres.
        faces (np.ndarray): ``(F, 3)`` shared faces.
        focal_length (float | Sequence[float]): Pixels; used by ``framing='camera'``.
        principal_point (Sequence[float]): ``(px, py)`` pixels; used by ``framing='camera'``.
        image_shape (Tuple[int, int]): ``(H, W)`` of the view.
        angle_deg (float): See :func:`rotate_about_vertical`.
        background (Sequence[int]): BGR fill colour.
        colors (Sequence, optional): One BGR colour per mesh; defaults to the palette, so each
            person has the colour of the overlay.
        framing (str): ``'auto'``: turned about the vertical axis through the centre of the
            people's bounding box and seen by :func:`side_view_camera` (every person in view);
            ``'camera'``: turned about the mean vertex and seen by the given camera (people
            may leave the view).
        labels (bool): With ``'auto'``, write each person's distance from the original camera
            (its centre's depth, metres) above it.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.
    """
    if framing not in ('auto', 'camera'):
        raise ValueError(f"render_side_view(): framing must be 'auto' or 'camera', got "
                         f'{framing!r}.')
    height, width = int(image_shape[0]), int(image_shape[1])
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = np.asarray(background, dtype=np.uint8)
    if len(vertices) == 0:
        return canvas
    if colors is None:
        colors = [MESH_PALETTE[i % len(MESH_PALETTE)] for i in range(len(vertices))]
    if framing == 'camera':
        turned = rotate_about_vertical(vertices, angle_deg)
        return render_meshes(canvas, turned, faces, focal_length, principal_point,
                             colors=colors)[0]
    meshes = [np.asarray(v, dtype=np.float64) for v in vertices]
    points = np.concatenate(meshes)
    center = (points.min(axis=0) + points.max(axis=0)) / 2
    turned = rotate_about_vertical(meshes, angle_deg, center=center)
    offset, focal, principal = side_view_camera(turned, (height, width))
    placed = [mesh + offset for mesh in turned]
    rendered = render_meshes(canvas, placed, faces, focal, principal, colors=colors)[0]
    if labels:
        for mesh, original in zip(placed, meshes):
            top = mesh[np.argmin(mesh[:, 1])][None]
            u, v = perspective_projection(top, np.zeros(3), focal, principal)[0]
            text = f'{np.median(original[:, 2]):.1f} m'
            scale = max(0.35, height / 1200.0)
            thickness = max(1, int(round(scale * 2)))
            (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                                  thickness)
            x = int(np.clip(u - text_w / 2, 0, max(width - text_w, 0)))
            y = int(np.clip(v - text_h / 2, text_h, height - 2))
            cv2.putText(rendered, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, _LABEL_COLOR,
                        thickness, cv2.LINE_AA)
    return rendered


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Place two ``(H, W_i, 3)`` images next to each other: ``(H, W_1 + W_2, 3)``."""
    if left.shape[0] != right.shape[0] or left.dtype != right.dtype:
        raise ValueError(f'side_by_side(): the images need the same height and dtype, got '
                         f'{left.shape} {left.dtype} and {right.shape} {right.dtype}.')
    return np.concatenate([left, right], axis=1)
