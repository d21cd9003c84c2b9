"""HumanData ``.npz`` files from strangers: object arrays never run code; broken caches
and archives give one clear error.

The crafted pickles are those of ``tests/pickle_corpus.py`` (proved live by
``tests/test_body_models/test_untrusted_pickles.py``), stored as the ``meta`` object
array, either as the whole member or as one value inside the ``meta`` dict.
"""
import importlib.util
import os
import os.path as osp
import pickle
import pickletools
import sys
import zipfile

import numpy as np
import pytest

from mroi_plugin.datasets import HumanDataError, HumanDataFile
from mroi_plugin.utils.safe_pickle import UnsafePickleError

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, osp.dirname(HERE))
from humandata_factory import dump_human_data, make_human_data, write_dataset  # noqa: E402
from pickle_corpus import (  # noqa: E402
    CASES,
    PROTOCOLS,
    SENTINEL,
    object_npy,
    splice,
    unframed,
    whole,
)

REPO = osp.dirname(osp.dirname(HERE))
REAL_FILE = osp.join(REPO, '..', 'shared', 'data', 'real_samples', 'pw3d_real',
                     'pw3d_real_sample.npz')
FLOAT64_STATE = np.dtype('f8').__reduce__()[2]
# Loads without error: the value it builds is a numpy dtype (data, ignored by the reader).
INERT_IN_DICT = {'BUILD_shared_float64_dtype'}


def replace_members(path, members):
    """Rewrite the ``.npz`` at ``path`` with some members' bytes replaced."""
    with zipfile.ZipFile(path) as zf:
        contents = {info.filename: zf.read(info) for info in zf.infolist()}
    contents.update(members)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)


def genders(num):
    return np.array(['m', 'f'] * (num // 2))


@pytest.mark.parametrize('layout', ['whole_member', 'in_meta_dict'])
@pytest.mark.parametrize('proto', PROTOCOLS)
@pytest.mark.parametrize('case', sorted(CASES))
def test_crafted_object_array_is_refused_or_inert(tmp_path, probe, extensions, case, proto,
                                                  layout):
    path = dump_human_data(str(tmp_path / 'ann.npz'), make_human_data(4))
    marker = tmp_path / 'marker'
    body = CASES[case].build(proto, str(marker), probe)
    if layout == 'whole_member':
        pickled = whole(CASES[case], proto, str(marker), probe)
    else:
        meta = np.array({'gender': genders(4), 'extra': SENTINEL}, dtype=object)
        pickled = splice(pickle.dumps(meta, protocol=proto), body)
    replace_members(path, {'meta.npy': object_npy(pickled)})
    before = {m: m in sys.modules for m in (probe, 'encodings.hz')}

    if layout == 'in_meta_dict' and case in INERT_IN_DICT:
        hd = HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
        assert hd.get('meta.gender', 1) == 'f' and 'meta.extra' in hd.ignored_keys
    else:
        with pytest.raises(HumanDataError, match=r"ann\.npz', key 'meta': (refusing to "
                                                 r'unpickle|cannot read) this object array'):
            HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
        assert not os.listdir(tmp_path / 'cache'), 'a refused file must leave no cache behind'

    assert not marker.exists(), 'the payload ran'
    for module, was_loaded in before.items():
        assert was_loaded or module not in sys.modules, f'the payload imported {module}'
    assert np.dtype('f8').__reduce__()[2] == FLOAT64_STATE, "numpy's float64 was modified"


def test_refusal_names_the_global_and_in_memory_mode_refuses_too(tmp_path, probe):
    path = dump_human_data(str(tmp_path / 'ann.npz'), make_human_data(4))
    marker = tmp_path / 'marker'
    replace_members(path, {'smpl.npy': object_npy(
        whole(CASES['REDUCE_os_mkdir'], 4, str(marker), probe))})
    with pytest.raises(HumanDataError, match=r"key 'smpl': refusing .*global os\.mkdir is not "
                                             r'allowed.*only numpy arrays, dicts'):
        HumanDataFile(path, mmap=False)
    assert not marker.exists()


def as_numpy1(pickled):
    """``pickled`` naming ``numpy.core`` where numpy 2 wrote ``numpy._core``."""
    data = unframed(pickled)
    ops = list(pickletools.genops(data))
    out, last = [], 0
    for (op, arg, pos), (_, _, end) in zip(ops, ops[1:]):
        if isinstance(arg, str) and arg.startswith('numpy._core'):
            new = arg.replace('numpy._core', 'numpy.core')
            if op.name == 'GLOBAL':
                new_op = pickle.GLOBAL + new.replace(' ', '\n').encode() + b'\n'
            else:
                raw = new.encode()
                new_op = pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw
            out += [data[last:pos], new_op]
            last = end
    return b''.join(out) + data[last:]


@pytest.mark.parametrize('proto', [2, 3, 4])
def test_numpy1_style_object_arrays_still_load(tmp_path, proto):
    """MMHuman3D files written by numpy 1.x name ``numpy.core`` (not ``numpy._core``)."""
    data = make_human_data(6, camera='focal_length')
    path = dump_human_data(str(tmp_path / 'ann.npz'), data)
    members = {}
    for key in ('smpl', 'meta', 'cam_param'):
        pickled = pickle.dumps(np.array(data[key], dtype=object), protocol=proto)
        numpy1 = as_numpy1(pickled)
        assert b'numpy._core' in pickled and b'numpy._core' not in numpy1
        members[f'{key}.npy'] = object_npy(numpy1)
    replace_members(path, members)
    for mmap in (True, False):
        hd = HumanDataFile(path, cache_dir=str(tmp_path / 'cache'), mmap=mmap)
        for key in ('smpl', 'meta', 'cam_param'):
            for sub_key, value in data[key].items():
                np.testing.assert_array_equal(hd.array(f'{key}.{sub_key}'), value)


@pytest.mark.skipif(not osp.isfile(REAL_FILE), reason='real 3DPW sample not available')
def test_real_pw3d_object_arrays_match_trusted_numpy_load(tmp_path):
    hd = HumanDataFile(REAL_FILE, cache_dir=str(tmp_path))
    with np.load(REAL_FILE, allow_pickle=True) as trusted:  # our own copy: trusted
        for key in ('smpl', 'meta'):
            for sub_key, value in trusted[key].item().items():
                np.testing.assert_array_equal(hd.array(f'{key}.{sub_key}'), value)


def _cached_file(hd, key):
    return osp.join(hd.cache_path, f'{key}.npy')


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'header'])
def test_truncated_cache_array_names_cache_and_can_be_deleted(tmp_path, damage):
    path = dump_human_data(str(tmp_path / 'ann.npz'), make_human_data(6))
    first = HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    expected = np.array(first.array('keypoints2d'))
    cached = _cached_file(first, 'keypoints2d')
    size = osp.getsize(cached)
    with open(cached, 'r+b') as f:
        f.truncate({'truncated': size - 100, 'empty': 0, 'header': 20}[damage])
    with pytest.raises(HumanDataError, match=rf"cache file '{cached}' \(key 'keypoints2d'\) is "
                                             r'unreadable.*can be deleted: remove the directory '
                                             rf"'{first.cache_path}'"):
        HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    import shutil
    shutil.rmtree(first.cache_path)  # what the message says to do
    again = HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    np.testing.assert_array_equal(again.array('keypoints2d'), expected)


def test_corrupt_manifest_or_missing_manifest_names_cache(tmp_path):
    path = dump_human_data(str(tmp_path / 'ann.npz'), make_human_data(6))
    first = HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    manifest = osp.join(first.cache_path, 'manifest.json')
    with open(manifest, 'r+') as f:
        f.truncate(10)
    with pytest.raises(HumanDataError, match=r'manifest\.json.*unreadable.*can be deleted'):
        HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    os.remove(manifest)
    with pytest.raises(HumanDataError, match=rf"cache directory '{first.cache_path}' \(it has "
                                             r'no manifest\.json\).*can be deleted'):
        HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    assert sorted(os.listdir(tmp_path / 'cache')) == [osp.basename(first.cache_path)]


def test_truncated_source_archive_is_named(tmp_path):
    path = dump_human_data(str(tmp_path / 'ann.npz'), make_human_data(200))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo('keypoints2d.npy')
    with open(path, 'r+b') as f:  # flip bytes inside the compressed keypoints
        f.seek(info.header_offset + 200)
        f.write(b'\xff' * 64)
    with pytest.raises(HumanDataError, match=r"ann\.npz' cannot be read .*truncated or corrupt"):
        HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    assert not os.listdir(tmp_path / 'cache')


def _contact_sheet_module():
    spec = importlib.util.spec_from_file_location(
        'make_contact_sheet', osp.join(REPO, 'tools', 'make_contact_sheet.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contact_sheet_tool_reads_untrusted_npz_safely(tmp_path, probe):
    tool = _contact_sheet_module()
    ann, _ = write_dataset(str(tmp_path), num_samples=2)
    sheet = tool.make_contact_sheet(ann, num=2, cols=2, tile_width=32)
    assert sheet.ndim == 3 and sheet.shape[1] == 64 and sheet.max() > 0
    marker = tmp_path / 'marker'
    replace_members(ann, {'bbox_xywh.npy': object_npy(
        whole(CASES['REDUCE_probe_import'], 4, str(marker), probe), shape=(2, ))})
    with pytest.raises(UnsafePickleError, match=rf"key 'bbox_xywh'.*{probe}\.touch"):
        tool.make_contact_sheet(ann, num=2, cols=2, tile_width=32)
    assert not marker.exists() and probe not in sys.modules
