"""Crafted SMPL ``.pkl`` files never run code, import modules or corrupt numpy.

The corpus (``tests/pickle_corpus.py``) covers GLOBAL and STACK_GLOBAL with dotted
names, REDUCE, BUILD (``__setstate__`` abuse, state on classes, forged dtypes), INST,
OBJ, NEWOBJ, NEWOBJ_EX and EXT1/2/4, at every protocol, as a whole file and spliced
into an otherwise valid model. ``test_corpus_is_live`` proves that each payload does
run under plain ``pickle.loads`` (in a subprocess), so the other tests can fail.
"""
import io
import json
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest

from mroi_plugin.body_models import BodyModelFileError
from mroi_plugin.body_models.model_io import (
    SMPL_REQUIRED_KEYS,
    ChumpyFreeUnpickler,
    load_pickle_without_chumpy,
    load_smpl_model_data,
)
from mroi_plugin.utils.safe_pickle import UnsafePickleError, restricted_loads

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from pickle_corpus import (  # noqa: E402
    CASES,
    EXTENSION_CODES,
    PROTOCOLS,
    SENTINEL,
    Py2StylePickler,
    unframed,
    whole,
)

# Cases that must be refused (UnsafePickleError); the others load inertly (the names
# they ask for become inert placeholders, never imported or called).
REFUSED = {
    'GLOBAL_dotted_eval', 'STACK_GLOBAL_dotted_eval', 'REDUCE_codecs_imports_codec',
    'BUILD_setstate_on_allowed_object', 'BUILD_on_allowed_class', 'BUILD_forged_dtype_layout',
    'REDUCE_reconstruct_foreign_subtype', 'EXT1', 'EXT2', 'EXT4'
}
FLOAT64_STATE = np.dtype('f8').__reduce__()[2]


@pytest.fixture(scope='module')
def model_halves():
    """Per protocol: a valid model pickle (with ``extra``) cut where ``extra``'s value goes."""
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from conftest import make_smpl_arrays
    arrays = make_smpl_arrays(0)
    halves = {}

    def cut(proto):
        if proto not in halves:
            buffer = io.BytesIO()
            pickler = Py2StylePickler if proto < 3 else pickle.Pickler
            pickler(buffer, protocol=proto).dump(dict(arrays, extra=SENTINEL))
            legit = unframed(buffer.getvalue())
            token = next(op for op in _string_ops(legit) if op[0] == SENTINEL)
            halves[proto] = (legit[:token[1]], legit[token[2]:])
        return halves[proto]

    return arrays, cut


def _string_ops(data):
    import pickletools
    ops = list(pickletools.genops(data))
    for (_, arg, pos), (_, _, end) in zip(ops, ops[1:]):
        if isinstance(arg, str):
            yield arg, pos, end


def _watched_modules(probe):
    return [probe, 'encodings.hz']


def _assert_no_side_effects(marker, modules_before):
    assert not marker.exists(), 'the payload ran'
    for module, was_loaded in modules_before.items():
        assert was_loaded or module not in sys.modules, f'the payload imported {module}'
    assert np.dtype('f8').__reduce__()[2] == FLOAT64_STATE, "numpy's float64 was modified"


def test_corpus_is_live(tmp_path, probe):
    """Plain pickle runs every live payload: it makes its marker or imports its module."""
    jobs = []
    for name, case in CASES.items():
        if case.live_proto is None:
            continue
        marker = tmp_path / f'marker-{name}'
        payload = tmp_path / f'{name}.pkl'
        payload.write_bytes(whole(case, case.live_proto, str(marker), probe))
        jobs.append((name, str(payload)))
    script = (
        'import copyreg, json, pickle, sys\n'
        f'sys.path.insert(0, {str(tmp_path / "probe")!r})\n'
        f'for module, name, code in {list(EXTENSION_CODES.values())!r}:\n'
        '    copyreg.add_extension(module, name, code)\n'
        f'for name, path in {jobs!r}:\n'
        '    try:\n'
        '        pickle.loads(open(path, "rb").read())\n'
        '    except Exception:\n'
        '        pass\n'
        f'print(json.dumps([m for m in {_watched_modules(probe)!r} if m in sys.modules]))\n')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120, check=True)
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(imported) == sorted(_watched_modules(probe))
    for name, _ in jobs:
        if CASES[name].creates_marker:
            assert (tmp_path / f'marker-{name}').exists(), f'{name} is not a live payload'


@pytest.mark.parametrize('proto', PROTOCOLS)
@pytest.mark.parametrize('case', sorted(CASES))
def test_crafted_whole_file_is_refused_or_inert(tmp_path, probe, extensions, case, proto):
    marker = tmp_path / 'marker'
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    path.write_bytes(whole(CASES[case], proto, str(marker), probe))
    before = {m: m in sys.modules for m in _watched_modules(probe)}
    expected = (rf'Refusing to load body model file .*{path.name}' if case in REFUSED else
                rf'{path.name} holds a \S+, expected a dict')
    with pytest.raises(BodyModelFileError, match=expected):
        load_pickle_without_chumpy(path)
    _assert_no_side_effects(marker, before)


def _in_model_case(tmp_path, probe, model_halves, case, proto):
    arrays, cut = model_halves
    marker = tmp_path / 'marker'
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    head, tail = cut(proto)
    path.write_bytes(head + CASES[case].build(proto, str(marker), probe) + tail)
    before = {m: m in sys.modules for m in _watched_modules(probe)}
    if case in REFUSED:
        with pytest.raises(BodyModelFileError,
                           match=rf'Refusing to load body model file .*{path.name}: '):
            load_smpl_model_data(path)
    else:
        data, _ = load_smpl_model_data(path)
        for key in SMPL_REQUIRED_KEYS:  # the rest of the model is read exactly
            if key != 'kintree_table':
                np.testing.assert_array_equal(data[key], arrays[key].astype(data[key].dtype))
    _assert_no_side_effects(marker, before)


@pytest.mark.parametrize('proto', PROTOCOLS)
@pytest.mark.parametrize('case', sorted(CASES))
def test_crafted_value_in_valid_model_is_refused_or_inert(tmp_path, probe, extensions,
                                                          model_halves, case, proto):
    _in_model_case(tmp_path, probe, model_halves, case, proto)


def test_extension_opcodes_bypass_find_class_once_cached(extensions):
    """Why EXT opcodes are refused outright, not just passed through find_class.

    CPython's unpickler resolves an extension code through ``find_class`` only the
    first time; afterwards it reads ``copyreg._extension_cache`` directly.
    """
    module, name, code = EXTENSION_CODES['EXT1']
    data = pickle.PROTO + b'\x02' + pickle.EXT1 + bytes([code]) + pickle.STOP
    seen = []

    class Recording(pickle.Unpickler):
        def find_class(self, mod, attr):
            seen.append((mod, attr))
            return super().find_class(mod, attr)

    import os
    assert Recording(io.BytesIO(data)).load() is os.mkdir and seen == [(module, name)]
    seen.clear()
    assert Recording(io.BytesIO(data)).load() is os.mkdir and seen == []  # cache hit
    with pytest.raises(UnsafePickleError, match='extension-registry'):
        ChumpyFreeUnpickler(io.BytesIO(data)).load()


def test_legitimate_numpy_pickles_round_trip_at_every_protocol():
    """Arrays, dtypes and scalars numpy writes itself load unchanged under the restrictions."""
    values = [
        np.arange(6.).reshape(2, 3, order='F'), np.arange(16).reshape(4, 4)[::2],
        np.array([{'a': np.ones(2)}, None, 'x'], dtype=object), np.array(['ab', 'c']),
        np.zeros(2, dtype=[('a', 'f4'), ('b', 'i8')]),
        np.zeros(2, dtype=np.dtype([('a', 'i1'), ('b', 'f8')], align=True)),
        np.array([(1, 'x')], dtype=[('a', 'i4'), ('b', 'O')]), np.zeros(2, ('f8', (3, ))),
        np.dtype('>i4'), np.float32(1.5), np.int64(-3), np.bool_(True), np.str_('x'),
        np.datetime64('2020-01-02'), np.complex64(1j), b'\x00\xff', {'k': (1, 2.5, None)}
    ]
    from mroi_plugin.utils.safe_pickle import CONTAINER_GLOBALS, NUMPY_GLOBALS
    for proto in PROTOCOLS:
        for value in values:
            data = pickle.dumps(value, protocol=proto)
            out, ref = restricted_loads(data, {**NUMPY_GLOBALS, **CONTAINER_GLOBALS}), \
                pickle.loads(data)
            assert type(out) is type(ref), (proto, value)
            if isinstance(ref, np.ndarray):
                assert out.dtype == ref.dtype and out.shape == ref.shape
                if ref.dtype.hasobject:
                    assert repr(out.tolist()) == repr(ref.tolist())
                else:
                    assert out.tobytes() == ref.tobytes()
            elif isinstance(ref, dict):
                assert out == ref
            else:
                assert out == ref, (proto, value)
