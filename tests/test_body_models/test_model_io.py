"""Chumpy-free loading of SMPL files, .npz/.pkl parity, and one clear error per bad input."""
import contextlib
import io
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from mroi_plugin.body_models import SMPL, BodyModelFileError
from mroi_plugin.body_models.model_io import (
    ChumpyFreeUnpickler,
    load_joint_regressor,
    load_pickle_without_chumpy,
    load_smpl_model_data,
    resolve_smpl_model_file,
)
from tests.pickle_corpus import Py2StylePickler

CHUMPY_MODULES = ('chumpy', 'chumpy.ch', 'chumpy.ch_ops', 'chumpy.reordering')


@contextlib.contextmanager
def fake_chumpy():
    """Throwaway ``chumpy`` modules, present only while a pickle is being *written*.

    The classes pickle like chumpy's: by module/class name, with their ``__dict__`` (the
    value of a ``Ch`` under ``x``, the operands of an operation) as state.
    """
    assert not any(name in sys.modules for name in CHUMPY_MODULES), 'a real chumpy is loaded'
    modules = {name: types.ModuleType(name) for name in CHUMPY_MODULES}

    def make(module: str, name: str, fields):
        def __init__(self, **kwargs):
            assert set(kwargs) == set(fields)
            self.__dict__.update(kwargs)
            self._dirty_vars = set()  # chumpy bookkeeping that also lands in the pickle

        cls = type(name, (object, ), {'__init__': __init__, '__module__': module})
        setattr(modules[module], name, cls)
        return cls

    classes = types.SimpleNamespace(
        Ch=make('chumpy.ch', 'Ch', ['x']),
        add=make('chumpy.ch_ops', 'add', ['a', 'b']),
        multiply=make('chumpy.ch_ops', 'multiply', ['a', 'b']),
        Select=make('chumpy.reordering', 'Select', ['a', 'idxs', 'preferred_shape']),
        Reshape=make('chumpy.reordering', 'Reshape', ['a', 'newshape']),
        MysteryOp=make('chumpy.ch_ops', 'MysteryOp', ['a']))
    sys.modules.update(modules)
    try:
        yield classes
    finally:
        for name in CHUMPY_MODULES:
            sys.modules.pop(name, None)


def chumpy_model(arrays, ch):
    """The model of ``arrays`` with chumpy objects and a sparse regressor, like the real files."""
    sparse = pytest.importorskip('scipy.sparse')
    shapedirs = arrays['shapedirs']
    half = arrays['posedirs'] / 2
    return {
        'v_template': ch.Ch(x=arrays['v_template']),
        'shapedirs': ch.Select(a=ch.Ch(x=shapedirs.ravel()), idxs=np.arange(shapedirs.size),
                               preferred_shape=shapedirs.shape),
        'posedirs': ch.add(a=ch.Ch(x=half), b=ch.multiply(a=ch.Ch(x=half), b=ch.Ch(x=1.0))),
        'weights': ch.Reshape(a=ch.Ch(x=arrays['weights'].ravel()),
                              newshape=arrays['weights'].shape),
        'J_regressor': sparse.csc_matrix(arrays['J_regressor']),
        'J_regressor_prior': sparse.csr_matrix(arrays['J_regressor']),
        'kintree_table': arrays['kintree_table'],
        'f': arrays['f'],
        'J': ch.Ch(x=arrays['J_regressor'] @ arrays['v_template']),
        'bs_style': 'lbs',
        'pose_training_info': {'num_subjects': 1},
    }


def write_py2_chumpy_pickle(path: Path, arrays) -> Path:
    with fake_chumpy() as ch:
        buffer = io.BytesIO()
        Py2StylePickler(buffer, protocol=2).dump(chumpy_model(arrays, ch))
    # Python 2 numpy pickled its arrays from numpy.core.
    path.write_bytes(buffer.getvalue().replace(b'cnumpy._core.', b'cnumpy.core.'))
    return path


def forward(model: SMPL):
    gen = torch.Generator().manual_seed(0)
    return model(torch.randn(2, 10, generator=gen), 0.3 * torch.randn(2, 69, generator=gen),
                 torch.randn(2, 3, generator=gen), torch.randn(2, 3, generator=gen))


def test_python2_chumpy_pickle_loads_without_chumpy(tmp_path, smpl_arrays):
    path = write_py2_chumpy_pickle(tmp_path / 'SMPL_NEUTRAL.pkl', smpl_arrays)
    assert 'chumpy' not in sys.modules
    with pytest.raises(ModuleNotFoundError, match='chumpy'):  # plain pickle needs chumpy
        pickle.loads(path.read_bytes())
    with open(path, 'rb') as f, pytest.raises(UnicodeDecodeError):  # a Python 2 pickle
        ChumpyFreeUnpickler(f).load()
    raw = load_pickle_without_chumpy(path)
    for key in ('v_template', 'shapedirs', 'posedirs', 'weights', 'J_regressor', 'f'):
        np.testing.assert_allclose(raw[key], smpl_arrays[key], rtol=0, atol=1e-15, err_msg=key)
    np.testing.assert_array_equal(raw['J_regressor_prior'], smpl_arrays['J_regressor'])
    assert raw['bs_style'] == 'lbs' and raw['pose_training_info'] == {'num_subjects': 1}
    assert 'chumpy' not in sys.modules

    data, used = load_smpl_model_data(tmp_path)
    assert used == str(path) and data['kintree_table'][0, 0] == -1
    expected = forward(SMPL(write_plain(tmp_path / 'plain.pkl', smpl_arrays)))
    for key, value in forward(SMPL(path)).items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)


@pytest.mark.parametrize('protocol', [0, 1])
def test_python2_text_protocol_pickle_loads_without_chumpy(tmp_path, smpl_arrays, protocol):
    """Protocols 0/1 name ``copy_reg._reconstructor`` and ``__builtin__.set`` (Python 2)."""
    with fake_chumpy() as ch:
        buffer = io.BytesIO()
        Py2StylePickler(buffer, protocol=protocol).dump(chumpy_model(smpl_arrays, ch))
    # pickle's fix_imports already writes the Python 2 module names; numpy's we rename.
    data = buffer.getvalue().replace(b'cnumpy._core.', b'cnumpy.core.')
    for py2_global in (b'c__builtin__\nset\n', b'ccopy_reg\n_reconstructor\n',
                       b'cnumpy.core.multiarray\n_reconstruct\n'):
        assert py2_global in data
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    path.write_bytes(data)
    raw = load_pickle_without_chumpy(path)
    for key in ('v_template', 'shapedirs', 'posedirs', 'weights', 'J_regressor', 'f'):
        np.testing.assert_allclose(raw[key], smpl_arrays[key], rtol=0, atol=1e-15, err_msg=key)
    assert raw['bs_style'] == 'lbs' and '__unreadable__' not in raw
    assert 'chumpy' not in sys.modules


def write_plain(path, arrays):
    with open(path, 'wb') as f:
        pickle.dump(arrays, f, protocol=2)
    return path


def test_npz_and_pkl_give_the_same_model(tmp_path, smpl_arrays, write):
    npz = SMPL(write(tmp_path / 'a' / 'SMPL_NEUTRAL.npz', smpl_arrays))
    pkl = SMPL(write(tmp_path / 'b' / 'SMPL_NEUTRAL.pkl', smpl_arrays))
    out_npz, out_pkl = forward(npz), forward(pkl)
    for key in out_pkl:
        torch.testing.assert_close(out_npz[key], out_pkl[key], rtol=0, atol=0)
    np.testing.assert_array_equal(npz.faces, pkl.faces)


def test_sparse_formats_are_densified_without_scipy_classes(tmp_path):
    sparse = pytest.importorskip('scipy.sparse')
    dense = np.zeros((4, 7))
    dense[0, 3], dense[2, 6], dense[3, 0] = 1.5, -2., 0.25
    path = tmp_path / 'sparse.pkl'
    with open(path, 'wb') as f:
        pickle.dump({fmt: getattr(sparse, f'{fmt}_matrix')(dense) for fmt in ('csc', 'csr', 'coo')},
                    f)
    loaded = load_pickle_without_chumpy(path)
    for fmt in ('csc', 'csr', 'coo'):
        assert type(loaded[fmt]) is np.ndarray
        np.testing.assert_array_equal(loaded[fmt], dense)


class _Exploit:
    """An object whose unpickling would create a directory."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.mkdir, (self.target, )


def test_pickled_code_is_never_executed(tmp_path, smpl_arrays):
    target = tmp_path / 'pwned'
    arrays = dict(smpl_arrays, extra=_Exploit(str(target)))
    path = write_plain(tmp_path / 'SMPL_NEUTRAL.pkl', arrays)
    data, _ = load_smpl_model_data(path)
    assert not target.exists()
    assert set(data) == {'v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights',
                         'kintree_table', 'f'}


def test_unsupported_chumpy_op_on_required_key_is_named(tmp_path, smpl_arrays):
    with fake_chumpy() as ch:
        arrays = dict(smpl_arrays, posedirs=ch.MysteryOp(a=ch.Ch(x=smpl_arrays['posedirs'])))
        path = write_plain(tmp_path / 'SMPL_MALE.pkl', arrays)
    with pytest.raises(BodyModelFileError,
                       match=r"SMPL_MALE\.pkl lacks the keys \['posedirs'\].*chumpy.ch_ops"
                             r'.MysteryOp'):
        load_smpl_model_data(path)


def test_cyclic_or_huge_placeholder_values_are_unreadable_not_crashes(tmp_path, smpl_arrays):
    # v_template = Ch(x=<itself>); J_regressor = a 10**9 x 10**9 csc_matrix without its data.
    cyclic = (pickle.GLOBAL + b'chumpy.ch\nCh\n' + pickle.EMPTY_TUPLE + pickle.NEWOBJ
              + pickle.BINPUT + b'\x00' + pickle.EMPTY_DICT + pickle.SHORT_BINUNICODE + b'\x01x'
              + pickle.BINGET + b'\x00' + pickle.SETITEM + pickle.BUILD)
    huge = (pickle.GLOBAL + b'scipy.sparse._csc\ncsc_matrix\n' + pickle.EMPTY_TUPLE
            + pickle.NEWOBJ + pickle.EMPTY_DICT + pickle.SHORT_BINUNICODE + b'\x06_shape'
            + pickle.BININT + (10**9).to_bytes(4, 'little') + pickle.BININT
            + (10**9).to_bytes(4, 'little') + pickle.TUPLE2 + pickle.SETITEM + pickle.BUILD)
    rest = {k: v for k, v in smpl_arrays.items() if k not in ('v_template', 'J_regressor')}
    body = pickle.dumps(rest, protocol=2)[:-1]  # the dict stays on the stack
    data = (body + pickle.SHORT_BINUNICODE + b'\x0av_template' + cyclic + pickle.SETITEM
            + pickle.SHORT_BINUNICODE + b'\x0bJ_regressor' + huge + pickle.SETITEM + pickle.STOP)
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    path.write_bytes(data)
    with pytest.raises(BodyModelFileError,
                       match=r"lacks the keys \['v_template', 'J_regressor'\]; 'v_template' "
                             r"could not be read: RecursionError.*; 'J_regressor' could not be "
                             r'read: \w+Error'):
        load_smpl_model_data(path)


def test_resolve_picks_gender_and_prefers_pkl(tmp_path, smpl_arrays, write):
    write(tmp_path / 'SMPL_MALE.npz', smpl_arrays)
    write(tmp_path / 'SMPL_FEMALE.npz', smpl_arrays)
    write(tmp_path / 'SMPL_FEMALE.pkl', smpl_arrays)
    assert resolve_smpl_model_file(tmp_path, 'male') == str(tmp_path / 'SMPL_MALE.npz')
    assert resolve_smpl_model_file(tmp_path, 'female') == str(tmp_path / 'SMPL_FEMALE.pkl')
    with pytest.raises(FileNotFoundError,
                       match=r"gender 'neutral'.*SMPL_NEUTRAL\.pkl', 'SMPL_NEUTRAL\.npz'.*"
                             r'SMPL_FEMALE\.npz'):
        resolve_smpl_model_file(tmp_path, 'neutral')
    with pytest.raises(ValueError, match="Unknown SMPL gender 'other'"):
        resolve_smpl_model_file(tmp_path, 'other')
    with pytest.raises(FileNotFoundError, match='missing.pkl'):
        SMPL(tmp_path / 'missing.pkl')
    (tmp_path / 'model.txt').write_text('x')
    with pytest.raises(ValueError, match=r'model\.txt must end in \.pkl or \.npz'):
        SMPL(tmp_path / 'model.txt')


def _drop(key):
    return lambda a: {k: v for k, v in a.items() if k != key}


def _set(key, value_fn):
    return lambda a: dict(a, **{key: value_fn(a)})


BAD_MODELS = {
    'missing_key': (_drop('weights'), r"lacks the keys \['weights'\]"),
    'few_vertices': (_set('v_template', lambda a: a['v_template'][:6000]),
                     r"'v_template' has shape \(6000, 3\).*6890 vertices"),
    'mismatched_weights': (_set('weights', lambda a: a['weights'][:6000]),
                           r"'weights' has shape \(6000, 24\), expected \(6890, 24\)"),
    'posedirs_shape': (_set('posedirs', lambda a: a['posedirs'][..., :200]),
                       r"'posedirs' has shape \(6890, 3, 200\), expected \(6890, 3, 207\)"),
    'regressor_joints': (_set('J_regressor', lambda a: a['J_regressor'][:23]),
                         r"'J_regressor' has shape \(23, 6890\)"),
    'face_index': (_set('f', lambda a: np.full((2, 3), 7000)), r"'f' \(faces\) indexes vertices"),
    'kintree': (_set('kintree_table', lambda a: np.stack([np.arange(24)[::-1], np.arange(24)])),
                r"'kintree_table' row 0"),
    'nan': (_set('shapedirs', lambda a: np.full_like(a['shapedirs'], np.nan)),
            r"'shapedirs' contains NaN"),
    'text': (_set('v_template', lambda a: 'not an array'), r"'v_template' is not a numeric array"),
}


# (an .npz cannot hold a bare string; its object-array case is tested separately)
@pytest.mark.parametrize('case,suffix', [(c, s) for c in sorted(BAD_MODELS)
                                         for s in ('.pkl', '.npz') if (c, s) != ('text', '.npz')])
def test_bad_model_raises_naming_file_and_key(tmp_path, smpl_arrays, write, case, suffix):
    corrupt, message = BAD_MODELS[case]
    path = write(tmp_path / f'SMPL_NEUTRAL{suffix}', corrupt(smpl_arrays))
    with pytest.raises(BodyModelFileError, match=rf'{path.name}.*{message}'):
        SMPL(tmp_path)


@pytest.mark.parametrize('suffix', ['.pkl', '.npz'])
def test_corrupt_or_foreign_file_raises_naming_file(tmp_path, suffix):
    path = tmp_path / f'SMPL_NEUTRAL{suffix}'
    path.write_bytes(b'\x80\x02this is not a model' * 10)
    with pytest.raises(BodyModelFileError, match=rf'Cannot read body model file .*{path.name}'):
        SMPL(path)


def test_non_dict_pickle_and_object_npz_are_rejected(tmp_path):
    pkl = tmp_path / 'list.pkl'
    pkl.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(BodyModelFileError, match=r'list\.pkl holds a list, expected a dict'):
        SMPL(pkl)
    npz = tmp_path / 'objects.npz'
    np.savez(npz, J_regressor=np.array([{'sparse': True}], dtype=object))
    with pytest.raises(BodyModelFileError, match=r'objects\.npz.*Object arrays'):
        SMPL(npz)


def test_joint_regressor_loading_and_errors(tmp_path):
    regressor = np.random.default_rng(0).random((17, 6890))
    np.save(tmp_path / 'ok.npy', regressor)
    np.testing.assert_array_equal(load_joint_regressor(tmp_path / 'ok.npy', num_joints=17),
                                  regressor)
    np.save(tmp_path / 'cols.npy', regressor[:, :100])
    with pytest.raises(BodyModelFileError, match=r'cols\.npy has shape \(17, 100\), expected '
                                                 r'\(J, 6890\)'):
        load_joint_regressor(tmp_path / 'cols.npy')
    np.save(tmp_path / 'nan.npy', np.full((2, 6890), np.nan))
    with pytest.raises(BodyModelFileError, match=r'nan\.npy contains NaN'):
        load_joint_regressor(tmp_path / 'nan.npy')
    (tmp_path / 'junk.npy').write_bytes(b'junk')
    with pytest.raises(BodyModelFileError, match=r'Cannot read joint regressor .*junk\.npy'):
        load_joint_regressor(tmp_path / 'junk.npy')
    with pytest.raises(FileNotFoundError, match=r'absent\.npy'):
        load_joint_regressor(tmp_path / 'absent.npy')
