"""Lazy, validated reader of MMHuman3D HumanData ``.npz`` files.

MMHuman3D (``mmhuman3d/data/data_structures/human_data.py``) dumps a HumanData
dict with ``np.savez_compressed``. The layout this reader understands:

==============================  ==================================================
key                             value
==============================  ==================================================
``__key_strict__``              0-d bool
``__data_len__``                0-d int, N (older files: ``__temporal_len__``)
``__keypoints_compressed__``    0-d bool: keypoints hold only the joints whose
                                mask is 1 (decompressed here back to the mask
                                length, 190 for ``human_data``, with zeros)
``image_path``                  (N,) str, relative to the image root
``bbox_xywh``                   (N, 5) x, y (top-left), w, h px, score; (N, 4) is
                                accepted (score 1), as MMHuman3D does
``keypoints2d``                 (N, J, 3) u, v px, confidence
``keypoints2d_mask``            (J_full,) 0/1
``keypoints3d``                 (N, J, 4) x, y, z m, confidence (+ ``_mask``)
``keypoints{2,3}d_convention``  optional 0-d str, default ``'human_data'``
``smpl``                        0-d object: dict of ``global_orient`` (N, 3),
                                ``body_pose`` (N, 23, 3) or (N, 69), ``betas``
                                (N, 10), optional ``transl`` (N, 3)
``has_smpl``                    optional (N,) 0/1 (SPIN/CLIFF converters)
``meta``                        0-d object: dict, ``gender`` (N,) 'm'/'f'/...
``cam_param``                   optional 0-d object dict. Per-sample forms are
                                used: ``focal_length`` (N,) or (N, 2) px and
                                ``principal_point`` (N, 2) px (mroi's documented
                                extension, written by its synthetic generator);
                                ``f``/``c`` (N, 2) or ``intrinsic`` (N, 3, 3)
                                (MMHuman3D's HybrIK converters). Other layouts
                                (H36M's per-camera dict) are ignored.
``image_size``                  optional (N, 2) ``[W, H]`` px (mroi extension)
``config``                      0-d str, the dataset's name
==============================  ==================================================

Dicts are stored by numpy as 0-d object arrays, i.e. pickles. They are read
with a restricted unpickler (:mod:`mroi_plugin.utils.safe_pickle`) that builds
only numpy arrays, dicts, lists, tuples, strings, numbers and None, imports
nothing and calls nothing else; an object array asking for more raises
:class:`HumanDataError` naming the file and the key, and the file is never
opened with ``allow_pickle=True``.

Laziness: a 300k-sample file must open in well under a second and must not be
copied into every DataLoader worker. On first use every array member is
streamed, still in ``.npy`` format, into a cache directory (members of dicts are
flattened to ``'smpl.betas'`` etc.); later opens only memory-map those files
(``np.load(mmap_mode='r')``). Workers share the page cache instead of holding
copies, and pickling a :class:`HumanDataFile` sends only its paths.
"""
import hashlib
import json
import logging
import os
import os.path as osp
import re
import shutil
import tempfile
import zipfile
import zlib
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from mroi_plugin.utils.safe_pickle import UnsafePickleError, read_npy_restricted

__all__ = ['HumanDataFile', 'HumanDataError', 'BadSampleError']

#: Version of the cache layout; bump it when the extraction changes.
CACHE_FORMAT_VERSION = 1
#: Name of the cache directory made next to an annotation file by default.
DEFAULT_CACHE_DIRNAME = '.mroi_humandata_cache'
_MANIFEST = 'manifest.json'
_HEADER_KEYS = ('__key_strict__', '__data_len__', '__temporal_len__',
                '__keypoints_compressed__')
_DICT_KEYS = ('smpl', 'meta', 'cam_param')
_KEYPOINT_KEYS = {'keypoints2d': 3, 'keypoints3d': 4}
_SAFE_KEY = re.compile(r'^[A-Za-z0-9_.\-]+$')

# Per-sample size of every SMPL parameter (axis-angle / shape coefficients).
_SMPL_SIZES = {'global_orient': 3, 'body_pose': 69, 'transl': 3}
_SMPL_MIN_BETAS = 10


class HumanDataError(ValueError):
    """A HumanData file is malformed (missing key, wrong shape, ...)."""


class BadSampleError(ValueError):
    """One sample cannot be used (degenerate box, unreadable image, ...).

    :class:`~mroi_plugin.datasets.HumanDataDataset` catches it when its
    ``on_bad_sample='skip'`` and draws another sample instead.
    """


def _default_cache_root(ann_dir: str) -> str:
    """Cache next to the data when writable, else in the user's cache."""
    local = osp.join(ann_dir, DEFAULT_CACHE_DIRNAME)
    if os.access(local if osp.isdir(local) else ann_dir, os.W_OK):
        return local
    user_cache = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(user_cache, 'mroi', 'humandata')


def _source_signature(path: str) -> Dict[str, Any]:
    stat = os.stat(path)
    return dict(path=osp.abspath(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _npy_header(stream) -> Tuple[tuple, np.dtype]:
    """Read shape and dtype from an ``.npy`` stream without its data."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:  # numpy writes 3.0 only for non-latin1 field names
        raise ValueError(f'unsupported .npy version {version}')
    return shape, dtype


def _to_plain_array(value: Any) -> Optional[np.ndarray]:
    """Turn a stored value into a numeric/fixed-width-str array, or None."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        return None
    if value.dtype == object:
        items = value.ravel().tolist()
        if not all(isinstance(item, str) for item in items):
            return None
        value = np.asarray(items, dtype=str).reshape(value.shape)
    return value


def _scalar(value: Any) -> Optional[Any]:
    """A JSON-able scalar, or None when ``value`` is not a scalar."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype != object:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return None


class _Extraction:
    """Collects flattened arrays and scalars while reading an npz."""

    def __init__(self) -> None:
        self.scalars: Dict[str, Any] = {}
        self.ignored: List[str] = []

    def add_object(self, key: str, value: Any,
                   save: Callable[[str, np.ndarray], None]) -> None:
        scalar = _scalar(value)
        if scalar is not None:
            self.scalars[key] = scalar
            return
        if value is None:
            return
        if isinstance(value, dict) and key in _DICT_KEYS:
            for sub_key, sub_value in value.items():
                flat = f'{key}.{sub_key}'
                if not isinstance(sub_key, str) or not _SAFE_KEY.match(sub_key):
                    self.ignored.append(f'{key}[{sub_key!r}]')
                    continue
                self.add_object(flat, sub_value, save)
            return
        array = _to_plain_array(value)
        if array is None or not _SAFE_KEY.match(key):
            self.ignored.append(key)
            return
        save(key, array)


def _iter_members(path: str) -> Iterator[Tuple[str, zipfile.ZipInfo, tuple, np.dtype]]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith('.npy'):
                continue
            with zf.open(info) as stream:
                shape, dtype = _npy_header(stream)
            yield info.filename[:-len('.npy')], info, shape, dtype


def _read_npz(path: str, out_dir: Optional[str]) -> Tuple[Dict[str, Optional[np.ndarray]],
                                                           Dict[str, Any], List[str]]:
    """Read every member of ``path``; stream plain arrays to ``out_dir``.

    Returns ``(arrays, scalars, ignored)``; with ``out_dir`` the arrays are the
    names of the files written (values None) and are memory-mapped later.
    """
    arrays: Dict[str, Optional[np.ndarray]] = {}
    extraction = _Extraction()

    def save(key: str, array: np.ndarray) -> None:
        if out_dir is None:
            arrays[key] = array
        else:
            np.save(osp.join(out_dir, key + '.npy'), array, allow_pickle=False)
            arrays[key] = None

    try:
        _extract_members(path, out_dir, arrays, extraction, save)
    except HumanDataError:
        raise
    # Not OSError: a full or read-only cache disk keeps its own message.
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise HumanDataError(
            f'HumanData file {path!r} cannot be read ({type(err).__name__}: {err}): the '
            'archive is truncated or corrupt. Copy or download it again.') from err
    return arrays, extraction.scalars, extraction.ignored


def _extract_members(path: str, out_dir: Optional[str], arrays: Dict[str, Any],
                     extraction: _Extraction, save: Callable[[str, np.ndarray], None]) -> None:
    with np.load(path, allow_pickle=False) as npz, zipfile.ZipFile(path) as zf:
        for key, info, shape, dtype in _iter_members(path):
            streamable = (not dtype.hasobject and len(shape) > 0
                          and _SAFE_KEY.match(key) is not None)
            if streamable and out_dir is not None:
                # Copy the member byte for byte: it is already an .npy file, and
                # this never holds a (possibly GB-sized) array in memory.
                with zf.open(info) as src, open(osp.join(out_dir, key + '.npy'), 'wb') as dst:
                    shutil.copyfileobj(src, dst, length=16 << 20)
                arrays[key] = None
            elif streamable or not dtype.hasobject:
                value = npz[key]
                if streamable:
                    arrays[key] = value
                else:
                    extraction.add_object(key, value, save)
            else:
                with zf.open(info) as src:
                    value = _read_object_array(path, key, src.read())
                if value.ndim == 0:
                    value = value.item()
                extraction.add_object(key, value, save)


def _read_object_array(path: str, key: str, data: bytes) -> np.ndarray:
    """An object member (``.npy`` bytes) through the restricted unpickler."""
    try:
        return read_npy_restricted(data)
    except UnsafePickleError as err:
        raise HumanDataError(
            f'HumanData file {path!r}, key {key!r}: refusing to unpickle this object array '
            f'({err}). HumanData object arrays may hold only numpy arrays, dicts, lists, '
            'tuples, strings, numbers and None; this one asks for more (possibly code). '
            'Do not use the file; re-create it with MMHuman3D from the original data.'
        ) from err
    except Exception as err:  # a corrupt pickle fails in many ways
        raise HumanDataError(
            f'HumanData file {path!r}, key {key!r}: cannot read this object array '
            f'({type(err).__name__}: {err}); the file is corrupt or truncated.') from err


class HumanDataFile:
    """Read-only, lazily loaded view of one HumanData ``.npz`` file.

    Arrays are addressed by flat keys: top-level members by their name
    (``'bbox_xywh'``), members of the ``smpl`` / ``meta`` / ``cam_param`` dicts
    as ``'smpl.body_pose'``. Per-sample reads copy only that sample.

    Args:
        path (str): The ``.npz`` file.
        cache_dir (str, optional): Where to keep the extracted ``.npy`` files
            (a sub-directory per source file, keyed by its path, size and
            modification time). Defaults to ``.mroi_humandata_cache/`` next to
            ``path`` when writable, else ``$XDG_CACHE_HOME/mroi/humandata``.
        mmap (bool): Memory-map the extracted arrays (default). ``False``
            decompresses everything into memory instead (no cache files).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        HumanDataError: the file is not an npz, misses a required key, or its
            keys disagree in shape; an object array asks for more than plain data
            (see the module docstring); the archive or its cache is corrupt. The
            message names the file (or cache file) and the key.
    """

    REQUIRED_KEYS = ('image_path', 'bbox_xywh')

    def __init__(self, path: str, cache_dir: Optional[str] = None, mmap: bool = True) -> None:
        path = str(path)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'HumanData file not found: {path!r}. Check `data_root` and `ann_file` '
                '(MMHuman3D keeps them under data_root/preprocessed_datasets/).')
        if not zipfile.is_zipfile(path):
            raise HumanDataError(
                f'{path!r} is not an .npz archive; HumanData files are written by '
                "MMHuman3D's HumanData.dump (np.savez_compressed).")
        self.path = path
        self.mmap = mmap
        self._cache_root = cache_dir
        self.cache_path: Optional[str] = None
        if mmap:
            self.cache_path = self._ensure_cache()
            manifest = self._read_manifest(self.cache_path)
            self._array_keys = manifest['arrays']
            self.scalars = manifest['scalars']
            self.ignored_keys = manifest['ignored']
            self._arrays: Dict[str, np.ndarray] = {}
            self._open_mmaps()
        else:
            arrays, self.scalars, self.ignored_keys = _read_npz(path, None)
            # Without out_dir every value is the array itself.
            self._arrays = {key: value for key, value in arrays.items() if value is not None}
            self._array_keys = sorted(arrays)
        self._validate()

    # ------------------------------------------------------------------ cache
    def _cache_dir_for_source(self) -> str:
        signature = _source_signature(self.path)
        digest = hashlib.sha1(
            json.dumps([signature, CACHE_FORMAT_VERSION]).encode()).hexdigest()[:16]
        root = self._cache_root or _default_cache_root(osp.dirname(osp.abspath(self.path)))
        stem = osp.splitext(osp.basename(self.path))[0]
        return osp.join(root, f'{stem}-{digest}')

    def _broken_cache(self, what: str, err: BaseException) -> HumanDataError:
        return HumanDataError(
            f'HumanData cache {what} is unreadable ({type(err).__name__}: {err}): it is '
            f'truncated or corrupt (e.g. a full disk or an interrupted copy). It was '
            f'extracted from {self.path!r} and can be deleted: remove the directory '
            f'{self.cache_path!r} and it is re-extracted on the next open.')

    def _read_manifest(self, cache_path: str) -> Dict[str, Any]:
        file = osp.join(cache_path, _MANIFEST)
        try:
            with open(file) as f:
                manifest = json.load(f)
            if not isinstance(manifest, dict) or not isinstance(manifest.get('arrays'), list) \
                    or not isinstance(manifest.get('scalars'), dict) \
                    or not isinstance(manifest.get('ignored'), list):
                raise ValueError('not a manifest written by this reader')
        except (OSError, ValueError) as err:
            raise self._broken_cache(f'file {file!r}', err) from err
        return manifest

    def _ensure_cache(self) -> str:
        final = self._cache_dir_for_source()
        if osp.isfile(osp.join(final, _MANIFEST)):
            return final
        parent = osp.dirname(final)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as err:
            raise OSError(
                f'Cannot create the HumanData cache directory {parent!r} for {self.path!r}: '
                f'{err}. Pass a writable `cache_dir`, or `use_mmap=False`.') from err
        print_log(f'Extracting {self.path} to {final} (once; later opens memory-map it).',
                  logger='current')
        # Extract into a private directory and rename it into place, so that
        # concurrent processes (DDP ranks) never see a half-written cache.
        tmp = tempfile.mkdtemp(prefix=osp.basename(final) + '.tmp-', dir=parent)
        try:
            arrays, scalars, ignored = _read_npz(self.path, tmp)
            manifest = dict(version=CACHE_FORMAT_VERSION, source=_source_signature(self.path),
                            arrays=sorted(arrays), scalars=scalars, ignored=ignored)
            with open(osp.join(tmp, _MANIFEST), 'w') as f:
                json.dump(manifest, f, indent=1)
            try:
                os.rename(tmp, final)
            except OSError as err:
                if not osp.isfile(osp.join(final, _MANIFEST)):
                    self.cache_path = final
                    raise self._broken_cache(f'directory {final!r} (it has no {_MANIFEST})',
                                             err) from err
                shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def _open_mmaps(self) -> None:
        cache_path = self.cache_path
        assert cache_path is not None  # the cache was extracted first
        arrays = {}
        for key in self._array_keys:
            file = osp.join(cache_path, f'{key}.npy')
            try:
                # The mapping checks the header against the file size, so a
                # truncated array fails here, at open, not at some later sample.
                arrays[key] = np.load(file, mmap_mode='r', allow_pickle=False)
            except (OSError, ValueError, EOFError) as err:
                raise self._broken_cache(f'file {file!r} (key {key!r})', err) from err
        self._arrays = arrays

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if self.mmap:
            state['_arrays'] = None  # re-mapped on unpickling, never copied
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.mmap:
            self._open_mmaps()

    def __deepcopy__(self, memo: dict) -> 'HumanDataFile':
        # The data are read-only: a copy may share them (mmengine deep-copies
        # datasets in get_subset and wrappers; copying GBs there is useless).
        clone = self.__class__.__new__(self.__class__)
        clone.__setstate__(self.__getstate__())
        if not self.mmap:
            clone._arrays = self._arrays
        memo[id(self)] = clone
        return clone

    # ------------------------------------------------------------- validation
    def _error(self, key: str, message: str) -> HumanDataError:
        return HumanDataError(f'HumanData file {self.path!r}, key {key!r}: {message}')

    def _validate(self) -> None:
        for key in self.REQUIRED_KEYS:
            if key not in self._arrays:
                raise self._error(key, 'required key is missing (present: '
                                  f'{sorted(self.keys())}).')
        declared = self.scalars.get('__data_len__', -1)
        if not isinstance(declared, int) or declared < 0:
            declared = self.scalars.get('__temporal_len__', -1)
        num = len(self._arrays['image_path'])
        if isinstance(declared, int) and declared >= 0 and declared != num:
            raise self._error('image_path', f'has {num} entries but __data_len__ is {declared}.')
        self._len = num
        self._check_per_sample('image_path', ())
        bbox = self._arrays['bbox_xywh']
        if bbox.ndim != 2 or bbox.shape[1] not in (4, 5):
            raise self._error('bbox_xywh', f'expected shape (N, 5) or (N, 4), got {bbox.shape}.')
        self._check_per_sample('bbox_xywh', None)
        self.keypoints_compressed = bool(self.scalars.get('__keypoints_compressed__', False))
        self._masks: Dict[str, np.ndarray] = {}
        self._mask_index: Dict[str, np.ndarray] = {}
        for key, dim in _KEYPOINT_KEYS.items():
            if key in self._arrays:
                self._validate_keypoints(key, dim)
        self._validate_smpl()
        for key in ('has_smpl', 'meta.gender'):
            if key in self._arrays:
                self._check_per_sample(key, ())
        if 'image_size' in self._arrays:
            self._check_per_sample('image_size', (2, ))
        self._validate_camera()

    def _check_per_sample(self, key: str, sample_shape: Optional[tuple]) -> None:
        array = self._arrays[key]
        if array.ndim == 0 or array.shape[0] != self._len:
            raise self._error(key, f'has shape {array.shape} but image_path has {self._len} '
                              'samples: every per-sample key needs N rows.')
        if sample_shape is not None and array.shape[1:] != sample_shape:
            raise self._error(key, f'expected per-sample shape {sample_shape}, '
                              f'got {array.shape[1:]}.')

    def _validate_keypoints(self, key: str, dim: int) -> None:
        array = self._arrays[key]
        if array.ndim != 3 or array.shape[2] != dim:
            raise self._error(key, f'expected shape (N, J, {dim}), got {array.shape}.')
        self._check_per_sample(key, None)
        mask_key = f'{key}_mask'
        if mask_key not in self._arrays:
            raise self._error(mask_key, f'required with {key!r} is missing.')
        mask = np.asarray(self._arrays[mask_key])
        if mask.ndim != 1 or not np.isin(mask, (0, 1)).all():
            raise self._error(mask_key, f'expected a (J,) array of 0/1, got shape {mask.shape} '
                              f'with values {np.unique(mask)[:8]}.')
        num_valid = int(mask.sum())
        num_stored = array.shape[1]
        if self.keypoints_compressed and num_stored != num_valid:
            raise self._error(key, f'file says __keypoints_compressed__=True, so it must hold '
                              f'the {num_valid} joints with mask 1, but holds {num_stored}.')
        if not self.keypoints_compressed and num_stored != mask.shape[0]:
            raise self._error(key, f'holds {num_stored} joints but {mask_key} has '
                              f'{mask.shape[0]} entries (uncompressed file).')
        self._masks[key] = mask.astype(np.float32)
        self._mask_index[key] = np.flatnonzero(mask)

    def _validate_smpl(self) -> None:
        smpl_keys = [k for k in self.keys() if k.startswith('smpl.')]
        if not smpl_keys:
            return
        for name in ('global_orient', 'body_pose', 'betas'):
            if f'smpl.{name}' not in self._arrays:
                raise self._error('smpl', f'dict has no {name!r} (has '
                                  f'{[k[5:] for k in smpl_keys]}).')
        for name in ('global_orient', 'body_pose', 'betas', 'transl'):
            key = f'smpl.{name}'
            if key not in self._arrays:
                continue
            self._check_per_sample(key, None)
            size = int(np.prod(self._arrays[key].shape[1:]))
            expected = _SMPL_SIZES.get(name)
            if (expected is not None and size != expected) or (
                    name == 'betas' and size < _SMPL_MIN_BETAS):
                want = f'{expected}' if expected else f'>= {_SMPL_MIN_BETAS}'
                raise self._error(key, f'expected {want} values per sample, got shape '
                                  f'{self._arrays[key].shape}.')

    def _validate_camera(self) -> None:
        """Find which per-sample intrinsics the file has, if any."""
        self.camera_layout: Optional[str] = None
        cam_keys = [k for k in self.keys() if k.startswith('cam_param.')]
        if 'cam_param.focal_length' in self._arrays or 'cam_param.principal_point' in self._arrays:
            self.camera_layout = 'focal_length'
            if 'cam_param.focal_length' in self._arrays:
                self._check_per_sample('cam_param.focal_length', None)
                if self._arrays['cam_param.focal_length'].shape[1:] not in ((), (1,), (2,)):
                    raise self._error('cam_param.focal_length', 'expected shape (N,) or (N, 2), '
                                      f"got {self._arrays['cam_param.focal_length'].shape}.")
            if 'cam_param.principal_point' in self._arrays:
                self._check_per_sample('cam_param.principal_point', (2,))
        elif 'cam_param.f' in self._arrays and 'cam_param.c' in self._arrays:
            self.camera_layout = 'f_c'
            self._check_per_sample('cam_param.f', (2,))
            self._check_per_sample('cam_param.c', (2,))
        elif 'cam_param.intrinsic' in self._arrays:
            self.camera_layout = 'intrinsic'
            self._check_per_sample('cam_param.intrinsic', (3, 3))
        elif cam_keys or any(k.startswith('cam_param') for k in self.ignored_keys):
            print_log(f'{self.path}: cam_param is not per-sample (e.g. H36M\'s per-camera '
                      'dict); focal length and principal point will be estimated.',
                      logger='current', level=logging.WARNING)

    # ----------------------------------------------------------------- access
    def camera(self, index: int) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """Intrinsics of one sample, where the file has them.

        Returns:
            tuple: ``(focal_length, principal_point)``: (2,) ``(fx, fy)`` px and
            (2,) ``(px, py)`` px, float64; None for what the file lacks.
        """
        focal = principal = None
        if self.camera_layout == 'focal_length':
            if 'cam_param.focal_length' in self._arrays:
                value = np.asarray(self._arrays['cam_param.focal_length'][index], np.float64)
                focal = np.broadcast_to(value.reshape(-1), (2,)).copy()
            if 'cam_param.principal_point' in self._arrays:
                principal = self.get('cam_param.principal_point', index).astype(np.float64)
        elif self.camera_layout == 'f_c':
            focal = self.get('cam_param.f', index).astype(np.float64)
            principal = self.get('cam_param.c', index).astype(np.float64)
        elif self.camera_layout == 'intrinsic':
            intrinsic = self.get('cam_param.intrinsic', index).astype(np.float64)
            focal = intrinsic[[0, 1], [0, 1]]
            principal = intrinsic[[0, 1], [2, 2]]
        return focal, principal

    def __len__(self) -> int:
        return self._len

    def keys(self) -> List[str]:
        """Flat keys of the arrays in the file (scalars are in ``scalars``)."""
        return list(self._array_keys)

    def __contains__(self, key: str) -> bool:
        return key in self._arrays

    def array(self, key: str) -> np.ndarray:
        """The whole (memory-mapped) array of ``key``; not copied."""
        return self._arrays[key]

    def get(self, key: str, index: int) -> np.ndarray:
        """A copy of row ``index`` of ``key``."""
        return np.array(self._arrays[key][index])

    def keypoint_mask(self, key: str) -> np.ndarray:
        """(J_full,) float32 0/1 mask of ``'keypoints2d'`` / ``'keypoints3d'``."""
        return self._masks[key]

    def keypoints(self, key: str, index: int) -> np.ndarray:
        """Keypoints of one sample, decompressed to the mask's length.

        Returns:
            np.ndarray: (J_full, C) float32 (C = 3 for 2D, 4 for 3D); joints
            with mask 0 are zero, as in MMHuman3D's ``HumanData.__getitem__``.
        """
        stored = np.asarray(self._arrays[key][index], dtype=np.float32)
        if not self.keypoints_compressed:
            return stored
        full = np.zeros((self._masks[key].shape[0], stored.shape[-1]), dtype=np.float32)
        full[self._mask_index[key]] = stored
        return full

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.path!r}, num_samples={self._len}, '
                f'keys={self.keys()}, compressed={self.keypoints_compressed})')
