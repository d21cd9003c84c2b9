"""Mesh overlay and side view of the people of one image, side by side.

The overlay draws the meshes with the full-image camera that produced them; the side view turns
the same meshes about the vertical axis through their centre and draws them, with the same
camera, on a plain background, so depth errors invisible in the overlay show up.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from mroi_plugin.geometry import axis_angle_to_rotmat

from .mesh_renderer import MESH_PALETTE, render_meshes

__all__ = [
    'SIDE_VIEW_ANGLE_DEG', 'SIDE_VIEW_BACKGROUND', 'rotate_about_vertical', 'render_overlay',
    'render_side_view', 'side_by_side'
]

#: Rotation of the side view about the camera's vertical (y) axis, degrees.
SIDE_VIEW_ANGLE_DEG = 90.0
#: Plain background of the side view (BGR).
SIDE_VIEW_BACKGROUND = (255, 255, 255)
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


def render_side_view(vertices: Sequence[np.ndarray],
                     faces: np.ndarray,
                     focal_length: Union[float, Sequence[float]],
                     principal_point: Sequence[float],
                     image_shape: Tuple[int, int],
                     angle_deg: float = SIDE_VIEW_ANGLE_DEG,
                     background: Sequence[int] = SIDE_VIEW_BACKGROUND,
                     colors: Optional[Sequence] = None) -> np.ndarray:
    """The meshes turned about their vertical axis, seen by the same camera on a plain image.

    Args:
        vertices (Sequence[np.ndarray]): ``M`` arrays ``(V, 3)``, camera frame, metres.
        faces (np.ndarray): ``(F, 3)`` shared faces.
        focal_length (float | Sequence[float]): Pixels.
        principal_point (Sequence[float]): ``(px, py)`` pixels.
        image_shape (Tuple[int, int]): ``(H, W)`` of the view.
        angle_deg (float): See :func:`rotate_about_vertical`.
        background (Sequence[int]): BGR fill colour.
        colors (Sequence, optional): One BGR colour per mesh; defaults to the palette, so each
            person has the colour of the overlay.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = np.asarray(background, dtype=np.uint8)
    if len(vertices) == 0:
        return canvas
    if colors is None:
        colors = [MESH_PALETTE[i % len(MESH_PALETTE)] for i in range(len(vertices))]
    turned = rotate_about_vertical(vertices, angle_deg)
    return render_meshes(canvas, turned, faces, focal_length, principal_point, colors=colors)[0]


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Place two ``(H, W_i, 3)`` images next to each other: ``(H, W_1 + W_2, 3)``."""
    if left.shape[0] != right.shape[0] or left.dtype != right.dtype:
        raise ValueError(f'side_by_side(): the images need the same height and dtype, got '
                         f'{left.shape} {left.dtype} and {right.shape} {right.dtype}.')
    return np.concatenate([left, right], axis=1)
