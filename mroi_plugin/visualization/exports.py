"""Write recovered meshes and parameters: Wavefront ``.obj`` and ``.json`` per person."""
import json
import os
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

__all__ = ['write_obj', 'person_to_json_dict', 'write_person_json', 'PERSON_JSON_KEYS']

PathLike = Union[str, os.PathLike]

#: Fields of an :func:`~mroi_plugin.apis.inference_mesh` person written to ``.json``.
PERSON_JSON_KEYS = ('pose', 'betas', 'cam_full', 'cam_crop', 'focal_length', 'principal_point',
                    'bbox', 'score', 'bbox_center', 'bbox_size')
# Digits after the decimal point: 0.1 micrometre for vertices in metres.
_OBJ_DECIMALS = 7


def write_obj(path: PathLike,
              vertices: np.ndarray,
              faces: np.ndarray,
              comment: Optional[str] = None) -> None:
    """Write a triangle mesh as a Wavefront ``.obj``: ``V`` ``v`` lines then ``F`` ``f`` lines.

    Args:
        path (str | PathLike): Output file (its folder must exist).
        vertices (np.ndarray): ``(V, 3)`` positions (e.g. camera frame, metres).
        faces (np.ndarray): ``(F, 3)`` 0-based integer vertex indices (written 1-based, as
            ``.obj`` counts).
        comment (str, optional): Written as ``#`` lines at the top (e.g. the frame and units).

    Raises:
        ValueError: Bad shapes, non-finite vertices or face indices out of range.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.isfinite(vertices).all():
        raise ValueError(f'write_obj({path}): vertices must be a finite (V, 3) array, got '
                         f'{vertices.shape}.')
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f'write_obj({path}): faces must be an (F, 3) integer array, got '
                         f'{faces.dtype} {faces.shape}.')
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f'write_obj({path}): face indices must lie in 0..{len(vertices) - 1}, '
                         f'got [{faces.min()}, {faces.max()}].')
    lines = [f'# {line}' for line in (comment.splitlines() if comment else [])]
    lines += [f'v {x:.{_OBJ_DECIMALS}f} {y:.{_OBJ_DECIMALS}f} {z:.{_OBJ_DECIMALS}f}'
              for x, y, z in vertices]
    lines += [f'f {a} {b} {c}' for a, b, c in (faces.astype(np.int64) + 1)]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, 'detach'):  # torch tensors
        return value.detach().cpu().tolist()
    return value


def person_to_json_dict(person: Mapping[str, Any], **extra: Any) -> Dict[str, Any]:
    """The JSON-serialisable parameters of one person (no vertices; those go to ``.obj``).

    Args:
        person (Mapping): A dict from :func:`~mroi_plugin.apis.inference_mesh`.
        **extra: More entries (e.g. ``image``, ``image_size``).

    Returns:
        dict: :data:`PERSON_JSON_KEYS` present in ``person`` plus ``extra``, as lists/floats.
    """
    out = {key: _jsonable(person[key]) for key in PERSON_JSON_KEYS if key in person}
    out.update({key: _jsonable(value) for key, value in extra.items()})
    return out


def write_person_json(path: PathLike, person: Mapping[str, Any], **extra: Any) -> None:
    """Write :func:`person_to_json_dict` to ``path`` (indented JSON)."""
    with open(path, 'w') as f:
        json.dump(person_to_json_dict(person, **extra), f, indent=2)
        f.write('\n')
