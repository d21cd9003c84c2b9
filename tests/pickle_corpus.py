"""Crafted malicious pickles, assembled from raw opcodes, for the untrusted-file tests.

Every payload, loaded by an *unrestricted* unpickler, would create a marker file
and/or import a module (``tests/test_body_models/test_untrusted_pickles.py`` checks
that in a subprocess, so that the corpus cannot silently go stale). Payloads leave
exactly one object on the stack and use no memo, so they can be spliced into a
legitimate pickle in place of one value (:func:`splice`).

pytest runs with ``--import-mode=importlib``; put ``tests/`` on ``sys.path`` first.
"""
import io
import pickle
import pickletools
from typing import Callable, Dict, NamedTuple, Optional

import numpy as np

__all__ = [
    'Py2StylePickler',
    'PROTOCOLS', 'EXTENSION_CODES', 'PROBE_SOURCE', 'Case', 'CASES', 'string', 'whole',
    'unframed', 'splice', 'SENTINEL', 'object_npy'
]

PROTOCOLS = tuple(range(pickle.HIGHEST_PROTOCOL + 1))
#: What the tests register in copyreg's extension registry for EXT1, EXT2 and EXT4
#: (``copyreg`` allows one code per global, hence three directory-making functions).
EXTENSION_CODES = {'EXT1': ('os', 'mkdir', 0xF1), 'EXT2': ('os', 'makedirs', 0x1F02),
                   'EXT4': ('posix', 'mkdir', 0x1F0004)}
#: A value spliced out of legitimate pickles.
SENTINEL = 'mroi-untrusted-sentinel-7f3a'

#: Source of the throwaway probe module: importing it, or calling what it has, is a breach.
PROBE_SOURCE = '''
def touch(path):
    open(path, 'w').close()


class Touch:
    def __new__(cls, path, **kwargs):
        open(path, 'w').close()
        return object.__new__(cls)
'''


def string(text: str, proto: int) -> bytes:
    """Push ``text`` with the string opcode a pickler of ``proto`` would use."""
    raw = text.encode('utf-8')
    if proto == 0:
        return b'V' + text.encode('raw-unicode-escape') + b'\n'
    if proto >= 4 and len(raw) < 256:
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw
    return pickle.BINUNICODE + len(raw).to_bytes(4, 'little') + raw


def _global(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f'{module}\n{name}\n'.encode()


def _stack_global(module: str, name: str, proto: int) -> bytes:
    return string(module, proto) + string(name, proto) + pickle.STACK_GLOBAL


def _call(func: bytes, proto: int, *args: str) -> bytes:
    return func + pickle.MARK + b''.join(string(a, proto) for a in args) + pickle.TUPLE \
        + pickle.REDUCE


def _int(value: int) -> bytes:
    return pickle.INT + str(value).encode() + b'\n'


_FALSE, _TRUE = pickle.INT + b'00\n', pickle.INT + b'01\n'


class Case(NamedTuple):
    """One crafted payload.

    ``build(proto, marker, probe)`` returns the payload body (no PROTO, no STOP).
    ``live_proto``: protocol under which plain ``pickle.loads`` runs the payload
    (None: the case is only a refusal check). ``imports``: a module the payload
    makes an unrestricted unpickler import (``'{probe}'`` for the probe module).
    """
    build: Callable[[int, str, str], bytes]
    live_proto: Optional[int]
    creates_marker: bool
    imports: Optional[str] = None


def _eval_code(marker: str) -> str:
    return f"__import__('os').mkdir({marker!r})"


def _setstate_abuse(cls_global: bytes) -> Callable[[int, str, str], bytes]:
    # instance.__dict__['__setstate__'] = os.mkdir; then BUILD(marker) calls it.
    def build(proto: int, marker: str, probe: str) -> bytes:
        return (cls_global + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.EMPTY_DICT
                + string('__setstate__', proto) + _global('os', 'mkdir') + pickle.SETITEM
                + pickle.BUILD + string(marker, proto) + pickle.BUILD)
    return build


def _forged_dtype(proto: int, marker: str, probe: str) -> bytes:
    # A one-field dtype whose object field lies at byte 100 of an 8-byte item.
    object_dtype = (_global('numpy', 'dtype') + pickle.MARK + string('O8', proto) + _FALSE
                    + _TRUE + pickle.TUPLE + pickle.REDUCE)
    state = (pickle.MARK + _int(3) + string('|', proto) + pickle.NONE + pickle.MARK
             + string('a', proto) + pickle.TUPLE + pickle.EMPTY_DICT + string('a', proto)
             + pickle.MARK + object_dtype + _int(100) + pickle.TUPLE + pickle.SETITEM
             + _int(8) + _int(1) + _int(27) + pickle.TUPLE)
    return (_global('numpy', 'dtype') + pickle.MARK + string('V8', proto) + _FALSE + _TRUE
            + pickle.TUPLE + pickle.REDUCE + state + pickle.BUILD)


def _shared_dtype(proto: int, marker: str, probe: str) -> bytes:
    # dtype('f8', align=False, copy=False) is numpy's process-wide float64; BUILD would
    # flip its byte order for everyone.
    return (_global('numpy', 'dtype') + pickle.MARK + string('f8', proto) + _FALSE + _FALSE
            + pickle.TUPLE + pickle.REDUCE + pickle.MARK + _int(3) + string('>', proto)
            + pickle.NONE + pickle.NONE + pickle.NONE + _int(-1) + _int(-1) + _int(0)
            + pickle.TUPLE + pickle.BUILD)


def _ext(opcode: str) -> Callable[[int, str, str], bytes]:
    code = EXTENSION_CODES[opcode][2]
    size = {'EXT1': 1, 'EXT2': 2, 'EXT4': 4}[opcode]
    op = getattr(pickle, opcode) + code.to_bytes(size, 'little')
    return lambda proto, marker, probe: _call(op, proto, marker)


CASES: Dict[str, Case] = {
    # The reported exploit: protocol >= 4 resolves dotted names attribute by attribute.
    'GLOBAL_dotted_eval': Case(
        lambda p, m, _: _call(_call(_global('numpy.dtypes', '__builtins__.get'), p, 'eval'),
                              p, _eval_code(m)), 4, True),
    'STACK_GLOBAL_dotted_eval': Case(
        lambda p, m, _: _call(_call(_stack_global('numpy.dtypes', '__builtins__.get', p), p,
                                    'eval'), p, _eval_code(m)), 4, True),
    'GLOBAL_dotted_allowed_module': Case(
        lambda p, m, _: _call(_global('numpy', 'core.multiarray.__builtins__.get'), p,
                              'eval'), None, False),
    'REDUCE_os_mkdir': Case(lambda p, m, _: _call(_global('os', 'mkdir'), p, m), 2, True),
    'REDUCE_builtins_eval': Case(
        lambda p, m, _: _call(_global('builtins', 'eval'), p, _eval_code(m)), 2, True),
    'REDUCE_py2_builtin_eval': Case(
        lambda p, m, _: _call(_global('__builtin__', 'eval'), p, _eval_code(m)), 2, True),
    'REDUCE_probe_import': Case(lambda p, m, probe: _call(_global(probe, 'touch'), p, m), 2,
                                True, '{probe}'),
    'REDUCE_codecs_imports_codec': Case(
        lambda p, m, _: _call(_global('_codecs', 'encode'), p, 'x', 'hz'), 2, False,
        'encodings.hz'),
    'INST': Case(lambda p, m, _: pickle.MARK + string(m, p) + pickle.INST + b'os\nmkdir\n', 0,
                 True),
    'OBJ': Case(lambda p, m, _: pickle.MARK + _global('os', 'mkdir') + string(m, p)
                + pickle.OBJ, 1, True),
    'NEWOBJ': Case(lambda p, m, probe: _global(probe, 'Touch') + pickle.MARK + string(m, p)
                   + pickle.TUPLE + pickle.NEWOBJ, 2, True, '{probe}'),
    'NEWOBJ_EX': Case(lambda p, m, probe: _global(probe, 'Touch') + pickle.MARK + string(m, p)
                      + pickle.TUPLE + pickle.EMPTY_DICT + pickle.NEWOBJ_EX, 4, True,
                      '{probe}'),
    'BUILD_setstate_on_inert_object': Case(
        _setstate_abuse(_global('types', 'SimpleNamespace')), 2, True),
    'BUILD_setstate_on_allowed_object': Case(
        _setstate_abuse(_global('collections', 'OrderedDict')), 2, True),
    'BUILD_on_allowed_class': Case(
        lambda p, m, _: _global('collections', 'OrderedDict') + pickle.MARK + pickle.NONE
        + pickle.EMPTY_DICT + string('__init__', p) + _global('os', 'mkdir') + pickle.SETITEM
        + pickle.TUPLE + pickle.BUILD, None, False),
    'BUILD_forged_dtype_layout': Case(_forged_dtype, None, False),
    'BUILD_shared_float64_dtype': Case(_shared_dtype, None, False),
    'REDUCE_reconstruct_foreign_subtype': Case(
        lambda p, m, _: _global('numpy._core.multiarray', '_reconstruct') + pickle.MARK
        + _global('os', 'mkdir') + pickle.MARK + _int(0) + pickle.TUPLE + string('b', p)
        + pickle.TUPLE + pickle.REDUCE, None, False),
    'EXT1': Case(_ext('EXT1'), 2, True),
    'EXT2': Case(_ext('EXT2'), 2, True),
    'EXT4': Case(_ext('EXT4'), 2, True),
}


def whole(case: Case, proto: int, marker: str, probe: str) -> bytes:
    """The payload as a complete pickle of ``proto``."""
    header = pickle.PROTO + bytes([proto]) if proto >= 2 else b''
    return header + case.build(proto, marker, probe) + pickle.STOP


def unframed(data: bytes) -> bytes:
    """``data`` without FRAME opcodes (framing is optional), so it can be edited."""
    out, last = io.BytesIO(), 0
    for op, _, pos in pickletools.genops(data):
        if op.name == 'FRAME':
            out.write(data[last:pos])
            last = pos + 9
    out.write(data[last:])
    return out.getvalue()


def splice(legit: bytes, payload_body: bytes) -> bytes:
    """``legit`` (a pickle holding :data:`SENTINEL` once) with the payload in its place."""
    legit = unframed(legit)
    ops = list(pickletools.genops(legit))
    for (_, arg, pos), (_, _, end) in zip(ops, ops[1:]):
        if arg == SENTINEL:
            return legit[:pos] + payload_body + legit[end:]
    raise AssertionError('sentinel not found')


def object_npy(pickled: bytes, shape: tuple = ()) -> bytes:
    """A ``.npy`` file of an object array of ``shape`` whose data is ``pickled``."""
    buffer = io.BytesIO()
    header = {'descr': '|O', 'fortran_order': False, 'shape': shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + pickled



class Py2StylePickler(pickle._Pickler):
    """Protocols 0-2 as SMPL's Python 2 cPickle files have them: strings and bytes as BINSTRING.

    (Python 3 would write array bytes as escaped text: slow to read back.)
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        raw = obj.encode('latin1') if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + len(raw).to_bytes(4, 'little') + raw)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str
