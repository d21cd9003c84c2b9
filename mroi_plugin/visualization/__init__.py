"""Visualisation: a headless software mesh renderer for overlays and synthetic data."""
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

__all__ = [
    'DEFAULT_AMBIENT', 'DEFAULT_DIFFUSE', 'DEFAULT_LIGHT_DIRECTION', 'DEFAULT_MESH_COLOR',
    'MESH_PALETTE', 'Rasterization', 'compute_vertex_normals', 'rasterize_mesh', 'render_mesh',
    'render_meshes'
]
