"""Draw a grid of HumanData samples with their 2D keypoints and boxes (a contact sheet).

Example (the image committed as ``docs/images/synthetic_samples.jpg``)::

    python tools/make_synthetic_dataset.py --out-dir data/synthetic --num-train 16 \\
        --num-val 0 --num-test 0
    python tools/make_contact_sheet.py data/synthetic/train.npz \\
        --out docs/images/synthetic_samples.jpg

Works on any HumanData ``.npz`` whose ``keypoints2d`` are in the ``human_data`` convention
(190 joints, MMHuman3D's layout); images are read relative to ``--image-root`` (default: the
folder of the ``.npz``). The skeleton is SMPL's kinematic tree (left limbs blue, right limbs
red, centre green, BGR); joints with confidence 0 (e.g. outside the image) are not drawn; the
box is ``bbox_xywh``.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np

from mroi_plugin.body_models import get_keypoint_index, get_keypoint_names
from mroi_plugin.utils.safe_pickle import load_npz_restricted

LEFT_COLOR = (255, 128, 0)
RIGHT_COLOR = (0, 0, 255)
CENTER_COLOR = (0, 200, 0)
BOX_COLOR = (0, 255, 255)
JPEG_QUALITY = 85


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Contact sheet of HumanData samples')
    parser.add_argument('ann_file', help='HumanData .npz (keypoints2d in human_data order)')
    parser.add_argument('--image-root', default=None,
                        help='folder the image paths are relative to (default: the .npz '
                        'folder)')
    parser.add_argument('--out', default='docs/images/synthetic_samples.jpg',
                        help='output image (.jpg / .png)')
    parser.add_argument('--num', type=int, default=16, help='number of samples')
    parser.add_argument('--cols', type=int, default=4, help='tiles per row')
    parser.add_argument('--tile-width', type=int, default=320, help='tile width, pixels')
    parser.add_argument('--jpeg-quality', type=int, default=JPEG_QUALITY, help='JPEG quality')
    return parser.parse_args()


def _bones() -> List[tuple]:
    """``(child, parent, colour)`` index pairs in human_data for SMPL's kinematic tree."""
    names = get_keypoint_names('smpl_24')
    parents = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
    bones = []
    for child, parent in enumerate(parents):
        if parent < 0:
            continue
        name = names[child]
        color = LEFT_COLOR if name.startswith('left') else (
            RIGHT_COLOR if name.startswith('right') else CENTER_COLOR)
        bones.append((get_keypoint_index(name, 'human_data'),
                      get_keypoint_index(names[parent], 'human_data'), color))
    return bones


def draw_sample(image: np.ndarray, keypoints2d: np.ndarray,
                bbox_xywh: Optional[Sequence[float]] = None, scale: float = 1.0) -> np.ndarray:
    """Draw one sample's skeleton, keypoints and box (image already resized by ``scale``).

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR (modified in place and returned).
        keypoints2d (np.ndarray): ``(190, 3)`` u, v (original image px), confidence.
        bbox_xywh (Sequence[float], optional): Box in original image pixels.
        scale (float): Factor from original image pixels to ``image`` pixels.

    Returns:
        np.ndarray: ``image``.
    """
    points = keypoints2d[:, :2] * scale
    visible = keypoints2d[:, 2] > 0
    thickness = max(1, int(round(image.shape[1] / 200)))
    if bbox_xywh is not None:
        x, y, w, h = (float(v) * scale for v in bbox_xywh[:4])
        cv2.rectangle(image, (int(round(x)), int(round(y))), (int(round(x + w)),
                                                              int(round(y + h))), BOX_COLOR, 1)
    for child, parent, color in _bones():
        if visible[child] and visible[parent]:
            cv2.line(image, tuple(int(round(v)) for v in points[child]),
                     tuple(int(round(v)) for v in points[parent]), color, thickness,
                     cv2.LINE_AA)
    for index in np.flatnonzero(visible):
        cv2.circle(image, tuple(int(round(v)) for v in points[index]), thickness,
                   (255, 255, 255), -1, cv2.LINE_AA)
    return image


def make_contact_sheet(ann_file: str, image_root: Optional[str] = None, num: int = 16,
                       cols: int = 4, tile_width: int = 320) -> np.ndarray:
    """Tile the first ``num`` samples of a HumanData file with their annotations drawn.

    Returns:
        np.ndarray: the sheet, uint8 BGR.
    """
    image_root = osp.dirname(ann_file) if image_root is None else image_root
    # Object arrays (if any) go through the restricted unpickler: the file may be untrusted.
    data = load_npz_restricted(ann_file, keys=('image_path', 'keypoints2d', 'bbox_xywh'))
    for key in ('image_path', 'keypoints2d'):
        if key not in data:
            raise KeyError(f'{ann_file} has no {key!r}; a contact sheet needs image_path '
                           'and keypoints2d (human_data convention).')
    image_paths = data['image_path']
    keypoints2d = data['keypoints2d']
    bboxes = data.get('bbox_xywh')
    if keypoints2d.shape[1] != len(get_keypoint_names('human_data')):
        raise ValueError(f'{ann_file}: keypoints2d has {keypoints2d.shape[1]} joints; this tool '
                         'draws the human_data convention (190 joints, not compressed).')
    tiles = []
    for i in range(min(num, len(image_paths))):
        path = osp.join(image_root, str(image_paths[i]))
        image = cv2.imread(path)
        if image is None:
            raise FileNotFoundError(f'Cannot read image {path} (sample {i} of {ann_file}); '
                                    'check --image-root.')
        scale = tile_width / image.shape[1]
        tile = cv2.resize(image, (tile_width, int(round(image.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
        tiles.append(draw_sample(tile, keypoints2d[i], None if bboxes is None else bboxes[i],
                                 scale))
    if not tiles:
        raise ValueError(f'{ann_file} has no samples.')
    tile_h = max(t.shape[0] for t in tiles)
    blank = np.zeros((tile_h, tile_width, 3), np.uint8)
    tiles = [cv2.copyMakeBorder(t, 0, tile_h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT)
             for t in tiles]
    tiles += [blank] * (-len(tiles) % cols)
    rows = [np.concatenate(tiles[r:r + cols], axis=1) for r in range(0, len(tiles), cols)]
    return np.concatenate(rows, axis=0)


def main() -> None:
    args = parse_args()
    sheet = make_contact_sheet(args.ann_file, args.image_root, args.num, args.cols,
                               args.tile_width)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, args.jpeg_quality]):
        raise OSError(f'Could not write {args.out}.')
    print(f'wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}, '
          f'{osp.getsize(args.out) / 1024:.0f} kB)')


if __name__ == '__main__':
    main()
