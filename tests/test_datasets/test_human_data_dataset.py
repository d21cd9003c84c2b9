"""HumanDataDataset / HumanDataFile: fields, laziness, intrinsics, bad input."""
import os
import os.path as osp
import pickle
import sys
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mroi_plugin.datasets import (
    BadSampleError,
    HumanDataDataset,
    HumanDataError,
    HumanDataFile,
    ImageLoadError,
    LoadImage,
)
from mroi_plugin.registry import DATASETS

# pytest runs with --import-mode=importlib: put the shared helper on the path.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from humandata_factory import (  # noqa: E402
    HUMAN_DATA_NUM_JOINTS,
    IMAGE_SIZE,
    dump_human_data,
    make_human_data,
    write_dataset,
    write_images,
)

# Facts of MMHuman3D's 'human_data' convention (keypoints_mapping/human_data.py):
# its first 22 joints are SMPL's first 22 in SMPL's order; SMPL's two hand joints
# ('left_hand', 'right_hand') are its last two; COCO's nose is joint 55 and
# COCO's hips are the '*_hip_extra' joints 145 (left) and 144 (right).
SMPL_24_IN_HUMAN_DATA = list(range(22)) + [188, 189]
COCO_NOSE, COCO_LEFT_HIP = 55, 145
COCO_17_NOSE_INDEX, COCO_17_RIGHT_EYE_INDEX, COCO_17_LEFT_HIP_INDEX = 0, 2, 11
GENDER_NAMES = {'m': 'male', 'f': 'female'}

REAL_ROOT = '/work/shared/data/real_samples/pw3d_real'
REAL_FILE = 'pw3d_real_sample.npz'


def _as_list(batch):
    return batch


def _dataset(path, **kwargs):
    return HumanDataDataset(ann_file=osp.basename(path), data_root=osp.dirname(path), **kwargs)


def _expected_keypoints(full, src_joints, convention_size):
    """Pick ``src_joints`` of ``full`` (J, C); joints -1 are absent (zeros)."""
    out = np.zeros((convention_size, full.shape[-1]), dtype=np.float32)
    for dst, src in enumerate(src_joints):
        if src >= 0:
            out[dst] = full[src]
    return out


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize('compress', [False, True])
def test_every_field_matches_what_was_written(tmp_path, compress):
    path, data = write_dataset(str(tmp_path), compress=compress)
    ds = _dataset(path, data_prefix=dict(img='imgs_root'))
    assert len(ds) == 6
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['img_path'] == osp.join(str(tmp_path), 'imgs_root', data['image_path'][i])
        x, y, w, h, _ = np.asarray(data['bbox_xywh'][i], np.float64)
        # The person box only: padding and aspect are the pipeline's (GetBBoxCenterScale).
        np.testing.assert_array_equal(info['bbox_xyxy'], [x, y, x + w, y + h])
        assert info['bbox_xyxy'].dtype == np.float64
        assert info['focal_length'] is None and info['principal_point'] is None
        kp2d = _expected_keypoints(data['keypoints2d'][i], SMPL_24_IN_HUMAN_DATA, 24)
        np.testing.assert_array_equal(info['keypoints2d'], kp2d)
        assert info['keypoints2d'].dtype == np.float32 and info['keypoints2d'].shape == (24, 3)
        kp3d = _expected_keypoints(data['keypoints3d'][i], SMPL_24_IN_HUMAN_DATA, 24)
        np.testing.assert_array_equal(info['keypoints3d'], kp3d)
        smpl = data['smpl']
        np.testing.assert_array_equal(info['smpl_global_orient'], smpl['global_orient'][i])
        np.testing.assert_array_equal(info['smpl_body_pose'], smpl['body_pose'][i])
        np.testing.assert_array_equal(info['smpl_betas'], smpl['betas'][i])
        np.testing.assert_array_equal(info['smpl_transl'], smpl['transl'][i])
        assert info['has_keypoints2d'] == float((kp2d[:, 2] > 0).any())
        assert info['has_keypoints3d'] == 1.0
        assert info['has_smpl'] == 1.0 and info['has_transl'] == 1.0
        assert info['gender'] == GENDER_NAMES[data['meta']['gender'][i]]
        assert info['sample_idx'] == i and info['dataset_name'] == 'synthetic_test'
    assert ds.get_data_info(-1)['sample_idx'] == len(ds) - 1


def test_results_dict_has_exactly_the_documented_keys(tmp_path):
    path, _ = write_dataset(str(tmp_path))
    info = _dataset(path).get_data_info(0)
    assert set(info) == {
        'img_path', 'bbox_xyxy', 'focal_length', 'principal_point', 'keypoints2d',
        'keypoints3d', 'smpl_global_orient', 'smpl_body_pose', 'smpl_betas', 'smpl_transl',
        'has_keypoints2d', 'has_keypoints3d', 'has_smpl', 'has_transl', 'gender', 'sample_idx',
        'dataset_name'
    }


def test_compressed_file_is_decompressed_to_190_joints_with_zeros(tmp_path):
    data = make_human_data(num_samples=3)
    path = dump_human_data(str(tmp_path / 'c.npz'), data, compress=True)
    with np.load(path, allow_pickle=True) as raw:  # the file really is compressed
        assert raw['keypoints2d'].shape == (3, int(data['keypoints2d_mask'].sum()), 3)
        assert bool(raw['__keypoints_compressed__'])
    hd = HumanDataFile(path, cache_dir=str(tmp_path / 'cache'))
    assert hd.keypoints_compressed
    for i in range(3):
        full = hd.keypoints('keypoints2d', i)
        assert full.shape == (HUMAN_DATA_NUM_JOINTS, 3)
        np.testing.assert_array_equal(full, data['keypoints2d'][i])
        np.testing.assert_array_equal(hd.keypoints('keypoints3d', i), data['keypoints3d'][i])


def test_keypoint_mask_multiplies_confidence(tmp_path):
    data = make_human_data(num_samples=2)
    data['keypoints2d'][:, :, 2] = 1.0  # labelled everywhere, but...
    data['keypoints2d_mask'][3] = 0  # ...the file says joint 3 (spine_1) is not annotated
    path = dump_human_data(str(tmp_path / 'm.npz'), data, compress=False)
    info = _dataset(path).get_data_info(0)
    assert info['keypoints2d'][3, 2] == 0.0
    np.testing.assert_array_equal(info['keypoints2d'][3, :2], data['keypoints2d'][0, 3, :2])
    assert info['keypoints2d'][0, 2] == 1.0


def test_conversion_is_by_name_for_another_convention(tmp_path):
    path, data = write_dataset(str(tmp_path), images=False)
    plain = _dataset(path, keypoint_convention='coco_17')
    info = plain.get_data_info(0)
    assert info['keypoints2d'].shape == (17, 3)
    np.testing.assert_array_equal(info['keypoints2d'][COCO_17_NOSE_INDEX],
                                  data['keypoints2d'][0, COCO_NOSE])
    np.testing.assert_array_equal(info['keypoints2d'][COCO_17_LEFT_HIP_INDEX],
                                  data['keypoints2d'][0, COCO_LEFT_HIP])
    # coco_17's right_eye (human_data 56) has mask 0 in this file: all zero.
    assert (info['keypoints2d'][COCO_17_RIGHT_EYE_INDEX] == 0).all()
    assert plain.metainfo['num_keypoints'] == 17


def test_keypoints_stored_in_another_convention(tmp_path):
    rng = np.random.default_rng(0)
    data = make_human_data(num_samples=2)
    data['keypoints2d'] = rng.uniform(1, 40, size=(2, 17, 3)).astype(np.float32)
    data['keypoints2d_mask'] = np.ones(17)
    path = dump_human_data(str(tmp_path / 'coco.npz'), data, keypoints2d_convention='coco_17',
                           keypoints3d=None, keypoints3d_mask=None)
    info = _dataset(path).get_data_info(1)
    # coco_17 -> smpl_24 by name: only the exact names shared by both survive
    # (shoulders 5, 6 / elbows 7, 8 / wrists 9, 10 / knees 13, 14 / ankles 15, 16).
    smpl_from_coco = {16: 5, 17: 6, 18: 7, 19: 8, 20: 9, 21: 10, 4: 13, 5: 14, 7: 15, 8: 16}
    for j in range(24):
        expected = data['keypoints2d'][1, smpl_from_coco[j]] if j in smpl_from_coco else 0
        np.testing.assert_array_equal(info['keypoints2d'][j], expected)


def test_non_finite_keypoints_become_unlabelled(tmp_path):
    data = make_human_data(num_samples=2)
    data['keypoints2d'][0, 1] = [np.nan, 3.0, 1.0]
    path = dump_human_data(str(tmp_path / 'nan.npz'), data)
    info = _dataset(path).get_data_info(0)
    np.testing.assert_array_equal(info['keypoints2d'][1], [0, 0, 0])
    assert np.isfinite(info['keypoints2d']).all()


def test_body_pose_as_69_values_and_extra_betas(tmp_path):
    data = make_human_data(num_samples=2, transl=False)
    pose = data['smpl']['body_pose']
    data['smpl'] = dict(data['smpl'], body_pose=pose.reshape(2, 69),
                        betas=np.concatenate([data['smpl']['betas'], np.ones((2, 6))], 1))
    path = dump_human_data(str(tmp_path / 'p.npz'), data)
    info = _dataset(path).get_data_info(1)
    np.testing.assert_array_equal(info['smpl_body_pose'], pose[1])
    assert info['smpl_betas'].shape == (10, )
    assert info['has_smpl'] == 1.0 and info['has_transl'] == 0.0
    np.testing.assert_array_equal(info['smpl_transl'], np.zeros(3))


# ---------------------------------------------------------------------------- flags
def test_availability_flags(tmp_path):
    data = make_human_data(num_samples=4, keypoints3d=False, genders=['m', 'x', 'f', 'n'])
    data['keypoints2d'][2, :, 2] = 0  # sample 2: no labelled 2D joint
    data['smpl']['betas'][1, 0] = np.nan  # sample 1: broken SMPL fit
    data['smpl']['transl'][3, 2] = np.inf  # sample 3: SMPL fine, translation unusable
    has_smpl = np.array([1, 1, 1, 0])  # ...and the file flags sample 3's fit off anyway
    path = dump_human_data(str(tmp_path / 'f.npz'), data, has_smpl=has_smpl)
    ds = _dataset(path)
    infos = [ds.get_data_info(i) for i in range(4)]
    assert [x['has_keypoints2d'] for x in infos] == [1.0, 1.0, 0.0, 1.0]
    assert [x['has_keypoints3d'] for x in infos] == [0.0] * 4
    assert all((x['keypoints3d'] == 0).all() and x['keypoints3d'].shape == (24, 4) for x in infos)
    assert [x['has_smpl'] for x in infos] == [1.0, 0.0, 1.0, 0.0]
    assert [x['has_transl'] for x in infos] == [1.0, 0.0, 1.0, 0.0]
    for x in (infos[1], infos[3]):  # never a NaN towards a loss
        for key in ('smpl_global_orient', 'smpl_body_pose', 'smpl_betas', 'smpl_transl'):
            assert (x[key] == 0).all()
    assert [x['gender'] for x in infos] == ['male', 'neutral', 'female', 'neutral']


def test_file_without_smpl_and_gender(tmp_path):
    data = make_human_data(num_samples=2, smpl=False)
    path = dump_human_data(str(tmp_path / 's.npz'), data, meta=None)
    info = _dataset(path).get_data_info(0)
    assert info['has_smpl'] == 0.0 and info['has_transl'] == 0.0
    assert info['smpl_body_pose'].shape == (23, 3) and (info['smpl_body_pose'] == 0).all()
    assert info['gender'] == 'neutral'


# ------------------------------------------------------------------------ intrinsics
def test_intrinsics_from_cam_param_focal_length(tmp_path):
    path, data = write_dataset(str(tmp_path), camera='focal_length', images=False)
    info = _dataset(path).get_data_info(2)
    fx, fy = data['cam_param']['focal_length'][2]
    assert info['focal_length'] == pytest.approx((fx + fy) / 2)
    np.testing.assert_allclose(info['principal_point'], data['cam_param']['principal_point'][2],
                               rtol=1e-6)


def test_intrinsics_scalar_focal_and_hybrik_layouts(tmp_path):
    data = make_human_data(num_samples=3)
    data['cam_param'] = {'focal_length': np.array([500.0, 600.0, 700.0])}
    info = _dataset(dump_human_data(str(tmp_path / 'a.npz'), data)).get_data_info(1)
    assert info['focal_length'] == 600.0 and info['principal_point'] is None
    path, data = write_dataset(str(tmp_path), name='b.npz', camera='f_c', images=False)
    info = _dataset(path).get_data_info(0)
    assert info['focal_length'] == pytest.approx(float(data['cam_param']['f'][0].mean()))
    np.testing.assert_array_equal(info['principal_point'], data['cam_param']['c'][0])
    data = make_human_data(num_samples=2)
    intrinsic = np.array([[[900.0, 0, 31.0], [0, 1100.0, 23.0], [0, 0, 1]]] * 2)
    data['cam_param'] = {'intrinsic': intrinsic}
    info = _dataset(dump_human_data(str(tmp_path / 'c.npz'), data)).get_data_info(1)
    assert info['focal_length'] == 1000.0
    np.testing.assert_array_equal(info['principal_point'], [31.0, 23.0])


def test_intrinsics_estimated_from_stored_image_size(tmp_path):
    data = make_human_data(num_samples=2)
    data['cam_param'] = {'principal_point': np.array([[10.0, 11.0], [12.0, 13.0]])}
    data['image_size'] = np.array([[300, 400], [64, 48]])  # [W, H]
    info = _dataset(dump_human_data(str(tmp_path / 'i.npz'), data)).get_data_info(0)
    assert info['focal_length'] == pytest.approx(500.0)  # sqrt(300^2 + 400^2)
    np.testing.assert_array_equal(info['principal_point'], [10.0, 11.0])  # the file's
    del data['cam_param']
    info = _dataset(dump_human_data(str(tmp_path / 'j.npz'), data)).get_data_info(1)
    assert info['focal_length'] == pytest.approx(80.0)
    np.testing.assert_array_equal(info['principal_point'], [32.0, 24.0])


def test_per_camera_cam_param_is_ignored(tmp_path):
    data = make_human_data(num_samples=2)
    data['cam_param'] = {('S1', '54138969'): {'in_mat': np.eye(3)}}  # H36M's layout
    info = _dataset(dump_human_data(str(tmp_path / 'h.npz'), data)).get_data_info(0)
    assert info['focal_length'] is None and info['principal_point'] is None


def test_load_image_fills_missing_intrinsics_from_image_size(tmp_path):
    path, _ = write_dataset(str(tmp_path))
    ds = _dataset(path, pipeline=[dict(type='LoadImage')])
    out = ds[1]
    width, height = IMAGE_SIZE
    assert out['img'].shape == (height, width, 3) and out['img'].dtype == np.uint8
    assert out['img_shape'] == (height, width) == out['ori_shape']
    assert out['focal_length'] == pytest.approx(80.0)  # sqrt(64^2 + 48^2)
    np.testing.assert_array_equal(out['principal_point'], [32.0, 24.0])


def test_load_image_keeps_dataset_intrinsics(tmp_path):
    path, data = write_dataset(str(tmp_path), camera='f_c')
    out = _dataset(path, pipeline=[LoadImage()])[0]
    assert out['focal_length'] == pytest.approx(float(data['cam_param']['f'][0].mean()))
    np.testing.assert_array_equal(out['principal_point'], data['cam_param']['c'][0])


# --------------------------------------------------------------------------- laziness
def test_open_builds_no_per_sample_dicts(tmp_path, monkeypatch):
    num = 5000
    data = make_human_data(num_samples=num)
    path = dump_human_data(str(tmp_path / 'big.npz'), data, compress=True)
    calls = []
    original = HumanDataDataset.get_data_info
    monkeypatch.setattr(HumanDataDataset, 'get_data_info',
                        lambda self, idx: calls.append(idx) or original(self, idx))
    ds = _dataset(path)
    assert len(ds) == num and calls == []
    assert ds.data_list == [] and not hasattr(ds, 'data_bytes')
    assert isinstance(ds.human_data.array('keypoints2d'), np.memmap)
    assert isinstance(ds.human_data.array('smpl.body_pose'), np.memmap)
    # What a spawned worker receives: paths, not the arrays (keypoints alone are MBs).
    assert len(pickle.dumps(ds)) < 100_000 < ds.human_data.array('keypoints3d').nbytes
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone.get_data_info(4321)['keypoints2d'],
                                  ds.get_data_info(4321)['keypoints2d'])


def test_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    import mroi_plugin.datasets.human_data as human_data_module
    data = make_human_data(num_samples=3)
    path = dump_human_data(str(tmp_path / 'x.npz'), data)
    first = HumanDataFile(path)
    assert first.cache_path.startswith(str(tmp_path / '.mroi_humandata_cache'))
    real_read = human_data_module._read_npz

    def no_extraction(*args):
        raise AssertionError('the cache should have been reused')

    monkeypatch.setattr(human_data_module, '_read_npz', no_extraction)
    second = HumanDataFile(path)
    assert second.cache_path == first.cache_path
    monkeypatch.setattr(human_data_module, '_read_npz', real_read)
    data['bbox_xywh'][0, 2] = 17.0
    time.sleep(0.01)
    dump_human_data(path, data)  # same name, new content: a new cache entry
    third = HumanDataFile(path)
    assert third.cache_path != first.cache_path
    assert third.get('bbox_xywh', 0)[2] == 17.0


def test_in_memory_mode_matches_mmap(tmp_path):
    path, _ = write_dataset(str(tmp_path), compress=True, images=False)
    in_memory = _dataset(path, use_mmap=False)
    assert not osp.exists(tmp_path / '.mroi_humandata_cache')  # no cache written
    mapped = _dataset(path)
    assert osp.isdir(tmp_path / '.mroi_humandata_cache')
    for i in range(len(mapped)):
        x, y = mapped.get_data_info(i), in_memory.get_data_info(i)
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


def test_stored_convention_is_checked_at_open(tmp_path):
    data = make_human_data(num_samples=2)
    path = dump_human_data(str(tmp_path / 'conv.npz'), data, keypoints2d_convention='smpl_99')
    with pytest.raises(HumanDataError, match=r"conv\.npz.*'keypoints2d_convention'.*smpl_99"):
        _dataset(path)
    path = dump_human_data(str(tmp_path / 'conv.npz'), data, keypoints2d_convention='coco_17')
    with pytest.raises(HumanDataError, match=r"'keypoints2d_mask'.*190 joints.*'coco_17' has 17"):
        _dataset(path)


def test_dataloader_workers_read_the_same_values(tmp_path):
    path, _ = write_dataset(str(tmp_path), compress=True, num_samples=12, images=False)
    ds = _dataset(path)
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=_as_list)
    seen = [sample for batch in loader for sample in batch]
    assert [s['sample_idx'] for s in seen] == list(range(12))
    for sample in seen:
        expected = ds.get_data_info(sample['sample_idx'])
        for key, value in expected.items():
            np.testing.assert_array_equal(sample[key], value)


def test_subset_by_indices(tmp_path):
    path, data = write_dataset(str(tmp_path), images=False)
    ds = _dataset(path, indices=[4, 1])
    assert len(ds) == 2
    np.testing.assert_array_equal(ds.get_data_info(0)['smpl_betas'], data['smpl']['betas'][4])
    sub = _dataset(path).get_subset(3)
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.get_data_info(2)['smpl_betas'], data['smpl']['betas'][2])
    with pytest.raises(IndexError, match='out of range'):
        sub.get_data_info(3)


def test_built_from_registry(tmp_path):
    path, _ = write_dataset(str(tmp_path), images=False)
    ds = DATASETS.build(dict(type='HumanDataDataset', ann_file=path,
                             keypoint_convention='h36m_17', dataset_name='mine'))
    assert isinstance(ds, HumanDataDataset)
    info = ds.get_data_info(0)
    assert info['dataset_name'] == 'mine' and info['keypoints2d'].shape == (17, 3)


@pytest.mark.slow
def test_300k_sample_file_opens_fast(tmp_path):
    num = 300_000
    rng = np.random.default_rng(0)
    mask = np.zeros(HUMAN_DATA_NUM_JOINTS)
    mask[:17] = 1
    np.savez(
        tmp_path / 'huge.npz', __key_strict__=True, __data_len__=num,
        __keypoints_compressed__=True,
        image_path=np.array([f'i/{i:07d}.jpg' for i in range(num)]),
        bbox_xywh=np.tile([1.0, 2.0, 30.0, 40.0, 1.0], (num, 1)),
        keypoints2d=rng.random((num, 17, 3), dtype=np.float32), keypoints2d_mask=mask,
        smpl=np.array({'global_orient': np.zeros((num, 3), np.float32),
                       'body_pose': np.zeros((num, 23, 3), np.float32),
                       'betas': np.zeros((num, 10), np.float32)}, dtype=object))
    start = time.perf_counter()
    ds = _dataset(str(tmp_path / 'huge.npz'))
    first_open = time.perf_counter() - start
    start = time.perf_counter()
    ds = _dataset(str(tmp_path / 'huge.npz'))
    reopen = time.perf_counter() - start
    assert len(ds) == num and ds.get_data_info(num - 1)['img_path'].endswith('0299999.jpg')
    print(f"300k samples: first open {first_open:.2f} s, reopen {reopen:.3f} s")
    assert first_open < 10.0 and reopen < 2.0, (first_open, reopen)


# ------------------------------------------------------------------------ bad input
def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.npz'):
        _dataset(str(tmp_path / 'nothere.npz'))


def test_not_an_npz(tmp_path):
    (tmp_path / 'bad.npz').write_text('hello')
    with pytest.raises(HumanDataError, match=r"bad\.npz.*not an \.npz"):
        HumanDataFile(str(tmp_path / 'bad.npz'))


@pytest.mark.parametrize('key', ['bbox_xywh', 'image_path'])
def test_missing_required_key_names_file_and_key(tmp_path, key):
    data = make_human_data(num_samples=2)
    path = dump_human_data(str(tmp_path / 'k.npz'), data, **{key: None})
    with pytest.raises(HumanDataError, match=rf"k\.npz.*'{key}'.*required key is missing"):
        _dataset(path)


def test_missing_keypoint_mask_names_key(tmp_path):
    data = make_human_data(num_samples=2)
    path = dump_human_data(str(tmp_path / 'k.npz'), data, keypoints2d_mask=None)
    with pytest.raises(HumanDataError, match=r"k\.npz.*'keypoints2d_mask'.*missing"):
        _dataset(path)


@pytest.mark.parametrize('key,value,message', [
    ('bbox_xywh', np.ones((5, 5)), r"'bbox_xywh'.*shape \(5, 5\).*6 samples"),
    ('bbox_xywh', np.ones((6, 3)), r"'bbox_xywh'.*expected shape \(N, 5\)"),
    ('keypoints2d', np.ones((6, 50, 3)), r"'keypoints2d'.*holds 50 joints.*190"),
    ('keypoints3d', np.ones((6, 190, 3)), r"'keypoints3d'.*\(N, J, 4\)"),
    ('keypoints2d_mask', np.full(190, 0.5), r"'keypoints2d_mask'.*0/1"),
    ('has_smpl', np.ones(4), r"'has_smpl'.*\(4,\).*6 samples"),
    ('__data_len__', 7, r"'image_path'.*6 entries.*__data_len__ is 7"),
])
def test_shape_mismatch_names_file_and_key(tmp_path, key, value, message):
    data = make_human_data(num_samples=6)
    path = dump_human_data(str(tmp_path / 'shape.npz'), data, **{key: value})
    with pytest.raises(HumanDataError, match=r'shape\.npz.*' + message):
        _dataset(path)


def test_smpl_shape_mismatch_names_sub_key(tmp_path):
    data = make_human_data(num_samples=3)
    data['smpl'] = dict(data['smpl'], body_pose=np.zeros((3, 22, 3)))
    with pytest.raises(HumanDataError, match=r"'smpl\.body_pose'.*expected 69"):
        _dataset(dump_human_data(str(tmp_path / 's.npz'), data))
    data['smpl'] = {'betas': np.zeros((3, 10))}
    with pytest.raises(HumanDataError, match=r"'smpl'.*no 'global_orient'"):
        _dataset(dump_human_data(str(tmp_path / 's.npz'), data))


def test_compressed_flag_inconsistent_with_mask(tmp_path):
    data = make_human_data(num_samples=2)
    path = dump_human_data(str(tmp_path / 'c.npz'), data, __keypoints_compressed__=True)
    with pytest.raises(HumanDataError, match=r"'keypoints2d'.*__keypoints_compressed__=True"):
        _dataset(path)


@pytest.mark.parametrize('box', [[1.0, 2.0, 0.5, 20.0], [1.0, 2.0, 20.0, 1.0],
                                 [np.nan, 2.0, 20.0, 20.0], [1.0, 2.0, np.inf, 20.0]])
def test_degenerate_box_error_names_file_key_index(tmp_path, box):
    data = make_human_data(num_samples=4)
    data['bbox_xywh'][2, :4] = box
    ds = _dataset(dump_human_data(str(tmp_path / 'box.npz'), data))
    ds.get_data_info(1)  # the others are fine
    with pytest.raises(BadSampleError, match=r"box\.npz.*'bbox_xywh', index 2: degenerate"):
        ds.get_data_info(2)
    with pytest.raises(BadSampleError, match='index 2'):
        ds[2]


def test_missing_image_raises_image_load_error(tmp_path):
    path, data = write_dataset(str(tmp_path))
    os.remove(osp.join(str(tmp_path), data['image_path'][3]))
    ds = _dataset(path, pipeline=[dict(type='LoadImage')])
    with pytest.raises(ImageLoadError, match=r'frame_00003\.jpg.*sample_idx=3'):
        ds[3]


# ----------------------------------------------------------------------- skip policy
def _bad_dataset(tmp_path, **kwargs):
    """6 samples: box 1 degenerate, image 4 missing, image 5 corrupt."""
    data = make_human_data(num_samples=6)
    data['bbox_xywh'][1, 3] = 0.0
    path = dump_human_data(str(tmp_path / 'bad.npz'), data)
    write_images(str(tmp_path), data['image_path'])
    os.remove(osp.join(str(tmp_path), data['image_path'][4]))
    with open(osp.join(str(tmp_path), data['image_path'][5]), 'wb') as f:
        f.write(b'not a jpeg')
    return _dataset(path, pipeline=[dict(type='LoadImage')], **kwargs)


def test_skip_policy_counts_logs_once_and_continues(tmp_path, monkeypatch):
    import mroi_plugin.datasets.human_data_dataset as module
    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logged.append(msg))
    ds = _bad_dataset(tmp_path, on_bad_sample='skip')
    np.random.seed(0)
    for _ in range(3):
        for bad in (1, 4, 5):
            out = ds[bad]
            assert out['sample_idx'] in (0, 2, 3) and out['img'].shape[:2] == IMAGE_SIZE[::-1]
    assert ds.num_skipped >= 9  # a replacement may itself be bad and be skipped too
    assert ds.skipped_indices == [1, 4, 5]
    skip_logs = [m for m in logged if 'skipping sample' in m]
    assert len(skip_logs) == 3  # once per bad index
    assert any("'bbox_xywh', index 1" in m for m in skip_logs)
    assert any('frame_00004.jpg' in m for m in skip_logs)
    assert ds[0]['sample_idx'] == 0  # good samples are untouched


def test_raise_policy_and_test_mode_raise(tmp_path):
    ds = _bad_dataset(tmp_path)
    with pytest.raises(BadSampleError, match='index 1'):
        ds[1]
    with pytest.raises(ImageLoadError, match='frame_00005.jpg'):
        ds[5]
    strict = _bad_dataset(tmp_path, on_bad_sample='skip', test_mode=True)
    with pytest.raises(ImageLoadError):
        strict[4]
    assert strict.num_skipped == 0


def test_skip_count_is_shared_with_dataloader_workers(tmp_path):
    ds = _bad_dataset(tmp_path, on_bad_sample='skip')
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=_as_list)
    samples = [s for batch in loader for s in batch]
    assert len(samples) == 6
    assert all(s['sample_idx'] in (0, 2, 3) for s in samples)
    assert ds.num_skipped >= 3 and set(ds.skipped_indices) == {1, 4, 5}


def test_invalid_arguments(tmp_path):
    path, _ = write_dataset(str(tmp_path), images=False)
    with pytest.raises(ValueError, match='on_bad_sample'):
        _dataset(path, on_bad_sample='ignore')
    with pytest.raises(ValueError, match='data_prefix'):
        _dataset(path, data_prefix=dict(img_path=''))
    # The crop box moved to the pipeline: one error naming what to change, and where.
    with pytest.raises(ValueError, match=r"crop_aspect are no longer.*GetBBoxCenterScale"):
        _dataset(path, crop_aspect=0.75)
    with pytest.raises(ValueError, match=r'crop_aspect and bbox_scale_factor .*crop_size'):
        _dataset(path, crop_aspect=0.75, bbox_scale_factor=1.2)
    with pytest.raises(ValueError, match='nonexistent_convention'):
        _dataset(path, keypoint_convention='nonexistent_convention')


# ------------------------------------------------------------------------- real data
@pytest.mark.skipif(not osp.isfile(osp.join(REAL_ROOT, REAL_FILE)),
                    reason='real 3DPW sample not available')
def test_real_pw3d_sample(tmp_path):
    ds = HumanDataDataset(ann_file=REAL_FILE, data_root=REAL_ROOT, cache_dir=str(tmp_path),
                          pipeline=[dict(type='LoadImage')])
    with np.load(osp.join(REAL_ROOT, REAL_FILE), allow_pickle=True) as raw:
        bbox = raw['bbox_xywh'][0]
        smpl = raw['smpl'].item()
    assert len(ds) == 1 and ds.dataset_name == 'pw3d'
    info = ds.get_data_info(0)
    x, y, w, h = bbox[:4]
    np.testing.assert_allclose(info['bbox_xyxy'], [x, y, x + w, y + h], rtol=1e-6)
    np.testing.assert_array_equal(info['smpl_body_pose'], smpl['body_pose'][0])
    np.testing.assert_array_equal(info['smpl_global_orient'], smpl['global_orient'][0])
    assert info['has_smpl'] == 1.0 and info['has_transl'] == 0.0
    assert info['has_keypoints2d'] == 0.0 and info['gender'] == 'female'
    out = ds[0]
    assert out['img_shape'] == (1920, 1080)
    assert out['focal_length'] == pytest.approx(np.hypot(1080, 1920))
    np.testing.assert_array_equal(out['principal_point'], [540.0, 960.0])
    assert torch.is_tensor(ds._skip_counts) and ds.num_skipped == 0
