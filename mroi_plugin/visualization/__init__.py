"""Visualisation: a headless software mesh renderer for overlays and synthetic data."""
from .exports import PERSON_JSON_KEYS, person_to_json_dict, write_obj, write_person_json
from .hmr_visualizer import RGB_MESH_PALETTE, HMRVisualizer
from .mesh_renderer import (
    DEFAULT_AMBIENT,
    DEFAULT_DIFFUSE,
    DEFAULT_LIGHT_DIRECTION,
    DEFAULT_MESH_COLOR,
    MESH_PALETTE,
    Rasterization,
    compute_vertex_normals,
    rasterize_mesh,
    render_mesh,
    render_meshes,
)
from .side_view import (
    SIDE_VIEW_ANGLE_DEG,
    SIDE_VIEW_BACKGROUND,
    SIDE_VIEW_MARGIN,
    render_overlay,
    render_side_view,
    rotate_about_vertical,
    side_by_side,
    side_view_camera,
)

__all__ = [
    'HMRVisualizer', 'RGB_MESH_PALETTE',
    'DEFAULT_AMBIENT', 'DEFAULT_DIFFUSE', 'DEFAULT_LIGHT_DIRECTION', 'DEFAULT_MESH_COLOR',
    'MESH_PALETTE', 'Rasterization', 'compute_vertex_normals', 'rasterize_mesh', 'render_mesh',
    'render_meshes', 'PERSON_JSON_KEYS', 'person_to_json_dict', 'write_obj', 'write_person_json',
    'SIDE_VIEW_ANGLE_DEG', 'SIDE_VIEW_BACKGROUND', 'SIDE_VIEW_MARGIN', 'render_overlay',
    'render_side_view', 'rotate_about_vertical', 'side_by_side', 'side_view_camera'
]
