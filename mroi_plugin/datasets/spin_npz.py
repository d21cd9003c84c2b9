"""Reader of the evaluation/training ``.npz`` files SPIN and CLIFF distribute.

SPIN (``datasets/preprocess/*.py``) writes one flat ``np.savez`` per dataset split
(``3dpw_test.npz``, ``h36m_valid_protocol1.npz``, ...); CLIFF's pseudo-ground-truth files
(``coco2014part_cliffGT.npz``, ...) extend that layout. Every key is a plain array with one
row per person instance:

=================  ============  ===========================================================
key                shape         meaning
=================  ============  ===========================================================
``imgname``        (N,) str      image path relative to the dataset's image root
``center``         (N, 2)        crop centre ``(x, y)``, px
``scale``          (N,) or       crop size / 200: SPIN's square crop has side
                   (N, 1)        ``200 * scale`` px, CLIFF's 256x192 crop has height
                                 ``200 * scale`` and width ``0.75 * 200 * scale``. The box
                                 enlargement is already in it (SPIN: 1.2x the keypoints'
                                 extent for 3DPW, 0.9x the H36M box)
``part``           (N, 24, 3)    2D joints ``(x, y, confidence)``, px, SPIN's 24 joints
``openpose``       (N, 25, 3)    optional OpenPose BODY_25 detections ``(x, y, conf)``
``S``              (N, 24, 4)    3D joints ``(x, y, z, confidence)``, m, camera axes,
                                 pelvis at the origin, in SPIN's 24 slots
``pose``           (N, 72)       SMPL axis-angle: global orientation (camera frame) + 23 joints
``shape``          (N, 10)       SMPL betas
``has_smpl``       (N,)          optional 0/1; 1 for every row when absent but ``pose`` is there
``gender``         (N,) str      ``'m'`` / ``'f'`` (3DPW)
``global_t``       (N, 3)        optional (CLIFF) SMPL translation in the full image's camera, m
``focal_l``        (N,)          optional (CLIFF) focal length, px (``sqrt(W^2 + H^2)``)
``focal_length``   (N,) / (N,2)  optional focal length, px
``cam_int``        (N, 3, 3)     optional intrinsics (focal lengths and principal point), px
=================  ============  ===========================================================

Other keys (``maskname``, ``partname``, ``annot_id``, ...) are listed in
:attr:`SPINNpzFile.ignored_keys` and not read.

The file is converted once, in memory, to the flat layout of
:class:`~mroi_plugin.datasets.human_data.HumanDataFile`, whose accessors
:class:`~mroi_plugin.datasets.HumanDataDataset` uses:

- ``image_path`` from ``imgname``; ``bbox_xywh`` is SPIN's square box
  ``(cx - 100 s, cy - 100 s, 200 s, 200 s)`` (only used to report degenerate
  boxes: the crop itself is made from ``center`` and ``scale``, kept as they are).
- ``keypoints2d`` in convention ``'smpl_49'`` (``openpose`` then ``part``, SPIN's own
  concatenation); the mask is 1 for the blocks the file has.
- ``keypoints3d`` in convention ``'h36m_17'``: ``S[:, SPIN_24_TO_H36M_17]``. SPIN
  filled ``S`` from the 17 H36M joints through exactly these slots and evaluates by
  pairing them with the H36M regressor's joints (its ``J24_TO_J14`` takes slot 18, which
  SPIN calls "Head (H36M)", as the 14th joint and the regressor's joint 10). Reading the
  slots back in the regressor's order makes the name-based
  :class:`~mroi_plugin.evaluation.HMRMetric` pair the same joints as SPIN's ``eval.py``;
  the other slots (LSP head top, thorax, face) are not read.
- ``smpl.global_orient`` / ``smpl.body_pose`` / ``smpl.betas`` from ``pose`` and
  ``shape``, ``smpl.transl`` from ``global_t``; ``has_smpl``; ``meta.gender``.
- ``cam_param.intrinsic`` from ``cam_int``, else ``cam_param.focal_length`` from
  ``focal_length`` or ``focal_l``. Without either, the dataset's image loading fills in
  CLIFF's estimate ``sqrt(W^2 + H^2)`` and the image centre, which is what CLIFF uses.

Loading never unpickles: the file is opened with ``allow_pickle=False`` and a key that is an
object array raises :class:`~mroi_plugin.datasets.human_data.HumanDataError`.
"""
import os.path as osp
import zipfile
import zlib
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .human_data import HumanDataError, HumanDataFile

__all__ = ['SPINNpzFile', 'SPIN_24_TO_H36M_17', 'SPIN_SCALE_PX', 'read_spin_npz']

#: ``scale`` is the crop size in units of this many pixels (SPIN's convention).
SPIN_SCALE_PX = 200.0
#: Slots of SPIN's 24 joints holding the H36M regressor's 17 joints, in the regressor's
#: order (SPIN ``datasets/preprocess/h36m.py``: ``global_idx``).
SPIN_24_TO_H36M_17 = (14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6)

_REQUIRED = ('imgname', 'center', 'scale')
# Allowed per-sample shapes of every key read, for a message in SPIN's own terms.
_SHAPES: Dict[str, Tuple[tuple, ...]] = {
    'imgname': ((), ),
    'center': ((2, ), ),
    'scale': ((), (1, )),
    'part': ((24, 3), ),
    'openpose': ((25, 3), ),
    'S': ((24, 4), ),
    'pose': ((72, ), ),
    'shape': ((10, ), ),
    'has_smpl': ((), (1, )),
    'gender': ((), ),
    'global_t': ((3, ), ),
    'focal_l': ((), (1, )),
    'focal_length': ((), (1, ), (2, )),
    'cam_int': ((3, 3), ),
}
_STRING_KEYS = ('imgname', 'gender')


def _load_key(npz: Any, path: str, key: str) -> np.ndarray:
    try:
        value = npz[key]
    except ValueError as err:  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
        raise HumanDataError(
            f'SPIN/CLIFF file {path!r}, key {key!r}: is a pickled object array ({err}); '
            'refusing to unpickle it (it could run code). SPIN and CLIFF store plain '
            'numeric and string arrays: re-save the key as one, e.g. '
            f'np.asarray(list(value), dtype=str) for {key!r} if it holds strings.') from err
    if key in _STRING_KEYS and value.dtype.kind == 'S':
        value = np.char.decode(value, 'utf-8')  # Python 2 era files store bytes
    return value


def read_spin_npz(path: str) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """The known keys of a SPIN/CLIFF ``.npz``, checked; the names of the others.

    Args:
        path (str): The ``.npz`` file.

    Returns:
        tuple: ``(arrays, ignored)``: the keys of the module's table that the file has,
        as arrays with N rows (``scale``/``has_smpl``/``focal_l`` flattened to ``(N,)``),
        and the names of the keys that are not read.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        HumanDataError: not an npz; a required key (``imgname``, ``center``, ``scale``)
            is missing; a key has the wrong shape or row count; ``pose`` without
            ``shape`` or the reverse; an object array; a corrupt archive. The message
            names the file and the key.
    """
    path = str(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'SPIN/CLIFF annotation file not found: {path!r}. Check `data_root` and '
            '`ann_file` (docs/evaluation_data.md lists the files and where they go).')
    if not zipfile.is_zipfile(path):
        raise HumanDataError(f'{path!r} is not an .npz archive; SPIN/CLIFF annotation files '
                             'are written by np.savez.')
    arrays: Dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            present = list(npz.files)
            missing = [key for key in _REQUIRED if key not in present]
            if missing:
                raise HumanDataError(
                    f'SPIN/CLIFF file {path!r}: required key(s) {missing} missing (present: '
                    f'{sorted(present)}). Every row needs imgname, center and scale (the '
                    'crop); is this a HumanData file? Use HumanDataDataset for those.')
            for key in _SHAPES:
                if key in present:
                    arrays[key] = _load_key(npz, path, key)
    except HumanDataError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as err:
        raise HumanDataError(
            f'SPIN/CLIFF file {path!r} cannot be read ({type(err).__name__}: {err}): the '
            'archive is truncated or corrupt. Copy or download it again.') from err
    num = len(arrays['imgname']) if arrays['imgname'].ndim else -1
    for key, value in arrays.items():
        allowed = _SHAPES[key]
        if value.ndim == 0 or value.shape[0] != num or value.shape[1:] not in allowed:
            want = ' or '.join(str(('N', ) + shape) for shape in allowed)
            raise HumanDataError(
                f'SPIN/CLIFF file {path!r}, key {key!r}: expected shape {want} with N = '
                f'{num} rows (one per imgname), got {value.shape}.')
        if key in ('scale', 'has_smpl', 'focal_l'):
            arrays[key] = value.reshape(num)
    if ('pose' in arrays) != ('shape' in arrays):
        have, lack = ('pose', 'shape') if 'pose' in arrays else ('shape', 'pose')
        raise HumanDataError(
            f'SPIN/CLIFF file {path!r}, key {lack!r}: missing while {have!r} is present; SMPL '
            'ground truth needs both pose (N, 72) and shape (N, 10).')
    ignored = sorted(key for key in present if key not in arrays)
    return arrays, ignored


def _to_human_data(spin: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Flat HumanData arrays (see the module docstring) from :func:`read_spin_npz`'s."""
    num = len(spin['imgname'])
    center = spin['center'].astype(np.float64)
    side = spin['scale'].astype(np.float64) * SPIN_SCALE_PX
    out: Dict[str, np.ndarray] = dict(
        image_path=np.asarray(spin['imgname']).astype(str),
        bbox_xywh=np.stack([center[:, 0] - side / 2, center[:, 1] - side / 2, side, side,
                            np.ones(num)], axis=1),
        center=center,
        scale=spin['scale'].astype(np.float64))
    if 'part' in spin or 'openpose' in spin:
        blocks, mask = [], []
        for key, joints in (('openpose', 25), ('part', 24)):
            blocks.append(spin[key].astype(np.float32) if key in spin else
                          np.zeros((num, joints, 3), np.float32))
            mask.append(np.full(joints, float(key in spin), np.float32))
        out['keypoints2d'] = np.concatenate(blocks, axis=1)
        out['keypoints2d_mask'] = np.concatenate(mask)
    if 'S' in spin:
        out['keypoints3d'] = spin['S'][:, list(SPIN_24_TO_H36M_17)].astype(np.float32)
        out['keypoints3d_mask'] = np.ones(len(SPIN_24_TO_H36M_17), np.float32)
    if 'pose' in spin:
        pose = spin['pose'].astype(np.float32)
        out['smpl.global_orient'] = pose[:, :3]
        out['smpl.body_pose'] = pose[:, 3:]
        out['smpl.betas'] = spin['shape'].astype(np.float32)
        out['has_smpl'] = (spin['has_smpl'] if 'has_smpl' in spin else
                           np.ones(num)).astype(np.float32)
        if 'global_t' in spin:
            out['smpl.transl'] = spin['global_t'].astype(np.float32)
    if 'gender' in spin:
        out['meta.gender'] = np.asarray(spin['gender']).astype(str)
    if 'cam_int' in spin:
        out['cam_param.intrinsic'] = spin['cam_int'].astype(np.float64)
    elif 'focal_length' in spin or 'focal_l' in spin:
        focal = spin['focal_length'] if 'focal_length' in spin else spin['focal_l']
        out['cam_param.focal_length'] = focal.astype(np.float64)
    return out


class SPINNpzFile(HumanDataFile):
    """A SPIN/CLIFF ``.npz`` seen through :class:`HumanDataFile`'s accessors.

    The whole file is read and converted in memory at open (the module docstring gives
    the mapping); there is no extraction cache. A 3DPW test file (35k rows) holds about
    25 MB of arrays, H36M protocol 1 (110k rows) about 60 MB.

    Args:
        path (str): The ``.npz`` file.
        cache_dir (str, optional): Unused (no cache); accepted for the interface.
        mmap (bool): Unused; the arrays are always in memory.

    Attributes:
        ignored_keys (list[str]): Keys of the file that are not read.

    Raises:
        FileNotFoundError, HumanDataError: see :func:`read_spin_npz`.
    """

    def __init__(self, path: str, cache_dir: Optional[str] = None, mmap: bool = True) -> None:
        del cache_dir, mmap
        spin, ignored = read_spin_npz(path)
        self.path = str(path)
        self.mmap = False
        self._cache_root = None
        self.cache_path = None
        self._arrays = _to_human_data(spin)
        self._array_keys = sorted(self._arrays)
        self.scalars = dict(keypoints2d_convention='smpl_49', keypoints3d_convention='h36m_17')
        self.ignored_keys = ignored
        self._validate()
