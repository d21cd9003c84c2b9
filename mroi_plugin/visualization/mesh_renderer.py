"""Headless software mesh renderer: z-buffered triangles, Lambert + ambient shading.

Pure numpy (no OpenGL, no display): every triangle is scan-converted row by row over the
exact span of pixel centres it covers, vectorised over all triangles and rows at once, so a
640x480 image of a ~14k-face body mesh takes a few tens of milliseconds on one CPU core.
The camera is the project's pinhole camera (docs/CONVENTIONS.md): camera frame x right, y down,
z forward in metres, focal length and principal point in pixels, pixel centres at integer
coordinates; vertices are projected with :func:`mroi_plugin.geometry.perspective_projection`.

A pixel is covered by a triangle when its centre lies inside the projected triangle (edges
included). Depth is resolved per pixel with the perspective-correct depth ``1 / z``
interpolated linearly in screen space, so intersecting triangles are handled exactly.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from mroi_plugin.geometry import perspective_projection

__all__ = [
    'DEFAULT_MESH_COLOR', 'MESH_PALETTE', 'DEFAULT_LIGHT_DIRECTION', 'DEFAULT_AMBIENT',
    'DEFAULT_DIFFUSE', 'DEFAULT_NEAR', 'Rasterization', 'rasterize_mesh',
    'compute_vertex_normals', 'render_mesh', 'render_meshes'
]

# Light grey-blue (BGR), the usual colour of mesh overlays in HMR demos.
DEFAULT_MESH_COLOR = (200, 180, 160)
# Distinct pastel colours (BGR) for several people in one image.
MESH_PALETTE = ((200, 180, 160), (140, 200, 240), (160, 220, 160), (220, 160, 220),
                (120, 170, 250), (230, 220, 140))
# Direction *towards* the light in the camera frame (x right, y down, z forward): above, a
# little to the left of and behind the camera, so front-facing surfaces are lit.
DEFAULT_LIGHT_DIRECTION = (-0.3, -0.6, -1.0)
# Lambert weights: colour = base * (ambient + diffuse * max(0, n . l)); their sum is 1 so a
# surface facing the light shows its base colour.
DEFAULT_AMBIENT = 0.35
DEFAULT_DIFFUSE = 0.65
# Triangles with a vertex closer than this (metres) are skipped: the pinhole projection has no
# meaning behind the camera and near-plane clipping is not worth its cost for overlays.
DEFAULT_NEAR = 1e-3
# Upper bound on (triangle, pixel) candidates processed at once; bounds the memory (~40 bytes
# each) when triangles are large, without slowing down the common case.
_MAX_CANDIDATES_PER_CHUNK = 1 << 21
# Z-buffer keys pack the face index in the low bits (see _scan_faces).
_FACE_BITS = 32
_FACE_BITS_MASK = (1 << _FACE_BITS) - 1
_MAX_FACES = 1 << 31
# Span ends are widened by this many pixels so centres exactly on an edge are covered.
_SPAN_TOL_PX = 1e-7
# Floor of the interpolated 1 / z (1 / metres): keeps the float32 key positive (monotonic).
_MIN_INV_DEPTH = 1e-30
# Projected triangles with a smaller |signed area| (pixels^2) cover no pixel centre reliably
# and would make the barycentric coefficients blow up.
_MIN_PIXEL_AREA = 1e-12
# Barycentric tolerance for the inside test, so pixel centres exactly on an edge are covered.
_INSIDE_TOL = 1e-9

ColorLike = Union[Sequence[float], np.ndarray]
# A camera quantity or direction: numbers or a numpy array of them.
VectorLike = Union[Sequence[float], np.ndarray]


@dataclass
class Rasterization:
    """Result of :func:`rasterize_mesh`: the visible surface at every covered pixel.

    The per-pixel data are stored compactly for the ``P`` covered pixels only (a mesh usually
    covers a small part of the image); the properties expand them into ``(H, W)`` maps.

    Attributes:
        image_shape (Tuple[int, int]): ``(H, W)``.
        pixels (np.ndarray): ``(P,)`` int64 flat indices ``v * W + u`` of the covered pixels,
            ascending.
        faces (np.ndarray): ``(P,)`` int64 index of the visible face at each covered pixel.
        barycentric (np.ndarray): ``(P, 3)`` float64 perspective-correct barycentric weights of
            the visible face's three vertices: a vertex attribute ``a`` interpolates as
            ``sum_k w_k a[faces_array[f, k]]``.
        depths (np.ndarray): ``(P,)`` float64 camera-frame ``z`` (metres) of the visible
            surface.
        front_facing (np.ndarray): ``(F,)`` bool, True where the face's normal
            ``(v1 - v0) x (v2 - v0)`` points towards the camera.
    """

    image_shape: Tuple[int, int]
    pixels: np.ndarray
    faces: np.ndarray
    barycentric: np.ndarray
    depths: np.ndarray
    front_facing: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: pixels covered by the mesh."""
        mask = np.zeros(self.image_shape[0] * self.image_shape[1], dtype=bool)
        mask[self.pixels] = True
        return mask.reshape(self.image_shape)

    @property
    def face_index(self) -> np.ndarray:
        """``(H, W)`` int64 visible face, ``-1`` where uncovered."""
        out = np.full(self.image_shape[0] * self.image_shape[1], -1, dtype=np.int64)
        out[self.pixels] = self.faces
        return out.reshape(self.image_shape)

    @property
    def depth(self) -> np.ndarray:
        """``(H, W)`` float64 depth map (metres), ``inf`` where uncovered."""
        out = np.full(self.image_shape[0] * self.image_shape[1], np.inf, dtype=np.float64)
        out[self.pixels] = self.depths
        return out.reshape(self.image_shape)


def _sum3(values: np.ndarray) -> np.ndarray:
    """Sum over axis 1 of size 3 (much faster than ``sum(axis=1)`` for narrow arrays)."""
    return values[:, 0] + values[:, 1] + values[:, 2]


def _interpolate(weights: np.ndarray, attributes: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """``(P, 3)`` weights x ``attributes[corners]`` -> ``(P, C)`` interpolated attributes."""
    return (weights[:, 0:1] * attributes[corners[:, 0]] + weights[:, 1:2] *
            attributes[corners[:, 1]] + weights[:, 2:3] * attributes[corners[:, 2]])


def _check_mesh(vertices: np.ndarray, faces: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError('mesh renderer: `vertices` must have shape (V, 3) (camera frame, '
                         f'metres), got {vertices.shape}.')
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError('mesh renderer: `faces` must be an integer array of shape (F, 3), got '
                         f'{faces.dtype} {faces.shape}.')
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f'mesh renderer: `faces` index vertices 0..{len(vertices) - 1}, got '
                         f'indices in [{faces.min()}, {faces.max()}].')
    return vertices, faces.astype(np.int64)


def _check_image_shape(image_shape: Sequence[int]) -> Tuple[int, int]:
    if len(image_shape) < 2 or int(image_shape[0]) <= 0 or int(image_shape[1]) <= 0:
        raise ValueError('mesh renderer: `image_shape` must be (H, W) with positive sizes, got '
                         f'{tuple(image_shape)}.')
    return int(image_shape[0]), int(image_shape[1])


def _project(vertices: np.ndarray, focal_length: Union[float, VectorLike],
             principal_point: VectorLike) -> np.ndarray:
    focal = np.asarray(focal_length, dtype=np.float64)
    if focal.shape not in ((), (1, ), (2, )):
        raise ValueError('mesh renderer: `focal_length` must be a scalar or (fx, fy) in pixels, '
                         f'got shape {focal.shape}.')
    if focal.shape == (1, ):
        focal = focal[0]
    principal = np.asarray(principal_point, dtype=np.float64)
    if principal.shape != (2, ):
        raise ValueError('mesh renderer: `principal_point` must be (px, py) in pixels, got shape '
                         f'{principal.shape}.')
    return perspective_projection(vertices, np.zeros(3), focal, principal)


def rasterize_mesh(vertices: np.ndarray,
                   faces: np.ndarray,
                   focal_length: Union[float, VectorLike],
                   principal_point: VectorLike,
                   image_shape: Sequence[int],
                   cull_backfaces: bool = False,
                   near: float = DEFAULT_NEAR) -> Rasterization:
    """Z-buffer rasterisation of a triangle mesh seen by a pinhole camera.

    Each triangle is scanned row by row over the exact span of pixel centres inside it; the
    nearest surface per pixel wins (largest ``1 / z``, which is affine in screen space; exact
    ties go to the larger face index, so the result does not depend on processing order).

    Args:
        vertices (np.ndarray): ``(V, 3)`` vertices in the camera frame, metres.
        faces (np.ndarray): ``(F, 3)`` integer vertex indices.
        focal_length (float | Sequence[float]): ``f`` or ``(fx, fy)``, pixels.
        principal_point (Sequence[float]): ``(px, py)``, pixels.
        image_shape (Sequence[int]): ``(H, W)`` of the target image.
        cull_backfaces (bool): Skip faces whose normal points away from the camera (a closed,
            outward-oriented mesh looks the same and renders about twice as fast). Defaults to
            False.
        near (float): Faces with a vertex at ``z <= near`` (metres) are skipped.

    Returns:
        Rasterization: visible face, barycentric weights and depth per pixel.
    """
    vertices, faces = _check_mesh(vertices, faces)
    height, width = _check_image_shape(image_shape)
    if len(faces) >= _MAX_FACES:
        raise ValueError(f'rasterize_mesh(): at most {_MAX_FACES - 1} faces are supported, got '
                         f'{len(faces)}.')
    uv = _project(vertices, focal_length, principal_point)

    tri = vertices[faces]  # (F, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    front_facing = np.einsum('fk,fk->f', normals, tri[:, 0]) < 0

    tri_uv = uv[faces]  # (F, 3, 2)
    z_tri = tri[:, :, 2]
    (x0, x1, x2), (y0, y1, y2) = tri_uv[..., 0].T, tri_uv[..., 1].T
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    xmin = np.ceil(np.minimum(np.minimum(x0, x1), x2))
    xmax = np.floor(np.maximum(np.maximum(x0, x1), x2))
    ymin = np.ceil(np.minimum(np.minimum(y0, y1), y2))
    ymax = np.floor(np.maximum(np.maximum(y0, y1), y2))
    keep = ((z_tri > near).all(axis=1) & (np.abs(area) > _MIN_PIXEL_AREA) & (xmax >= 0)
            & (ymax >= 0) & (xmin <= width - 1) & (ymin <= height - 1) & (xmax >= xmin)
            & (ymax >= ymin))
    if cull_backfaces:
        keep &= front_facing
    face_ids = np.nonzero(keep)[0]

    # Screen-space barycentrics are affine in the pixel centre (u, v): b_k = A_k u + B_k v + C_k.
    coef_a = np.zeros((len(faces), 3))
    coef_b = np.zeros((len(faces), 3))
    coef_c = np.zeros((len(faces), 3))
    with np.errstate(divide='ignore', invalid='ignore'):
        coef_a[:, 0], coef_b[:, 0], coef_c[:, 0] = (y1 - y2) / area, (x2 - x1) / area, (
            x1 * y2 - x2 * y1) / area
        coef_a[:, 1], coef_b[:, 1], coef_c[:, 1] = (y2 - y0) / area, (x0 - x2) / area, (
            x2 * y0 - x0 * y2) / area
    coef_a[:, 2] = -coef_a[:, 0] - coef_a[:, 1]
    coef_b[:, 2] = -coef_b[:, 0] - coef_b[:, 1]
    coef_c[:, 2] = 1.0 - coef_c[:, 0] - coef_c[:, 1]

    keys = np.full(height * width, -1, dtype=np.int64)
    if len(face_ids):
        boxes = np.stack([np.clip(xmin[face_ids], 0, width - 1),
                          np.clip(ymin[face_ids], 0, height - 1),
                          np.clip(xmax[face_ids], 0, width - 1),
                          np.clip(ymax[face_ids], 0, height - 1)], axis=1).astype(np.int64)
        _scan_faces(face_ids, boxes, coef_a, coef_b, coef_c, 1.0 / z_tri, width, keys)

    pixels = np.flatnonzero(keys >= 0)
    face = keys[pixels] & _FACE_BITS_MASK
    py, px = np.divmod(pixels, width)
    b_screen = coef_a[face] * px[:, None] + coef_b[face] * py[:, None] + coef_c[face]
    # Perspective-correct weights: screen barycentrics weighted by 1 / z, renormalised.
    weighted = b_screen / z_tri[face]
    inv_depth = _sum3(weighted)
    return Rasterization(
        image_shape=(height, width),
        pixels=pixels,
        faces=face,
        barycentric=weighted / inv_depth[:, None],
        depths=1.0 / inv_depth,
        front_facing=front_facing)


def _scan_faces(face_ids: np.ndarray, boxes: np.ndarray, coef_a: np.ndarray,
                coef_b: np.ndarray, coef_c: np.ndarray, inv_z: np.ndarray, width: int,
                keys: np.ndarray) -> None:
    """Scan-convert the faces row by row and z-test their pixels into ``keys`` in place.

    ``boxes`` ``(N, 4)`` are the faces' pixel bounding boxes ``(x0, y0, x1, y1)`` (inclusive,
    inside the image). ``keys`` holds, per pixel, ``float32(1 / z)``'s bit pattern (monotonic
    for positive floats) in the high 32 bits and the face index in the low bits, so one
    ``maximum`` keeps the nearest face.
    """
    ymin, ymax = boxes[:, 1], boxes[:, 3]
    rows_per_face = ymax - ymin + 1
    row_box = np.repeat(boxes, rows_per_face, axis=0)
    row_face = np.repeat(face_ids, rows_per_face)
    row_y = np.repeat(ymin - np.cumsum(rows_per_face) + rows_per_face, rows_per_face) + np.arange(
        int(rows_per_face.sum()))
    # Along a row every barycentric is affine in u: b_k = a_k u + r_k. The span of pixel centres
    # with all b_k >= 0 is [max of lower bounds, min of upper bounds].
    slope = coef_a[row_face]
    offset = coef_b[row_face] * row_y[:, None] + coef_c[row_face]
    with np.errstate(divide='ignore', invalid='ignore'):
        bound = -offset / slope
    lower = np.where(slope > 0, bound, -np.inf)
    lower = np.maximum(np.maximum(lower[:, 0], lower[:, 1]), lower[:, 2])
    upper = np.where(slope < 0, bound, np.inf)
    upper = np.minimum(np.minimum(upper[:, 0], upper[:, 1]), upper[:, 2])
    # An edge parallel to the rows (a_k = 0) admits the whole row or none of it.
    blocked = (slope == 0) & (offset < -_INSIDE_TOL)
    blocked = blocked[:, 0] | blocked[:, 1] | blocked[:, 2]
    # The bounding box also bounds the span: it guards slivers whose bounds are ill-conditioned.
    x_start = np.maximum(np.ceil(lower - _SPAN_TOL_PX), row_box[:, 0])
    x_stop = np.minimum(np.floor(upper + _SPAN_TOL_PX), row_box[:, 2])
    lengths = np.where(blocked, 0, np.maximum(x_stop - x_start + 1, 0)).astype(np.int64)
    nonempty = lengths > 0
    row_face, row_y, lengths = row_face[nonempty], row_y[nonempty], lengths[nonempty]
    x_start = x_start[nonempty].astype(np.int64)

    # 1 / z is affine in screen space too: 1/z = sum_k b_k / z_k.
    iz_a = _sum3(coef_a * inv_z)
    iz_b = _sum3(coef_b * inv_z)
    iz_c = _sum3(coef_c * inv_z)
    row_base = iz_b[row_face] * row_y + iz_c[row_face]
    row_slope = iz_a[row_face]
    row_pix = row_y * width + x_start

    ends = np.cumsum(lengths)
    start = 0
    while start < len(lengths):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _MAX_CANDIDATES_PER_CHUNK, side='right')),
                   start + 1)
        n = lengths[start:stop]
        rows = np.repeat(np.arange(start, stop), n)
        offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        x = x_start[rows] + offsets
        cand_inv_z = row_base[rows] + row_slope[rows] * x
        cand_inv_z = np.maximum(cand_inv_z, _MIN_INV_DEPTH).astype(np.float32)
        cand_keys = (cand_inv_z.view(np.int32).astype(np.int64) << _FACE_BITS) | row_face[rows]
        np.maximum.at(keys, row_pix[rows] + offsets, cand_keys)
        start = stop


def compute_vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (orientation of ``(v1 - v0) x (v2 - v0)``).

    Args:
        vertices (np.ndarray): ``(V, 3)`` vertices.
        faces (np.ndarray): ``(F, 3)`` integer vertex indices.

    Returns:
        np.ndarray: ``(V, 3)`` float64 unit normals (zero for unused vertices).
    """
    vertices, faces = _check_mesh(vertices, faces)
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    flat = faces.reshape(-1)
    for axis in range(3):
        normals[:, axis] = np.bincount(
            flat, weights=np.repeat(face_normals[:, axis], 3), minlength=len(vertices))
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(norm, np.finfo(np.float64).tiny)


def _resolve_colors(color: ColorLike, num_vertices: int,
                    face_colors: Optional[np.ndarray], num_faces: int
                    ) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Return ``(vertex_colors (V, 3) | None, face_colors (F, 3) | None)``, float64 BGR."""
    if face_colors is not None:
        face_colors = np.asarray(face_colors, dtype=np.float64)
        if face_colors.shape != (num_faces, 3):
            raise ValueError(f'render_mesh(): `face_colors` must have shape ({num_faces}, 3) '
                             f'(BGR, 0-255), got {face_colors.shape}.')
        return None, face_colors
    color = np.asarray(color, dtype=np.float64)
    if color.shape == (3, ):
        return np.broadcast_to(color, (num_vertices, 3)), None
    if color.shape == (num_vertices, 3):
        return color, None
    raise ValueError('render_mesh(): `color` must be one BGR colour (3,) or per-vertex colours '
                     f'({num_vertices}, 3), 0-255; got shape {color.shape}. Use `face_colors` '
                     'for per-face colours.')


def render_mesh(image: np.ndarray,
                vertices: np.ndarray,
                faces: np.ndarray,
                focal_length: Union[float, VectorLike],
                principal_point: VectorLike,
                color: ColorLike = DEFAULT_MESH_COLOR,
                alpha: float = 1.0,
                face_colors: Optional[np.ndarray] = None,
                light_direction: VectorLike = DEFAULT_LIGHT_DIRECTION,
                ambient: float = DEFAULT_AMBIENT,
                diffuse: float = DEFAULT_DIFFUSE,
                smooth: bool = True,
                cull_backfaces: bool = False,
                return_depth: bool = False) -> Tuple[np.ndarray, ...]:
    """Render a shaded mesh over an image (z-buffered, Lambert + ambient, two-sided).

    ``shade = ambient + diffuse * max(0, n . l)`` with the unit normal ``n`` (interpolated
    vertex normals when ``smooth``, else the face normal; flipped on faces seen from behind so
    open meshes are lit on both sides) and the unit light direction ``l``.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR background; not modified.
        vertices (np.ndarray): ``(V, 3)`` vertices in the camera frame (x right, y down,
            z forward), metres.
        faces (np.ndarray): ``(F, 3)`` integer vertex indices.
        focal_length (float | Sequence[float]): ``f`` or ``(fx, fy)``, pixels.
        principal_point (Sequence[float]): ``(px, py)``, pixels.
        color (Sequence[float] | np.ndarray): One BGR colour ``(3,)`` or per-vertex colours
            ``(V, 3)``, 0-255. Defaults to :data:`DEFAULT_MESH_COLOR`.
        alpha (float): Opacity of the mesh in ``[0, 1]``. Defaults to 1.
        face_colors (np.ndarray, optional): ``(F, 3)`` BGR per-face colours; overrides
            ``color``.
        light_direction (Sequence[float]): Direction towards the light, camera frame.
        ambient (float): Ambient weight. Defaults to :data:`DEFAULT_AMBIENT`.
        diffuse (float): Diffuse weight. Defaults to :data:`DEFAULT_DIFFUSE`.
        smooth (bool): Interpolate vertex normals (Phong-style normals, Lambert shading) rather
            than flat face normals. Defaults to True.
        cull_backfaces (bool): See :func:`rasterize_mesh`.
        return_depth (bool): Also return the ``(H, W)`` depth map (metres, ``inf`` where
            uncovered).

    Returns:
        tuple: ``rendered`` ``(H, W, 3)`` uint8 BGR, ``mask`` ``(H, W)`` bool (pixels covered
        by the mesh) [, ``depth`` ``(H, W)`` float64].
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('render_mesh(): `image` must be an (H, W, 3) uint8 BGR array, got '
                         f'{image.dtype} {image.shape}.')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'render_mesh(): `alpha` must lie in [0, 1], got {alpha}.')
    vertices, faces = _check_mesh(vertices, faces)
    vertex_colors, face_colors = _resolve_colors(color, len(vertices), face_colors, len(faces))
    light = np.asarray(light_direction, dtype=np.float64)
    light_norm = np.linalg.norm(light)
    if light.shape != (3, ) or light_norm == 0:
        raise ValueError('render_mesh(): `light_direction` must be a non-zero 3-vector, got '
                         f'{light_direction}.')
    light = light / light_norm

    raster = rasterize_mesh(vertices, faces, focal_length, principal_point, image.shape[:2],
                            cull_backfaces=cull_backfaces)
    rendered = image.copy()
    flat = rendered.reshape(-1, 3)
    face = raster.faces
    weights = raster.barycentric
    corners = faces[face]  # (P, 3)
    if smooth:
        vertex_normals = compute_vertex_normals(vertices, faces)
        normal = _interpolate(weights, vertex_normals, corners)
    else:
        tri = vertices[corners]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    # Outward normals of faces seen from behind point away from the camera: flip them (the
    # light term is then n . l with the flipped normal); normalise after the dot product.
    sign = np.where(raster.front_facing[face], 1.0, -1.0)
    norm = np.sqrt(_sum3(normal * normal))
    cosine = sign * (normal @ light) / np.maximum(norm, np.finfo(np.float64).tiny)
    shade = ambient + diffuse * np.clip(cosine, 0.0, None)
    if face_colors is not None:
        base = face_colors[face]
    else:
        assert vertex_colors is not None  # _resolve_colors gives one of the two
        base = _interpolate(weights, vertex_colors, corners)
    shaded = base * shade[:, None]
    if alpha < 1.0:
        shaded = alpha * shaded + (1.0 - alpha) * flat[raster.pixels]
    flat[raster.pixels] = np.clip(shaded + 0.5, 0, 255).astype(np.uint8)
    if return_depth:
        return rendered, raster.mask, raster.depth
    return rendered, raster.mask


def render_meshes(image: np.ndarray,
                  vertices: Sequence[np.ndarray],
                  faces: Union[np.ndarray, Sequence[np.ndarray]],
                  focal_length: Union[float, VectorLike],
                  principal_point: VectorLike,
                  colors: Optional[Sequence[ColorLike]] = None,
                  alpha: float = 1.0,
                  **kwargs) -> Tuple[np.ndarray, ...]:
    """Render several meshes (e.g. the people of a frame) with one shared z-buffer.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR background; not modified.
        vertices (Sequence[np.ndarray]): ``N`` arrays ``(V_i, 3)``, camera frame, metres.
        faces (np.ndarray | Sequence[np.ndarray]): One ``(F, 3)`` array shared by all meshes
            (e.g. SMPL's) or one per mesh.
        focal_length (float | Sequence[float]): ``f`` or ``(fx, fy)``, pixels.
        principal_point (Sequence[float]): ``(px, py)``, pixels.
        colors (Sequence, optional): Per mesh, one BGR colour ``(3,)`` or per-vertex colours
            ``(V_i, 3)``. Defaults to :data:`MESH_PALETTE`, cycled.
        alpha (float): Opacity in ``[0, 1]``.
        **kwargs: Shading options of :func:`render_mesh` (``light_direction``, ``ambient``,
            ``diffuse``, ``smooth``, ``cull_backfaces``, ``return_depth``).

    Returns:
        tuple: as :func:`render_mesh`; the mask covers all meshes.
    """
    vertices = [np.asarray(v, dtype=np.float64) for v in vertices]
    if not vertices:
        raise ValueError('render_meshes(): `vertices` must hold at least one mesh.')
    if isinstance(faces, np.ndarray) and faces.ndim == 2:
        faces = [faces] * len(vertices)
    if len(faces) != len(vertices):
        raise ValueError(f'render_meshes(): got {len(vertices)} meshes but {len(faces)} face '
                         'arrays; pass one shared (F, 3) array or one per mesh.')
    if colors is None:
        colors = [MESH_PALETTE[i % len(MESH_PALETTE)] for i in range(len(vertices))]
    if len(colors) != len(vertices):
        raise ValueError(f'render_meshes(): got {len(vertices)} meshes but {len(colors)} '
                         'colours.')
    all_faces, all_colors, offset = [], [], 0
    for verts, mesh_faces, color in zip(vertices, faces, colors):
        verts, mesh_faces = _check_mesh(verts, mesh_faces)
        vertex_colors, _ = _resolve_colors(color, len(verts), None, len(mesh_faces))
        all_faces.append(mesh_faces + offset)
        assert vertex_colors is not None  # no face colours given
        all_colors.append(vertex_colors)
        offset += len(verts)
    return render_mesh(image, np.concatenate(vertices), np.concatenate(all_faces),
                       focal_length, principal_point, color=np.concatenate(all_colors),
                       alpha=alpha, **kwargs)
