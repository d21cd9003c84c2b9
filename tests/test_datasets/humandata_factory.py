"""Write small MMHuman3D HumanData ``.npz`` files (and their images) for tests.

The files have the exact layout of ``mmhuman3d.data.data_structures.HumanData.dump``:
``np.savez_compressed`` of ``__key_strict__``, ``__data_len__``,
``__keypoints_compressed__`` and the items, where dicts (``smpl``, ``meta``,
``cam_param``) become 0-d object arrays and ``image_path`` (a list of str) a
fixed-width str array. With ``compress=True`` the keypoints keep only the
joints whose mask is 1, as ``HumanData.compress_keypoints_by_mask`` does.

Usage: pytest runs with ``--import-mode=importlib``, so test folders are not on
``sys.path``; put this folder there first::

    sys.path.insert(0, '<repo>/tests/test_datasets')  # e.g. via osp.dirname(__file__)
    from humandata_factory import make_human_data, dump_human_data
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'HUMAN_DATA_NUM_JOINTS', 'IMAGE_SIZE', 'make_human_data', 'dump_human_data',
    'write_images', 'write_dataset'
]

#: Joints of MMHuman3D's ``human_data`` convention.
HUMAN_DATA_NUM_JOINTS = 190
#: (W, H) of the test images: the focal estimate sqrt(W^2 + H^2) is exactly 80.
IMAGE_SIZE = (64, 48)


def make_human_data(num_samples: int = 6,
                    seed: int = 0,
                    valid_joints: Sequence[int] = tuple(range(0, 22)) + (55, 57, 145, 188),
                    keypoints3d: bool = True,
                    smpl: bool = True,
                    transl: bool = True,
                    genders: Optional[Sequence[str]] = None,
                    camera: Optional[str] = None,
                    image_size: Tuple[int, int] = IMAGE_SIZE) -> Dict[str, object]:
    """An uncompressed HumanData dict with random but plausible values.

    Args:
        num_samples (int): N.
        seed (int): Random seed.
        valid_joints (Sequence[int]): ``human_data`` joints with mask 1; the
            others are zero, as MMHuman3D's converters leave them.
        keypoints3d (bool): Include ``keypoints3d`` and its mask.
        smpl (bool): Include the ``smpl`` dict.
        transl (bool): Include ``smpl['transl']``.
        genders (Sequence[str], optional): ``meta['gender']``, default 'm'/'f'
            alternating.
        camera (str, optional): ``'focal_length'`` (mroi's ``cam_param``
            extension, (N, 2) focal), ``'f_c'`` (HybrIK's ``f``/``c``) or None.
        image_size (tuple): (W, H) of the images the boxes and keypoints lie in.

    Returns:
        dict: HumanData items, keypoints (N, 190, C) with zeros where masked.
    """
    rng = np.random.default_rng(seed)
    width, height = image_size
    mask = np.zeros(HUMAN_DATA_NUM_JOINTS, dtype=np.float32)
    mask[list(valid_joints)] = 1
    xy = rng.uniform(2, 20, size=(num_samples, 2))
    wh = rng.uniform(8, 30, size=(num_samples, 2))
    data: Dict[str, object] = {
        'image_path': [f'images/seq_{i // 3}/frame_{i:05d}.jpg' for i in range(num_samples)],
        'bbox_xywh': np.concatenate([xy, wh, np.ones((num_samples, 1))], axis=1),
        'config': 'synthetic_test',
        'keypoints2d_mask': mask,
    }
    kp2d = np.zeros((num_samples, HUMAN_DATA_NUM_JOINTS, 3), dtype=np.float32)
    kp2d[..., 0] = rng.uniform(0, width, size=kp2d.shape[:2])
    kp2d[..., 1] = rng.uniform(0, height, size=kp2d.shape[:2])
    kp2d[..., 2] = rng.choice([0.0, 0.5, 1.0], size=kp2d.shape[:2])
    data['keypoints2d'] = kp2d * mask[None, :, None]
    if keypoints3d:
        kp3d = np.concatenate([
            rng.normal(0, 0.5, size=(num_samples, HUMAN_DATA_NUM_JOINTS, 3)),
            np.ones((num_samples, HUMAN_DATA_NUM_JOINTS, 1))], axis=-1).astype(np.float32)
        data['keypoints3d'] = kp3d * mask[None, :, None]
        data['keypoints3d_mask'] = mask.copy()
    if smpl:
        params = {
            'global_orient': rng.normal(0, 0.5, size=(num_samples, 3)).astype(np.float32),
            'body_pose': rng.normal(0, 0.2, size=(num_samples, 23, 3)).astype(np.float32),
            'betas': rng.normal(0, 1, size=(num_samples, 10)).astype(np.float32),
        }
        if transl:
            params['transl'] = np.concatenate([
                rng.normal(0, 0.3, size=(num_samples, 2)),
                rng.uniform(3, 8, size=(num_samples, 1))], axis=1).astype(np.float32)
        data['smpl'] = params
    if genders is None:
        genders = ['m' if i % 2 == 0 else 'f' for i in range(num_samples)]
    data['meta'] = {'gender': np.array(genders)}
    if camera == 'focal_length':
        data['cam_param'] = {
            'focal_length': rng.uniform(500, 1500, size=(num_samples, 2)),
            'principal_point': rng.uniform(20, 40, size=(num_samples, 2)),
        }
    elif camera == 'f_c':
        data['cam_param'] = {
            'f': rng.uniform(500, 1500, size=(num_samples, 2)).astype(np.float32),
            'c': rng.uniform(20, 40, size=(num_samples, 2)).astype(np.float32),
        }
    elif camera is not None:
        raise ValueError(f'unknown camera layout {camera!r}')
    return data


def dump_human_data(path: str, data: Dict[str, object], compress: bool = False,
                    **overrides: object) -> str:
    """Write ``data`` as ``HumanData.dump`` does (optionally compressed).

    Args:
        path (str): Output ``.npz``.
        data (dict): Uncompressed HumanData items (see :func:`make_human_data`).
        compress (bool): Store keypoints only where their mask is 1.
        **overrides: Items written as given (e.g. a broken shape, or
            ``__data_len__``); a value of None drops the key.

    Returns:
        str: ``path``.
    """
    items = dict(data)
    if compress:
        for key in ('keypoints2d', 'keypoints3d'):
            if key in items:
                valid = np.flatnonzero(np.asarray(items[f'{key}_mask']) == 1)
                items[key] = np.take(items[key], valid, axis=1)
    to_dump = {
        '__key_strict__': True,
        '__data_len__': len(items['image_path']),
        '__keypoints_compressed__': compress,
    }
    to_dump.update(items)
    for key, value in overrides.items():
        if value is None:
            to_dump.pop(key, None)
        else:
            to_dump[key] = value
    np.savez_compressed(path, **to_dump)
    return path


def write_images(root: str, image_paths: Sequence[str],
                 image_size: Tuple[int, int] = IMAGE_SIZE) -> None:
    """Write a small JPEG (W x H = ``image_size``) at every ``root/image_path``."""
    width, height = image_size
    for i, rel in enumerate(image_paths):
        full = osp.join(root, rel)
        os.makedirs(osp.dirname(full), exist_ok=True)
        img = np.full((height, width, 3), (10 * i) % 255, dtype=np.uint8)
        if not cv2.imwrite(full, img):
            raise OSError(f'could not write {full}')


def write_dataset(root: str, name: str = 'test_train.npz', compress: bool = False,
                  images: bool = True, **kwargs: object) -> Tuple[str, Dict[str, object]]:
    """Write ``root/name`` and its images under ``root/``.

    Args:
        root (str): Data root.
        name (str): File name of the ``.npz``.
        compress (bool): See :func:`dump_human_data`.
        images (bool): Also write the images.
        **kwargs: Passed to :func:`make_human_data`.

    Returns:
        tuple: ``(path, data)``: the file and the uncompressed items written.
    """
    data = make_human_data(**kwargs)
    os.makedirs(root, exist_ok=True)
    path = dump_human_data(osp.join(root, name), data, compress=compress)
    if images:
        write_images(root, data['image_path'],
                     kwargs.get('image_size', IMAGE_SIZE))  # type: ignore[arg-type]
    return path, data
