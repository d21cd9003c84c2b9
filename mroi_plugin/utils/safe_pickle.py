"""Unpickling of untrusted files (SMPL ``.pkl`` models, HumanData object arrays).

A pickle is a program: its opcodes import names and call them. Restricting
``find_class`` alone is not enough, because the *calls* made with the names it
allows (REDUCE, NEWOBJ, INST/OBJ, BUILD's ``__setstate__``) and the extension
registry (EXT1/2/4, whose cache bypasses ``find_class``) are further ways in.
:class:`RestrictedUnpickler` therefore runs the pure-Python unpickler with its
dangerous opcodes replaced:

* ``find_class`` returns only the objects of an explicit table of exact
  ``(module, name)`` pairs (no prefixes, no dotted names, nothing imported);
  any other name becomes an inert :class:`InertObject` subclass or raises
  :class:`UnsafePickleError`, as the caller chooses.
* REDUCE, NEWOBJ(_EX), INST and OBJ call only what ``find_class`` handed out,
  and the numpy/codecs/copyreg callables are wrapped so that their arguments
  cannot reach anything else (``_codecs.encode`` only decodes latin-1,
  ``numpy.dtype`` only parses a type string and always copies, ...).
* BUILD sets state only on numpy arrays, numpy dtypes and inert objects, never
  on classes. A dtype's new state is tried on a scratch copy and must describe
  the same layout as numpy's own constructor would build: numpy accepts forged
  dtype states (an object field outside the item, an object dtype without its
  reference-counting flags), which would make numpy read or free forged
  pointers.
* EXT1/EXT2/EXT4 and persistent ids are refused.

What is *not* guaranteed: a crafted file can still ask for a large allocation
(memory exhaustion) or hold inert objects of unknown classes; callers check the
types and shapes of what they use.
"""
import copyreg
import importlib
import io
import pickle
import zipfile
from typing import IO, Any, Callable, ClassVar, Dict, Iterable, List, Optional, Set, Tuple

import numpy as np

__all__ = [
    'UnsafePickleError', 'InertObject', 'RestrictedUnpickler', 'NUMPY_GLOBALS',
    'CONTAINER_GLOBALS', 'restricted_loads', 'read_npy_restricted', 'load_npz_restricted'
]

# numpy >= 2 moved numpy.core to numpy._core (old pickles still name numpy.core). Imported
# by name: the private functions used below are not in numpy's type stubs.
try:
    _multiarray = importlib.import_module('numpy._core.multiarray')
    _numeric = importlib.import_module('numpy._core.numeric')
except ImportError:  # pragma: no cover - numpy 1.x
    _multiarray = importlib.import_module('numpy.core.multiarray')
    _numeric = importlib.import_module('numpy.core.numeric')


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something the restricted unpickler does not allow."""


class InertObject:
    """Stands in for an object of a class that must not (or cannot) be imported.

    Subclasses are made per ``(module, name)``; instances keep the constructor
    arguments and the pickled state, and have no behaviour of their own.
    """

    pickled_module = ''
    pickled_name = ''
    # Set through __dict__ (by __new__ and __setstate__), never by attribute assignment.
    _args: Tuple[Any, ...]
    _state: Dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> 'InertObject':
        obj = super().__new__(cls)
        obj.__dict__['_args'] = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        # Pickle BUILD state may be a dict or a (dict, slotstate) pair.
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
            merged = dict(state[0])
            merged.update(state[1] or {})
            state = merged
        self.__dict__['_state'] = state if isinstance(state, dict) else {'_raw': state}

    @property
    def qualified_name(self) -> str:
        return f'{self.pickled_module}.{self.pickled_name}'


class _InertType(type):
    """Metaclass of the inert stand-ins: their classes cannot be modified."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise UnsafePickleError(f'refusing to set attribute {name!r} on a class')

    def __delattr__(cls, name: str) -> None:
        raise UnsafePickleError(f'refusing to delete attribute {name!r} of a class')


def _make_inert_class(module: str, name: str) -> type:
    return _InertType(name, (InertObject, ), {'pickled_module': module, 'pickled_name': name})


# ----------------------------------------------------------------------------------
# Wrapped callables: legitimate numpy/stdlib pickles only ever call them this way.
# ----------------------------------------------------------------------------------
_LATIN1 = ('latin1', 'latin-1', 'iso-8859-1', 'iso8859-1')


def _codecs_encode(obj: Any, encoding: str = 'utf-8', errors: str = 'strict') -> bytes:
    """``_codecs.encode`` as pickle protocols 0-2 use it for ``bytes``: latin-1 only.

    Other codec names would import modules of the ``encodings`` package.
    """
    if not isinstance(obj, str) or not isinstance(encoding, str) \
            or encoding.lower() not in _LATIN1 or errors != 'strict':
        raise UnsafePickleError(f'_codecs.encode is only allowed on str with latin-1 '
                                f'(got {type(obj).__name__}, {encoding!r}, {errors!r})')
    return obj.encode('latin1')


def _numpy_dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
    """``numpy.dtype`` from a type string, always a fresh copy.

    numpy's own dtype pickles pass a string (``'f8'``, ``'O8'``, ``'V16'``) and
    ``copy=True``; forcing the copy keeps BUILD from ever changing numpy's shared
    builtin dtype objects (``np.dtype('f8')`` is a process-wide singleton).
    """
    # Python 2 numpy wrote the flags as ints.
    if not isinstance(obj, str) or not isinstance(align, int):
        raise UnsafePickleError(f'numpy.dtype is only allowed on a type string '
                                f'(got {type(obj).__name__})')
    return np.dtype(obj, align=bool(align), copy=True)


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's ``_reconstruct``: an empty base array that BUILD then fills."""
    if subtype is not np.ndarray:
        raise UnsafePickleError(f'_reconstruct is only allowed for numpy.ndarray '
                                f'(got {subtype!r})')
    if not isinstance(shape, tuple) or not all(isinstance(s, int) for s in shape) \
            or int(np.prod(shape)) != 0:
        raise UnsafePickleError(f'_reconstruct is only allowed with an empty shape '
                                f'(got {shape!r})')
    if not isinstance(dtype, (str, bytes)):
        raise UnsafePickleError('_reconstruct is only allowed with a type code')
    return _multiarray._reconstruct(np.ndarray, shape, dtype)


def _numpy_scalar(dtype: Any, *args: Any) -> Any:
    """numpy's ``scalar``: a numpy scalar from a dtype and its raw bytes."""
    if not isinstance(dtype, np.dtype):
        raise UnsafePickleError('numpy scalar needs a numpy dtype')
    return _multiarray.scalar(dtype, *args)


def _numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """numpy's ``_frombuffer`` (pickle protocol 5): an array over in-band bytes."""
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) \
            or not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError('_frombuffer is only allowed on bytes with a plain dtype')
    return _numeric._frombuffer(buf, dtype, shape, order)


#: The numpy globals of numpy's own array, dtype and scalar pickles (numpy 1 and 2).
NUMPY_GLOBALS: Dict[Tuple[str, str], Any] = {
    ('numpy.core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy._core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy.core.numeric', '_frombuffer'): _numpy_frombuffer,
    ('numpy._core.numeric', '_frombuffer'): _numpy_frombuffer,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): _numpy_dtype,
    # Python 3 writes bytes as _codecs.encode(str, 'latin1') with protocols 0-2.
    ('_codecs', 'encode'): _codecs_encode,
}

_SAFE_TYPES = (set, frozenset, dict, list, tuple, object, slice, complex)
_SAFE_TYPE_NAMES = ('set', 'frozenset', 'dict', 'list', 'tuple', 'object', 'slice', 'complex')


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` (protocols 0/1) limited to plain and inert classes."""
    from collections import OrderedDict
    allowed = _SAFE_TYPES + (OrderedDict, )
    if not (isinstance(cls, type) and (cls in allowed or issubclass(cls, InertObject))) \
            or base not in allowed:
        raise UnsafePickleError(f'copyreg._reconstructor is only allowed on plain or inert '
                                f'classes (got {cls!r}, {base!r})')
    return copyreg._reconstructor(cls, base, state)  # type: ignore[attr-defined]  # not in stubs


def _container_globals() -> Dict[Tuple[str, str], Any]:
    from collections import OrderedDict
    table: Dict[Tuple[str, str], Any] = {
        ('collections', 'OrderedDict'): OrderedDict,
        ('copyreg', '_reconstructor'): _copyreg_reconstructor,
        ('copy_reg', '_reconstructor'): _copyreg_reconstructor,  # Python 2
    }
    for name, value in zip(_SAFE_TYPE_NAMES, _SAFE_TYPES):
        table[('builtins', name)] = value
        table[('__builtin__', name)] = value  # Python 2
    return table


#: Python containers that model pickles (Python 2 and 3, protocols 0-5) name as globals.
CONTAINER_GLOBALS: Dict[Tuple[str, str], Any] = _container_globals()


# ----------------------------------------------------------------------------------
# dtype layout check
# ----------------------------------------------------------------------------------
def _canonical_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype numpy's constructor builds for ``dtype``'s description.

    The constructor checks the layout (fields inside the item, object fields not
    overlapping) and sets the flags itself, which ``dtype.__setstate__`` does not.
    """
    if dtype.names is not None:
        described = dtype.fields
        assert described is not None  # a structured dtype has fields
        fields: List[Tuple[Any, ...]] = [described[name] for name in dtype.names]
        # Any: numpy's stubs type the dict form of dtype() narrower than it is.
        spec: Any = dict(
            names=list(dtype.names), formats=[_canonical_dtype(f[0]) for f in fields],
            offsets=[f[1] for f in fields], itemsize=dtype.itemsize)
        if any(len(f) > 2 for f in fields):
            spec['titles'] = [f[2] if len(f) > 2 else None for f in fields]
        return np.dtype(spec, align=dtype.isalignedstruct)
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return np.dtype((_canonical_dtype(base), shape))
    return np.dtype(dtype.str)


def _check_dtype(dtype: np.dtype) -> None:
    try:
        canonical = _canonical_dtype(dtype)
    except (TypeError, ValueError) as err:
        raise UnsafePickleError(f'pickled dtype has an invalid layout: {err}') from err
    if canonical != dtype or canonical.itemsize != dtype.itemsize \
            or canonical.flags != dtype.flags or canonical.hasobject != dtype.hasobject:
        raise UnsafePickleError(
            f'pickled dtype state is inconsistent (itemsize {dtype.itemsize}, flags '
            f'{dtype.flags}; a dtype with this layout has itemsize {canonical.itemsize}, '
            f'flags {canonical.flags})')


# ----------------------------------------------------------------------------------
# The unpickler
# ----------------------------------------------------------------------------------
class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler that imports nothing and calls only allowed callables.

    Args:
        file (IO[bytes]): The pickle stream.
        allowed (dict): ``{(module, name): object}``: the only globals resolved;
            defaults to :data:`NUMPY_GLOBALS`.
        unknown (str): What other globals become: ``'error'`` raises
            :class:`UnsafePickleError`; ``'inert'`` gives an :class:`InertObject`
            subclass that records constructor arguments and state.
        encoding (str): Decoding of Python 2 ``str``; ``'latin1'`` reads the raw
            bytes of Python-2 numpy arrays verbatim.
    """

    dispatch: ClassVar[Dict[int, Callable[[Any], None]]] = dict(pickle._Unpickler.dispatch)
    # Internals of the pure-Python unpickler (not in its type stubs).
    stack: List[Any]
    append: Callable[[Any], None]

    def __init__(self, file: IO[bytes], allowed: Optional[Dict[Tuple[str, str], Any]] = None,
                 unknown: str = 'error', encoding: str = 'latin1') -> None:
        super().__init__(file, encoding=encoding)
        if unknown not in ('error', 'inert'):
            raise ValueError(f"unknown must be 'error' or 'inert', got {unknown!r}")
        self._allowed = NUMPY_GLOBALS if allowed is None else allowed
        self._unknown = unknown
        # Identities of everything find_class handed out: the only things callable.
        self._callables: Set[int] = set()
        self._keep: list = []  # keeps handed-out objects alive so their ids stay unique

    # -- names -------------------------------------------------------------------
    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in self._allowed:
            obj = self._allowed[key]
        elif self._unknown == 'inert':
            obj = _make_inert_class(module, name)
        else:
            raise UnsafePickleError(f'global {module}.{name} is not allowed')
        if obj is not np.ndarray:  # an argument of _reconstruct, never called itself
            self._callables.add(id(obj))
            self._keep.append(obj)
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError('persistent ids are not allowed')

    def _check_callable(self, func: Any, opcode: str) -> None:
        if id(func) not in self._callables:
            # The type only: the repr of a crafted object could be huge.
            raise UnsafePickleError(f'{opcode} may only call an allowed global, not a '
                                    f'{type(func).__name__} object')

    # -- calls -------------------------------------------------------------------
    def load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        self._check_callable(func, 'REDUCE')
        if not isinstance(args, tuple):
            raise UnsafePickleError('REDUCE arguments must be a tuple')
        stack[-1] = func(*args)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _new_instance(self, cls: Any, args: Any, kwargs: Any, opcode: str) -> Any:
        self._check_callable(cls, opcode)
        if not isinstance(cls, type):
            raise UnsafePickleError(f'{opcode} needs a class, got a {type(cls).__name__}')
        return cls.__new__(cls, *args, **kwargs)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new_instance(cls, args, {}, 'NEWOBJ'))

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new_instance(cls, args, kwargs, 'NEWOBJ_EX'))

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ
        self._check_callable(klass, 'INST/OBJ')
        self.append(klass(*args))

    # -- state -------------------------------------------------------------------
    def load_build(self) -> None:
        stack = self.stack
        state = stack.pop()
        inst = stack[-1]
        if isinstance(inst, type) or not isinstance(inst, (np.ndarray, np.dtype, InertObject)):
            raise UnsafePickleError(f'BUILD (set state) is not allowed on '
                                    f'{type(inst).__name__} objects')
        if isinstance(inst, np.dtype):
            # Validate on a scratch copy first: ``inst`` may already be in use.
            scratch = np.dtype(inst, copy=True)
            scratch.__setstate__(state)  # type: ignore[attr-defined]  # not in numpy's stubs
            _check_dtype(scratch)
            inst.__setstate__(state)  # type: ignore[attr-defined]  # not in numpy's stubs
            _check_dtype(inst)
        elif type(inst) is np.ndarray:
            inst.__setstate__(state)
        elif isinstance(inst, InertObject):
            InertObject.__setstate__(inst, state)
        else:
            raise UnsafePickleError(f'BUILD is not allowed on {type(inst).__name__}')

    dispatch[pickle.BUILD[0]] = load_build

    # -- extension registry ----------------------------------------------------------
    def _refuse_extension(self) -> None:
        raise UnsafePickleError('extension-registry opcodes (EXT1/EXT2/EXT4) are not allowed')

    for _opcode in (pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_opcode[0]] = _refuse_extension
    del _opcode


def restricted_loads(data: bytes, allowed: Optional[Dict[Tuple[str, str], Any]] = None,
                     unknown: str = 'error', encoding: str = 'latin1') -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (same arguments)."""
    return RestrictedUnpickler(io.BytesIO(data), allowed, unknown, encoding).load()


# ----------------------------------------------------------------------------------
# .npy / .npz with object arrays
# ----------------------------------------------------------------------------------
def _read_npy_header(stream: IO[bytes]) -> Tuple[tuple, bool, np.dtype]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f'unsupported .npy version {version}')


def read_npy_restricted(data: bytes) -> np.ndarray:
    """Read one ``.npy`` array; object arrays go through the restricted unpickler.

    Object arrays may hold only numpy arrays, dicts, lists, tuples, strings,
    numbers and None (the globals of :data:`NUMPY_GLOBALS`).

    Args:
        data (bytes): The whole ``.npy`` file.

    Raises:
        UnsafePickleError: the object array asks for anything else.
        ValueError: not a ``.npy`` file, or its pickle does not match its header.
    """
    stream = io.BytesIO(data)
    shape, _, dtype = _read_npy_header(stream)
    if not dtype.hasobject:
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    array = RestrictedUnpickler(stream).load()
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape) \
            or not array.dtype.hasobject:
        raise ValueError(f'the pickled object array does not match its header '
                         f'(shape {tuple(shape)}, dtype {dtype})')
    return array


def load_npz_restricted(path: str, keys: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """Arrays of an ``.npz`` like ``np.load``, with object arrays read safely.

    Args:
        path (str): The ``.npz`` file.
        keys (Iterable[str], optional): Only these members (those present).

    Returns:
        dict[str, np.ndarray]: ``{key: array}``.

    Raises:
        UnsafePickleError: an object array asks for more than plain data; the
            message names the file and the key.
    """
    wanted = None if keys is None else set(keys)
    out: Dict[str, Any] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            key = info.filename[:-len('.npy')] if info.filename.endswith('.npy') else None
            if key is None or (wanted is not None and key not in wanted):
                continue
            with zf.open(info) as stream:
                data = stream.read()
            try:
                out[key] = read_npy_restricted(data)
            except UnsafePickleError as err:
                raise UnsafePickleError(f'{path}, key {key!r}: {err}') from err
    return out

