"""Loading and validating SMPL model files and joint regressors, without chumpy.

Real SMPL ``.pkl`` files are Python-2 pickles whose arrays are **chumpy** objects
(``chumpy.ch.Ch`` and, in some releases, small expression graphs such as
``chumpy.reordering.Select``) and whose joint regressor is a scipy sparse matrix.
:class:`ChumpyFreeUnpickler` loads them with neither chumpy nor scipy: every
global outside an allow-list of exact ``(module, name)`` pairs (numpy's array,
dtype and scalar reconstruction, plain containers) is replaced by an inert
placeholder that only records its pickled state, and the placeholders are then
turned into numpy arrays (a ``Ch``'s value, a few chumpy operations, the sparse
formats CSC/CSR/COO). Nothing is imported and only the allow-listed callables are
ever called, with checked arguments (:mod:`mroi_plugin.utils.safe_pickle`), so no
code from the file is executed and the loader is safe on untrusted files.
``.npz`` files hold the same keys as plain arrays and are read without pickle.

Everything here raises :class:`BodyModelFileError` (a ``ValueError``) or
``FileNotFoundError`` with the offending file and key in the message.
"""
import os
import os.path as osp
import zipfile
from typing import IO, Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from mroi_plugin.utils.safe_pickle import (
    CONTAINER_GLOBALS,
    NUMPY_GLOBALS,
    InertObject,
    RestrictedUnpickler,
    UnsafePickleError,
)

__all__ = [
    'BodyModelFileError', 'ChumpyFreeUnpickler', 'SMPL_GENDERS', 'SMPL_REQUIRED_KEYS',
    'NUM_SMPL_VERTICES', 'NUM_SMPL_JOINTS', 'NUM_SMPL_POSE_BASIS', 'resolve_smpl_model_file',
    'load_pickle_without_chumpy', 'load_smpl_model_data', 'validate_smpl_model_data',
    'build_smpl_data_struct', 'load_joint_regressor'
]

PathLike = Union[str, 'os.PathLike[str]']

NUM_SMPL_VERTICES = 6890
NUM_SMPL_JOINTS = 24
# 23 non-root joints x 9 entries of (R - I): the pose-corrective blend shape basis.
NUM_SMPL_POSE_BASIS = (NUM_SMPL_JOINTS - 1) * 9
SMPL_GENDERS = ('neutral', 'male', 'female')
SMPL_REQUIRED_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights',
                      'kintree_table', 'f')
MODEL_EXTENSIONS = ('.pkl', '.npz')


class BodyModelFileError(ValueError):
    """A body-model or joint-regressor file is unreadable or malformed."""


# --------------------------------------------------------------------------------------
# Pickle loading without chumpy / scipy
# --------------------------------------------------------------------------------------
# The stand-ins keep their historical names here (``_to_numpy`` reads them).
_Placeholder = InertObject

# Globals a model pickle may legitimately need (numpy arrays/dtypes/scalars and plain
# containers, Python 2 and 3, protocols 0-5), as exact (module, name) pairs.
_ALLOWED_GLOBALS = {**NUMPY_GLOBALS, **CONTAINER_GLOBALS}


class ChumpyFreeUnpickler(RestrictedUnpickler):
    """Unpickler for SMPL-style model files that needs neither chumpy nor scipy.

    numpy arrays and plain containers load normally; any other class (chumpy, scipy
    sparse, anything unexpected) becomes an inert placeholder holding its state.
    Nothing is imported and nothing but the allowed numpy/container callables is
    called (see :mod:`mroi_plugin.utils.safe_pickle`); a pickle that tries to call
    anything else, use the extension registry or set state on a class raises
    :class:`~mroi_plugin.utils.safe_pickle.UnsafePickleError`.
    Use :func:`load_pickle_without_chumpy` to get numpy arrays back.

    Args:
        file (IO[bytes]): The pickle stream.
        encoding (str): Decoding of Python 2 ``str`` (``'latin1'`` for SMPL files).
    """

    def __init__(self, file: IO[bytes], encoding: str = 'ASCII') -> None:
        super().__init__(file, allowed=_ALLOWED_GLOBALS, unknown='inert', encoding=encoding)


def _densify_sparse(obj: _Placeholder) -> np.ndarray:
    """Dense array of a pickled scipy sparse matrix (CSC, CSR or COO), without scipy."""
    state = obj._state
    shape = state.get('_shape', state.get('shape'))
    fmt = obj.pickled_name[:3]
    if shape is None or fmt not in ('csc', 'csr', 'coo'):
        raise TypeError(f'unsupported sparse matrix {obj.qualified_name}')
    data = np.asarray(state['data'])
    dense = np.zeros(tuple(int(s) for s in shape), dtype=data.dtype)
    if fmt == 'coo':
        # scipy >= 1.13 stores COO indices as ``coords``, older versions as ``row``/``col``.
        rows, cols = state['coords'] if 'coords' in state else (state['row'], state['col'])
        rows, cols = np.asarray(rows), np.asarray(cols)
    else:
        indptr, indices = np.asarray(state['indptr']), np.asarray(state['indices'])
        outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        rows, cols = (indices, outer) if fmt == 'csc' else (outer, indices)
    # Duplicate entries of un-canonical matrices add up, as in scipy's todense().
    np.add.at(dense, (rows, cols), data)
    return dense


def _chumpy_term(obj: _Placeholder, term: str) -> Any:
    state = obj._state
    if term not in state:
        raise TypeError(f'{obj.qualified_name} without its term {term!r}')
    return state[term]


# Values of the chumpy classes SMPL-format files are known to contain. A plain
# ``Ch`` stores its value as ``x``; the operations store their operands.
_CHUMPY_OPS: Dict[str, Callable[[_Placeholder, Callable[[Any], np.ndarray]], np.ndarray]] = {
    'Ch': lambda o, v: v(_chumpy_term(o, 'x')),
    'add': lambda o, v: v(_chumpy_term(o, 'a')) + v(_chumpy_term(o, 'b')),
    'subtract': lambda o, v: v(_chumpy_term(o, 'a')) - v(_chumpy_term(o, 'b')),
    'multiply': lambda o, v: v(_chumpy_term(o, 'a')) * v(_chumpy_term(o, 'b')),
    'divide': lambda o, v: v(_chumpy_term(o, 'x1')) / v(_chumpy_term(o, 'x2')),
    'negative': lambda o, v: -v(_chumpy_term(o, 'x')),
    'dot': lambda o, v: v(_chumpy_term(o, 'a')).dot(v(_chumpy_term(o, 'b'))),
    'Reshape': lambda o, v: v(_chumpy_term(o, 'a')).reshape(_chumpy_term(o, 'newshape')),
    'transpose': lambda o, v: np.transpose(v(_chumpy_term(o, 'a')), o._state.get('axes')),
    'Select': lambda o, v: _chumpy_select(o, v),
}


def _chumpy_select(obj: _Placeholder, value: Callable[[Any], np.ndarray]) -> np.ndarray:
    result = value(_chumpy_term(obj, 'a')).ravel()[np.asarray(_chumpy_term(obj, 'idxs'))]
    shape = obj._state.get('preferred_shape')
    return result.reshape(shape) if shape is not None else result


def _to_numpy(obj: Any) -> np.ndarray:
    """numpy value of a loaded object: arrays pass, placeholders are evaluated.

    Raises:
        TypeError: the object has no known numpy value (the message names its class).
    """
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, _Placeholder):
        if not hasattr(obj, '_state'):
            raise TypeError(f'{obj.qualified_name} object without pickled state')
        if obj.pickled_module.startswith('scipy.sparse'):
            return _densify_sparse(obj)
        if obj.pickled_module.split('.')[0] == 'chumpy' and obj.pickled_name in _CHUMPY_OPS:
            return np.asarray(_CHUMPY_OPS[obj.pickled_name](obj, _to_numpy))
        raise TypeError(f'objects of class {obj.qualified_name} cannot be read without '
                        'their library')
    if isinstance(obj, (list, tuple, int, float, np.generic)):
        return np.asarray(obj)
    raise TypeError(f'objects of type {type(obj).__name__} are not arrays')


def load_pickle_without_chumpy(path: PathLike) -> Dict[str, Any]:
    """Load a model pickle (Python 2 or 3) into a dict of numpy arrays.

    Array-like entries (numpy arrays, chumpy objects, scipy sparse matrices) become
    dense numpy arrays. Entries with no array value (strings, dicts of training
    metadata, unknown objects) are kept as loaded if plain Python, else dropped;
    :func:`validate_smpl_model_data` reports a *required* key that was dropped.

    Args:
        path (str | PathLike): The ``.pkl`` file.

    Returns:
        dict[str, Any]: ``{key: value}``; array values are ``np.ndarray``.

    Raises:
        FileNotFoundError: the file does not exist.
        BodyModelFileError: the file is not a readable pickle of a dict.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'Body model file not found: {path}')
    try:
        with open(path, 'rb') as f:
            # latin1 reads the byte strings of Python-2 pickled numpy arrays verbatim.
            raw = ChumpyFreeUnpickler(f, encoding='latin1').load()
    except UnsafePickleError as e:
        raise BodyModelFileError(
            f'Refusing to load body model file {path}: {e}. A model pickle may hold only '
            'numpy arrays, plain containers and (read as data) chumpy/scipy objects; this '
            'one asks for more (possibly to run code). Do not use it: re-download the model '
            'from its official source, or convert a trusted copy to .npz.') from e
    except Exception as e:  # any unpickling failure means a corrupt/unsupported file
        raise BodyModelFileError(
            f'Cannot read body model file {path}: not a valid pickle ({type(e).__name__}: '
            f'{e}). Re-download the model file or convert it to .npz.') from e
    if not isinstance(raw, dict):
        raise BodyModelFileError(f'Body model file {path} holds a {type(raw).__name__}, '
                                 'expected a dict of arrays (SMPL format).')
    data: Dict[str, Any] = {}
    unreadable: Dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, (str, bytes, dict)) or value is None:
            data[key] = value
            continue
        try:
            data[key] = _to_numpy(value)
        # A crafted file can make chumpy graphs cyclic or sparse shapes huge: the key
        # is then unreadable, like any other value without an array meaning.
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError,
                MemoryError, OverflowError) as e:
            unreadable[key] = f'{type(e).__name__}: {e}'[:300]
    if unreadable:
        data['__unreadable__'] = unreadable
    return data


def _load_npz(path: str) -> Dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise BodyModelFileError(
            f'Cannot read body model file {path}: not a valid .npz of plain arrays '
            f'({type(e).__name__}: {e}). Object arrays (e.g. a pickled sparse matrix) are '
            'not supported: save every entry as a dense numpy array.') from e


# --------------------------------------------------------------------------------------
# Finding, loading and validating a model
# --------------------------------------------------------------------------------------
def resolve_smpl_model_file(model_path: PathLike, gender: str = 'neutral') -> str:
    """The model file for ``gender``.

    Args:
        model_path (str | PathLike): A ``.pkl``/``.npz`` file, or a directory holding
            ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}`` (``.pkl`` preferred when both exist).
        gender (str): ``'neutral'``, ``'male'`` or ``'female'``; used for directories.

    Returns:
        str: Path of an existing file.

    Raises:
        ValueError: unknown gender or file extension.
        FileNotFoundError: nothing found (the message lists every path looked for).
    """
    if gender not in SMPL_GENDERS:
        raise ValueError(f"Unknown SMPL gender '{gender}'; expected one of {SMPL_GENDERS}.")
    model_path = os.fspath(model_path)
    if osp.isdir(model_path):
        candidates = [osp.join(model_path, f'SMPL_{gender.upper()}{ext}')
                      for ext in MODEL_EXTENSIONS]
        for candidate in candidates:
            if osp.isfile(candidate):
                return candidate
        present = sorted(n for n in os.listdir(model_path) if n.endswith(MODEL_EXTENSIONS))
        raise FileNotFoundError(
            f"No SMPL model for gender '{gender}' in {model_path}: looked for "
            f'{[osp.basename(c) for c in candidates]}; the directory has {present or "none"}. '
            'Point model_path at the model file, or write the licence-free stand-in with '
            'tools/make_standin_smpl.py.')
    if not osp.isfile(model_path):
        raise FileNotFoundError(
            f'SMPL model path does not exist: {model_path}. Give a .pkl/.npz file or a '
            f'directory holding SMPL_{{NEUTRAL,MALE,FEMALE}}.{{pkl,npz}} (e.g. the stand-in '
            'written by tools/make_standin_smpl.py).')
    if not model_path.endswith(MODEL_EXTENSIONS):
        raise ValueError(f'SMPL model file {model_path} must end in .pkl or .npz.')
    return model_path


def validate_smpl_model_data(data: Mapping[str, Any], path: str = '<memory>') -> None:
    """Check that ``data`` is a well-formed SMPL model.

    Checks: every key of :data:`SMPL_REQUIRED_KEYS` present and numeric;
    ``v_template (6890, 3)``, ``shapedirs (6890, 3, S)`` with ``S >= 1``,
    ``posedirs (6890, 3, 207)``, ``J_regressor (24, 6890)``, ``weights (6890, 24)``,
    ``kintree_table (2, 24)`` whose parents precede their children, ``f (F, 3)``
    indices in ``[0, 6890)``; all values finite.

    Args:
        data (Mapping[str, Any]): Model arrays (as from :func:`load_smpl_model_data`).
        path (str): File name used in error messages.

    Raises:
        BodyModelFileError: the first problem found, naming ``path`` and the key.
    """
    unreadable = data.get('__unreadable__', {})
    missing = [k for k in SMPL_REQUIRED_KEYS if k not in data]
    if missing:
        detail = ''.join(f'; {k!r} could not be read: {unreadable[k]}'
                         for k in missing if k in unreadable)
        raise BodyModelFileError(
            f'Body model file {path} lacks the keys {missing}{detail}. An SMPL model needs '
            f'{list(SMPL_REQUIRED_KEYS)}; it has {sorted(k for k in data if k[0] != "_")}.')
    arrays = {}
    for key in SMPL_REQUIRED_KEYS:
        value = data[key]
        if not isinstance(value, np.ndarray) or not (
                np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            raise BodyModelFileError(
                f"Body model file {path}: '{key}' is not a numeric array "
                f'(got {type(value).__name__}'
                f'{" of " + str(value.dtype) if isinstance(value, np.ndarray) else ""}).')
        if not np.all(np.isfinite(value)):
            raise BodyModelFileError(f"Body model file {path}: '{key}' contains NaN or inf.")
        arrays[key] = value

    num_verts = arrays['v_template'].shape[0] if arrays['v_template'].ndim == 2 else None
    if num_verts != NUM_SMPL_VERTICES:
        raise BodyModelFileError(
            f"Body model file {path}: 'v_template' has shape {arrays['v_template'].shape}, "
            f'expected ({NUM_SMPL_VERTICES}, 3): SMPL has {NUM_SMPL_VERTICES} vertices.')
    expected = {
        'v_template': (NUM_SMPL_VERTICES, 3),
        'shapedirs': (NUM_SMPL_VERTICES, 3, None),
        'posedirs': (NUM_SMPL_VERTICES, 3, NUM_SMPL_POSE_BASIS),
        'J_regressor': (NUM_SMPL_JOINTS, NUM_SMPL_VERTICES),
        'weights': (NUM_SMPL_VERTICES, NUM_SMPL_JOINTS),
        'kintree_table': (2, NUM_SMPL_JOINTS),
        'f': (None, 3),
    }
    for key, shape in expected.items():
        actual = arrays[key].shape
        if len(actual) != len(shape) or any(e is not None and a != e
                                            for a, e in zip(actual, shape)):
            shown = tuple('N' if e is None else e for e in shape)
            raise BodyModelFileError(
                f"Body model file {path}: '{key}' has shape {actual}, expected {shown} "
                f'(SMPL: {NUM_SMPL_VERTICES} vertices, {NUM_SMPL_JOINTS} joints).')
    if arrays['shapedirs'].shape[2] < 1:
        raise BodyModelFileError(f"Body model file {path}: 'shapedirs' has no shape components.")

    faces = arrays['f']
    if not np.issubdtype(faces.dtype, np.integer) and not np.all(faces == np.round(faces)):
        raise BodyModelFileError(f"Body model file {path}: 'f' (faces) must hold integer "
                                 'vertex indices.')
    if faces.size and (faces.min() < 0 or faces.max() >= NUM_SMPL_VERTICES):
        raise BodyModelFileError(
            f"Body model file {path}: 'f' (faces) indexes vertices {int(faces.min())}.."
            f'{int(faces.max())}, outside [0, {NUM_SMPL_VERTICES}).')
    parents = arrays['kintree_table'][0, 1:].astype(np.int64)
    if np.any(parents < 0) or np.any(parents >= np.arange(1, NUM_SMPL_JOINTS)):
        raise BodyModelFileError(
            f"Body model file {path}: 'kintree_table' row 0 must give each joint i > 0 a "
            f'parent in [0, i) (SMPL kinematic tree); got parents {parents.tolist()}.')


def load_smpl_model_data(model_path: PathLike,
                         gender: str = 'neutral') -> Tuple[Dict[str, np.ndarray], str]:
    """Find, load and validate an SMPL model (``.pkl`` with or without chumpy, or ``.npz``).

    Args:
        model_path (str | PathLike): File or directory, see :func:`resolve_smpl_model_file`.
        gender (str): ``'neutral'``, ``'male'`` or ``'female'``.

    Returns:
        tuple: ``(data, path)``: the required arrays as plain numpy (``J_regressor`` dense;
        ``f`` and ``kintree_table`` int64; the rest float64) and the file they came from.

    Raises:
        FileNotFoundError, BodyModelFileError: see :func:`resolve_smpl_model_file`,
            :func:`validate_smpl_model_data`.
    """
    path = resolve_smpl_model_file(model_path, gender)
    raw = load_pickle_without_chumpy(path) if path.endswith('.pkl') else _load_npz(path)
    validate_smpl_model_data(raw, path)
    data: Dict[str, np.ndarray] = {
        key: np.asarray(raw[key], dtype=np.float64) for key in SMPL_REQUIRED_KEYS}
    data['f'] = np.asarray(raw['f'], dtype=np.int64)
    kintree = np.asarray(raw['kintree_table']).astype(np.int64)
    kintree[0, 0] = -1  # the root's parent is stored as 2**32-1 in the released files
    data['kintree_table'] = kintree
    return data, path


def build_smpl_data_struct(data: Mapping[str, np.ndarray]) -> Any:
    """The ``smplx.utils.Struct`` that ``smplx.SMPL(data_struct=...)`` reads.

    Passing it means smplx never unpickles a file itself (it cannot read chumpy
    pickles without chumpy, nor ``.npz`` at all).
    """
    from smplx.utils import Struct
    return Struct(**{key: data[key] for key in SMPL_REQUIRED_KEYS})


def load_joint_regressor(path: PathLike,
                         num_vertices: int = NUM_SMPL_VERTICES,
                         num_joints: Optional[int] = None) -> np.ndarray:
    """Load a vertex-to-joint regressor such as ``J_regressor_h36m.npy``.

    Args:
        path (str | PathLike): A ``.npy`` file with a ``(J, num_vertices)`` array.
        num_vertices (int): Expected number of columns. Defaults to 6890.
        num_joints (int, optional): Expected number of rows ``J``, if known.

    Returns:
        np.ndarray: ``(J, num_vertices)`` float64.

    Raises:
        FileNotFoundError: the file does not exist.
        BodyModelFileError: unreadable, not a finite 2-D numeric array, or wrong shape.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Joint regressor file not found: {path}. Expected a .npy array '
            f'(J, {num_vertices}), e.g. J_regressor_h36m.npy (the stand-in tool writes one).')
    try:
        regressor = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise BodyModelFileError(f'Cannot read joint regressor {path}: not a valid .npy of '
                                 f'a numeric array ({type(e).__name__}: {e}).') from e
    if not isinstance(regressor, np.ndarray) or not np.issubdtype(regressor.dtype, np.number):
        raise BodyModelFileError(f'Joint regressor {path} is not a numeric array.')
    if regressor.ndim != 2 or regressor.shape[1] != num_vertices or (
            num_joints is not None and regressor.shape[0] != num_joints):
        rows = 'J' if num_joints is None else num_joints
        raise BodyModelFileError(f'Joint regressor {path} has shape {regressor.shape}, '
                                 f'expected ({rows}, {num_vertices}).')
    if not np.all(np.isfinite(regressor)):
        raise BodyModelFileError(f'Joint regressor {path} contains NaN or inf.')
    return regressor.astype(np.float64)
