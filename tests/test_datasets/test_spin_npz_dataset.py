"""SPINNpzDataset: SPIN/CLIFF ``.npz`` files, their crops, targets and evaluation.

The files are written here in SPIN's layout (``np.savez`` of ``imgname``, ``center``,
``scale``, ``part``, ``S``, ``pose``, ``shape``, ``gender``, as SPIN's
``datasets/preprocess/{pw3d,h36m}.py`` write them; CLIFF's extra ``global_t``,
``focal_l``, ``has_smpl``), with small images made on the fly. Expected values are
derived by hand from SPIN/CLIFF's definitions: the crop is centred on ``center`` with
height ``200 * scale`` (CLIFF ``get_transform``), ``bbox_info`` is CLIFF's
``[(cx - W/2) / f * 2.8, (cy - H/2) / f * 2.8, (b - 0.24 f) / (0.06 f)]`` with
``f = sqrt(W^2 + H^2)``, and H36M errors are SPIN ``eval.py``'s index lists.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mroi_plugin.datasets import HumanDataError, SPINNpzDataset
from mroi_plugin.utils import register_all_modules

# A real 3DPW frame and its HumanData annotation, next to the repository when available.
REAL_ROOT = Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'real_samples' / 'pw3d_real'
REAL_FILE = REAL_ROOT / 'pw3d_real_sample.npz'
# The test images: 160x120, so CLIFF's focal estimate sqrt(W^2 + H^2) is exactly 200.
IMG_W, IMG_H = 160, 120
FOCAL = 200.0
NUM = 3
# SPIN's constants (constants.py, datasets/preprocess/h36m.py), copied as the truth.
SPIN_GLOBAL_IDX = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]
SPIN_H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
SPIN_J24_TO_J14 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18]
# smpl_24 index of SPIN slot 0 ('Right Ankle') and slot 9 ('Left Shoulder').
SMPL_RIGHT_ANKLE, SMPL_LEFT_SHOULDER = 8, 16


def _ramp_image() -> np.ndarray:
    """BGR image whose channel 2 is the column x and channel 1 the row y."""
    img = np.zeros((IMG_H, IMG_W, 3), np.uint8)
    img[..., 2] = np.arange(IMG_W)[None, :]
    img[..., 1] = np.arange(IMG_H)[:, None]
    return img


def _write_images(root: Path) -> list:
    names = [f'imageFiles/seq_{i}/image_{i:05d}.png' for i in range(NUM)]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), _ramp_image())
    return names


def _spin_arrays(names: list, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    center = np.array([[80.0, 60.0], [70.5, 55.0], [90.0, 64.0]])
    scale = np.array([0.4, 0.3, 0.45])  # crops 80, 60, 90 px high
    part = np.zeros((NUM, 24, 3))
    part[..., 0] = center[:, None, 0] + rng.uniform(-15, 15, (NUM, 24))
    part[..., 1] = center[:, None, 1] + rng.uniform(-20, 20, (NUM, 24))
    part[..., 2] = 1.0
    part[:, 19:, 2] = 0.0  # the face joints are unlabelled, as in SPIN's 3DPW / H36M files
    return dict(imgname=np.array(names), center=center, scale=scale, part=part,
                pose=rng.normal(0, 0.2, (NUM, 72)), shape=rng.normal(0, 0.5, (NUM, 10)),
                gender=np.array(['m', 'f', 'm']))


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp('spin_npz')
    names = _write_images(root / 'pw3d')
    arrays = _spin_arrays(names)
    np.savez(root / '3dpw_test.npz', **arrays)
    register_all_modules()
    return dict(root=root, arrays=arrays)


def _dataset(root: Path, ann_file: str = '3dpw_test.npz', **kwargs) -> SPINNpzDataset:
    kwargs.setdefault('data_prefix', dict(img='pw3d'))
    return SPINNpzDataset(ann_file=ann_file, data_root=str(root), test_mode=True, **kwargs)


def test_crop_and_targets_are_the_files(data):
    arrays = data['arrays']
    dataset = _dataset(data['root'])
    assert len(dataset) == NUM and dataset.dataset_name == '3dpw_test'
    for i in range(NUM):
        info = dataset.get_data_info(i)
        np.testing.assert_allclose(info['bbox_center'], arrays['center'][i], atol=1e-5)
        assert info['bbox_size'] == pytest.approx(200 * arrays['scale'][i])
        # the file does not say how its crop was padded: the box-fitted camera must refuse
        assert 'bbox_padding' not in info
        assert info['img_path'].endswith('pw3d/' + arrays['imgname'][i])
        # SPIN slot 0 is the right ankle, slot 9 the left shoulder; slot 2 (the LSP hip)
        # has no exact SMPL joint, so no smpl_24 joint takes its value.
        np.testing.assert_allclose(info['keypoints2d'][SMPL_RIGHT_ANKLE], arrays['part'][i, 0])
        np.testing.assert_allclose(info['keypoints2d'][SMPL_LEFT_SHOULDER],
                                   arrays['part'][i, 9])
        # Knees, ankles, shoulders, elbows, wrists: the 10 joints SPIN and SMPL share by name.
        assert info['keypoints2d'][:, 2].sum() == 10
        np.testing.assert_allclose(info['smpl_global_orient'], arrays['pose'][i, :3], rtol=1e-6)
        np.testing.assert_allclose(info['smpl_body_pose'],
                                   arrays['pose'][i, 3:].reshape(23, 3), rtol=1e-6)
        np.testing.assert_allclose(info['smpl_betas'], arrays['shape'][i], rtol=1e-6)
        assert info['has_smpl'] == 1.0 and info['has_transl'] == 0.0
        assert info['gender'] == ('male', 'female', 'male')[i]
        # No camera in SPIN's files: LoadImage fills CLIFF's estimate from the image.
        assert info['focal_length'] is None and info['principal_point'] is None


def test_pipeline_crops_the_files_box_with_cliffs_bbox_info(data):
    arrays = data['arrays']
    crop_h, crop_w = 64, 48
    dataset = _dataset(data['root'], pipeline=[
        dict(type='LoadImage'),
        dict(type='MultiRoICrop', num_rois=1, crop_size=(crop_h, crop_w)),
        dict(type='PackHMRInputs'),
    ])
    for i in range(NUM):
        packed = dataset[i]
        sample = packed['data_samples']
        cx, cy = arrays['center'][i]
        b = 200 * arrays['scale'][i]
        expected = [(cx - IMG_W / 2) / FOCAL * 2.8, (cy - IMG_H / 2) / FOCAL * 2.8,
                    (b - 0.24 * FOCAL) / (0.06 * FOCAL)]
        np.testing.assert_allclose(sample.bbox_info[0].numpy(), expected, rtol=1e-5, atol=1e-5)
        assert float(sample.focal_length) == pytest.approx(FOCAL)
        np.testing.assert_allclose(sample.roi_sizes.numpy(), [b], rtol=1e-6)
        # The crop shows columns cx -+ 0.75 b / 2 and rows cy -+ b / 2 of the ramp image:
        # crop pixel j samples c - half + j * step (get_crop_affine puts the box's centre at
        # crop_w / 2), read back from the ramp up to uint8 rounding where it is inside.
        crop = packed['inputs'][0].numpy()  # (3, h, w) BGR
        xs, ys = crop[2, crop_h // 2].astype(float), crop[1, :, crop_w // 2].astype(float)
        half_w, half_h = 0.75 * b / 2, b / 2
        step_x, step_y = 0.75 * b / crop_w, b / crop_h
        for values, centre, half, step, size in ((xs, cx, half_w, step_x, IMG_W),
                                                 (ys, cy, half_h, step_y, IMG_H)):
            first, last = centre - half, centre + half - step
            if first >= 0 and last <= size - 1:
                assert values[0] == pytest.approx(first, abs=0.51)
                assert values[-1] == pytest.approx(last, abs=0.51)


def test_cliff_crop_mode_cuts_cliffs_window_of_the_files_box(data):
    """CLIFF's crop(): integer window [round(c - w/2), round(c + w/2)) of the box, resized."""
    arrays = data['arrays']
    crop_h, crop_w = 64, 48
    dataset = _dataset(data['root'], pipeline=[
        dict(type='LoadImage'),
        dict(type='MultiRoICrop', num_rois=1, crop_size=(crop_h, crop_w), crop_mode='cliff'),
        dict(type='PackHMRInputs'),
    ])
    for i in range(NUM):
        packed = dataset[i]
        (cx, cy), b = arrays['center'][i], 200 * arrays['scale'][i]
        np.testing.assert_allclose(packed['data_samples'].roi_sizes.numpy(), [b], rtol=1e-6)
        crop = packed['inputs'][0].numpy().astype(np.float64)  # float32 crops, not rounded
        for values, centre, size, out in ((crop[2, crop_h // 2], cx, 0.75 * b, crop_w),
                                          (crop[1, :, crop_w // 2], cy, b, crop_h)):
            start, stop = round(centre - size / 2), round(centre + size / 2)
            # cv2.resize samples window pixel (j + 0.5) * (stop - start) / out - 0.5, clamped
            # to the window's first and last pixel when it enlarges.
            step = (stop - start) / out
            expected = np.clip(start + (np.arange(out) + 0.5) * step - 0.5, start, stop - 1)
            np.testing.assert_allclose(values, expected, atol=1e-3)


def test_cliff_fields(data, tmp_path):
    arrays = dict(data['arrays'])
    rng = np.random.default_rng(1)
    arrays.update(global_t=rng.normal(0, 1, (NUM, 3)), focal_l=np.array([500., 600., 700.]),
                  has_smpl=np.array([1, 0, 1]), annot_id=np.arange(NUM))
    np.savez(tmp_path / 'coco_cliffGT.npz', **arrays)
    dataset = _dataset(tmp_path, 'coco_cliffGT.npz', data_prefix=dict(img=''))
    assert dataset.human_data.ignored_keys == ['annot_id']
    info = [dataset.get_data_info(i) for i in range(NUM)]
    assert [x['focal_length'] for x in info] == [500.0, 600.0, 700.0]
    assert [x['has_smpl'] for x in info] == [1.0, 0.0, 1.0]
    np.testing.assert_allclose(info[0]['smpl_transl'], arrays['global_t'][0], rtol=1e-6)
    assert info[0]['has_transl'] == 1.0 and info[1]['has_transl'] == 0.0
    # A file's cam_int wins: its focal lengths and principal point.
    cam_int = np.tile(np.array([[300., 0, 70], [0, 310., 50], [0, 0, 1]]), (NUM, 1, 1))
    np.savez(tmp_path / 'with_cam.npz', cam_int=cam_int, **arrays)
    info = _dataset(tmp_path, 'with_cam.npz', data_prefix=dict(img='')).get_data_info(0)
    assert info['focal_length'] == pytest.approx(305.0)
    np.testing.assert_allclose(info['principal_point'], [70, 50])


def test_bbox_scale_factor_enlarges_the_files_crop(data):
    info = _dataset(data['root'], bbox_scale_factor=1.1).get_data_info(1)
    assert info['bbox_size'] == pytest.approx(200 * data['arrays']['scale'][1] * 1.1)


@pytest.mark.parametrize('change, message', [
    (dict(drop='scale'), r"required key\(s\) \['scale'\] missing"),
    (dict(drop='shape'), r"key 'shape': missing while 'pose' is present"),
    (dict(part=np.zeros((NUM, 17, 3))), r"key 'part': expected shape \('N', 24, 3\)"),
    (dict(center=np.zeros((NUM - 1, 2))), r"key 'center': expected shape .* N = 3 rows"),
    (dict(gender=np.array([{'m': 1}] * NUM, dtype=object)),
     r"key 'gender': is a pickled object array .* refusing to unpickle"),
])
def test_bad_files_name_the_key(data, tmp_path, change, message):
    arrays = dict(data['arrays'])
    drop = change.pop('drop', None)
    if drop:
        del arrays[drop]
    arrays.update(change)
    np.savez(tmp_path / 'bad.npz', **arrays)
    with pytest.raises(HumanDataError, match=message) as info:
        _dataset(tmp_path, 'bad.npz').full_init()
    assert 'bad.npz' in str(info.value)


def test_degenerate_crop_is_a_bad_sample(data, tmp_path):
    arrays = dict(data['arrays'], scale=np.array([0.4, 0.0, np.nan]))
    np.savez(tmp_path / 'degenerate.npz', **arrays)
    dataset = _dataset(tmp_path, 'degenerate.npz')
    dataset.get_data_info(0)
    for index in (1, 2):
        with pytest.raises(ValueError, match=rf"index {index}: degenerate crop"):
            dataset.get_data_info(index)


def test_h36m_protocol_reproduces_spins_eval(tmp_path):
    """A SPIN-layout H36M file: HMRMetric's MPJPE / PA-MPJPE equal SPIN eval.py's."""
    from mroi_plugin.body_models import SMPL
    from mroi_plugin.evaluation import HMRMetric
    from mroi_plugin.geometry import similarity_procrustes
    from mroi_plugin.synthetic.standin import write_standin_smpl
    body = tmp_path / 'body'
    files = write_standin_smpl(str(body), seed=0)
    regressor = torch.from_numpy(np.load(files['h36m_regressor'])).float()
    smpl = SMPL(str(body))
    gen = torch.Generator().manual_seed(0)

    def mesh(scale):
        return smpl(betas=torch.randn(NUM, 10, generator=gen) * scale,
                    body_pose=torch.randn(NUM, 69, generator=gen) * 0.3 * scale,
                    global_orient=torch.randn(NUM, 3, generator=gen) * scale)['vertices']

    gt_vertices, pred_vertices = mesh(1.0), mesh(1.0)
    # S as SPIN's h36m.py builds it: 17 H36M joints, root-centred, in SPIN's 24 slots.
    s17 = torch.einsum('jv,bvc->bjc', regressor, gt_vertices).double().numpy()
    s17 -= s17[:, :1]
    s24 = np.zeros((NUM, 24, 4))
    s24[:, SPIN_GLOBAL_IDX, :3] = s17
    s24[:, SPIN_GLOBAL_IDX, 3] = 1
    names = _write_images(tmp_path / 'h36m')
    arrays = _spin_arrays(names)
    for key in ('pose', 'shape', 'gender'):
        del arrays[key]
    np.savez(tmp_path / 'h36m_valid_protocol1.npz', S=s24, **arrays)
    dataset = _dataset(tmp_path, 'h36m_valid_protocol1.npz', data_prefix=dict(img='h36m'),
                       keypoint_convention='h36m_17')
    metric = HMRMetric(joint_regressor=files['h36m_regressor'], gt_source='keypoints3d')
    metric.dataset_meta = dataset.metainfo
    samples = []
    for i in range(NUM):
        info = dataset.get_data_info(i)
        samples.append(dict(pred_vertices=pred_vertices[i], keypoints3d=info['keypoints3d'],
                            has_keypoints3d=info['has_keypoints3d'], sample_idx=i))
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)

    # SPIN eval.py: GT = S[:, J24_TO_J14, :-1]; prediction = regressor joints minus joint 0,
    # H36M_TO_J14; PA by a similarity Procrustes per sample.
    gt14 = torch.from_numpy(s24[:, SPIN_J24_TO_J14, :3])
    pred17 = torch.einsum('jv,bvc->bjc', regressor, pred_vertices).double()
    pred14 = pred17[:, SPIN_H36M_TO_J14] - pred17[:, :1]
    mpjpe = (pred14 - gt14).norm(dim=-1).mean(dim=-1).mean() * 1000
    aligned = similarity_procrustes(pred14, gt14)
    pa_mpjpe = (aligned - gt14).norm(dim=-1).mean(dim=-1).mean() * 1000
    assert results['mpjpe'] == pytest.approx(float(mpjpe), rel=1e-6)
    assert results['pa_mpjpe'] == pytest.approx(float(pa_mpjpe), rel=1e-6)
    assert results['mpjpe'] > 10  # two different random bodies: the test can fail


def test_evaluation_runs_end_to_end(data, tmp_path):
    """A tiny CLIFF-style model evaluated on the SPIN-format 3DPW file with HMRMetric."""
    from mmengine.runner import Runner

    from mroi_plugin.synthetic.standin import write_standin_smpl
    from tests.tiny_configs import tiny_quickstart_config
    body = tmp_path / 'body'
    write_standin_smpl(str(body), seed=0)
    cfg = tiny_quickstart_config(body, num_rois=1, crop_size=(32, 24))
    cfg.test_dataloader.dataset = dict(
        type='SPINNpzDataset', data_root=str(data['root']), ann_file='3dpw_test.npz',
        data_prefix=dict(img='pw3d'), test_mode=True,
        pipeline=cfg.test_dataloader.dataset.pipeline)
    cfg.test_dataloader.batch_size = NUM
    cfg.test_evaluator = dict(type='HMRMetric', body_model_dir=str(body),
                              joint_regressor=str(body / 'J_regressor_h36m.npy'))
    cfg.custom_hooks = []
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'spin_npz_e2e'
    cfg.visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    metrics = Runner.from_cfg(cfg).test()
    for key in ('hmr/mpjpe', 'hmr/pa_mpjpe', 'hmr/pve'):
        assert np.isfinite(metrics[key]) and metrics[key] > 0


@pytest.mark.skipif(not REAL_FILE.is_file(), reason='real 3DPW sample not available')
def test_real_frame_gives_the_same_sample_in_both_layouts(tmp_path):
    """One real 3DPW person written in SPIN's layout reads as its HumanData original does.

    SPIN's crop of a box is centred on it with 200 * scale = 1.2 * max(h, w / 0.75) (the
    height of the 256x192 crop holding the box, enlarged 1.2 as HumanDataDataset does), so
    both datasets must give the same crop, bbox_info and SMPL targets.
    """
    from mroi_plugin.datasets import HumanDataDataset, HumanDataFile
    hd = HumanDataFile(str(REAL_FILE), mmap=False)
    x, y, w, h = hd.get('bbox_xywh', 0)[:4]
    size = 1.2 * max(h, w / 0.75)
    pose = np.concatenate([hd.get('smpl.global_orient', 0).reshape(3),
                           hd.get('smpl.body_pose', 0).reshape(69)])
    np.savez(tmp_path / 'pw3d_spin.npz', imgname=np.array([str(hd.get('image_path', 0))]),
             center=np.array([[x + w / 2, y + h / 2]]), scale=np.array([size / 200]),
             pose=pose[None], shape=hd.get('smpl.betas', 0).reshape(1, 10),
             gender=np.array([str(hd.get('meta.gender', 0))]))
    # GetBBoxCenterScale pads the HumanData box and leaves the SPIN file's crop alone.
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='MultiRoICrop', num_rois=1), dict(type='PackHMRInputs')]
    common = dict(data_root=str(tmp_path), data_prefix=dict(img=str(REAL_ROOT)),
                  pipeline=pipeline, test_mode=True)
    spin = SPINNpzDataset(ann_file='pw3d_spin.npz', **common)[0]
    original = HumanDataDataset(ann_file=str(REAL_FILE), use_mmap=False, **common)[0]
    assert spin['inputs'].shape == original['inputs'].shape == (1, 3, 256, 192)
    assert (spin['inputs'].int() - original['inputs'].int()).abs().max() <= 1
    for key in ('bbox_info', 'roi_centers', 'roi_sizes', 'focal_length', 'principal_point',
                'smpl_global_orient', 'smpl_body_pose', 'smpl_betas', 'has_smpl'):
        torch.testing.assert_close(getattr(spin['data_samples'], key),
                                   getattr(original['data_samples'], key), rtol=1e-6,
                                   atol=1e-5, msg=key)
    assert spin['data_samples'].gender == original['data_samples'].gender
