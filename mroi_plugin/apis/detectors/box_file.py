"""Person boxes read from a JSON file, looked up by image name or video frame index.

Two formats:

- a mapping from image name (or frame index) to boxes in pixels::

      {"0001.jpg": [[x1, y1, x2, y2], [x1, y1, x2, y2, score]], "0002.jpg": []}

- COCO style: a list of ``{"file_name" or "image_id": ..., "bbox": [x, y, w, h],
  "score" (optional), "category_id" (optional; entries other than 1, COCO's person, are
  ignored)}``, or a COCO dict with ``"images"`` and ``"annotations"`` whose ``image_id`` s
  are resolved to file names.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from mroi_plugin.registry import TASK_UTILS

__all__ = ['BoxTable', 'load_bbox_file', 'COCO_PERSON_CATEGORY_ID']

#: COCO's category id of "person" in annotation files.
COCO_PERSON_CATEGORY_ID = 1


def _xywh_to_xyxy(bbox: Sequence[float], score: Optional[float]) -> List[float]:
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h] + ([float(score)] if score is not None else [])


def _box_array(boxes: Any, where: str) -> np.ndarray:
    try:
        array = np.array(boxes, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f'{where}: boxes must be lists of 4 or 5 numbers ({error}).') from error
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise ValueError(f'{where}: expected a list of [x1, y1, x2, y2(, score)] boxes, got '
                         f'shape {array.shape}.')
    return array


def _coco_boxes(entries: list, path: str, image_names: Dict[str, str]) -> Dict[str, list]:
    table: Dict[str, list] = {}
    for index, entry in enumerate(entries):
        where = f'{path}, entry {index}'
        if not isinstance(entry, dict) or 'bbox' not in entry:
            raise ValueError(f'{where}: COCO-style entries need a "bbox": [x, y, w, h], got '
                             f'{entry!r:.80}.')
        if entry.get('category_id', COCO_PERSON_CATEGORY_ID) != COCO_PERSON_CATEGORY_ID:
            continue
        if 'file_name' in entry:
            key = str(entry['file_name'])
        elif 'image_id' in entry:
            key = image_names.get(str(entry['image_id']), str(entry['image_id']))
        else:
            raise ValueError(f'{where}: needs "file_name" or "image_id".')
        if len(entry['bbox']) != 4:
            raise ValueError(f'{where}: "bbox" must be [x, y, w, h], got {entry["bbox"]}.')
        table.setdefault(key, []).append(_xywh_to_xyxy(entry['bbox'], entry.get('score')))
    return table


@TASK_UTILS.register_module()
class BoxTable:
    """Boxes per image name; a name without an entry has no people.

    Keys are also indexed by their base name, so ``"val/0001.jpg"`` matches ``0001.jpg``.

    Args:
        table (Mapping): ``{name: (M, 4|5) boxes}`` (lists or arrays, ``x1, y1, x2, y2``
            pixels, optional score).
        source (str): Where the table came from, for messages.
    """

    def __init__(self, table: Mapping[Any, Any], source: str = 'bboxes') -> None:
        self.source = source
        self.table = {str(k): _box_array(v, f'{source}, key {k!r}') for k, v in table.items()}
        for key in list(self.table):
            self.table.setdefault(osp.basename(key), self.table[key])

    def lookup(self, candidates: Sequence[str]) -> np.ndarray:
        """The boxes of the first candidate name in the table; ``(0, 4)`` when none is."""
        for name in candidates:
            if name in self.table:
                return self.table[name]
        return np.zeros((0, 4))

    def __len__(self) -> int:
        return len(self.table)


def load_bbox_file(path: Union[str, os.PathLike]) -> BoxTable:
    """Read a box file (formats in the module docstring).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Invalid JSON or an entry of the wrong shape (named).
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'Box file not found: {path}')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f'Cannot read box file {path}: {error}') from error
    if isinstance(data, dict) and 'annotations' in data:
        names = {str(image['id']): str(image['file_name'])
                 for image in data.get('images', []) if 'id' in image and 'file_name' in image}
        raw = _coco_boxes(data['annotations'], path, names)
    elif isinstance(data, list):
        raw = _coco_boxes(data, path, {})
    elif isinstance(data, dict):
        raw = data
    else:
        raise ValueError(f'{path}: expected {{image_name: [[x1, y1, x2, y2], ...]}} or a '
                         f'COCO-style list, got {type(data).__name__}.')
    return BoxTable(raw, source=path)
