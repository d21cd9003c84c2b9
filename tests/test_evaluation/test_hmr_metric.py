"""HMRMetric: hand-computed errors, the 3DPW and H36M protocols, gendered GT, files, DDP."""
import importlib
import json
import math
import pickle
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from mroi_plugin.body_models import SMPL, get_keypoint_names
from mroi_plugin.evaluation import HMRMetric
from mroi_plugin.registry import METRICS
from mroi_plugin.structures import HMRDataSample
from tests.dist_utils import free_port

NUM_VERTS = 6890
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
H36M = get_keypoint_names('h36m_17')
LSP = get_keypoint_names('lsp_14')
# SPIN/CLIFF's evaluation subset of the H36M regressor joints (their constants.H36M_TO_J14).
SPIN_H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
# The test regressor picks H36M joint j as exactly vertex REGRESSOR_VERTEX + j.
REGRESSOR_VERTEX = 0
GENDER_SEEDS = {'neutral': 1, 'male': 2, 'female': 3}


def _smpl_arrays(seed: int) -> Dict[str, np.ndarray]:
    """A random but valid SMPL-format model (smooth enough for well-defined meshes)."""
    rng = np.random.default_rng(seed)
    regressor = np.zeros((24, NUM_VERTS))
    for j in range(24):
        regressor[j, rng.choice(NUM_VERTS, 8, replace=False)] = 1 / 8
    kintree = np.stack([np.asarray(SMPL_PARENTS, dtype=np.int64), np.arange(24)])
    kintree[0, 0] = 2**32 - 1
    return {
        'v_template': rng.normal(scale=0.3, size=(NUM_VERTS, 3)).astype(np.float32),
        'shapedirs': rng.normal(scale=0.02, size=(NUM_VERTS, 3, 10)).astype(np.float32),
        'posedirs': np.zeros((NUM_VERTS, 3, 207), dtype=np.float32),
        'J_regressor': regressor.astype(np.float32),
        'weights': rng.dirichlet(np.full(24, 0.3), size=NUM_VERTS).astype(np.float32),
        'kintree_table': kintree.astype(np.uint32),
        'f': rng.integers(0, NUM_VERTS, size=(100, 3)).astype(np.uint32),
    }


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SMPL_{NEUTRAL,MALE,FEMALE}.pkl (distinct random bodies) and a one-hot H36M regressor."""
    root = tmp_path_factory.mktemp('body_models')
    for gender, seed in GENDER_SEEDS.items():
        with open(root / f'SMPL_{gender.upper()}.pkl', 'wb') as f:
            pickle.dump(_smpl_arrays(seed), f)
    regressor = np.zeros((17, NUM_VERTS))
    regressor[np.arange(17), REGRESSOR_VERTEX + np.arange(17)] = 1.
    np.save(root / 'J_regressor_h36m.npy', regressor)
    return root


@pytest.fixture(scope='module')
def models(model_dir: Path) -> Dict[str, SMPL]:
    return {g: SMPL(model_dir, gender=g) for g in GENDER_SEEDS}


def _smpl_params(seed: int) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return dict(
        smpl_betas=torch.randn(10, generator=gen),
        smpl_body_pose=0.3 * torch.randn(23, 3, generator=gen),
        smpl_global_orient=0.5 * torch.randn(3, generator=gen),
        smpl_transl=torch.tensor([0.1, -0.2, 5.0]) + 0.1 * torch.randn(3, generator=gen))


def _mesh(models: Dict[str, SMPL], gender: str, params: Dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return models[gender](
            betas=params['smpl_betas'][None], body_pose=params['smpl_body_pose'][None],
            global_orient=params['smpl_global_orient'][None])['vertices'][0]


def _smpl_sample(models: Dict[str, SMPL], gender: str, seed: int, sample_idx: int = 0,
                 pred_vertices: Optional[torch.Tensor] = None, **extra) -> dict:
    """A 3DPW-style sample whose prediction is, by default, exactly its GT mesh."""
    params = _smpl_params(seed)
    sample = dict(params, has_smpl=torch.tensor(1.), has_transl=torch.tensor(1.),
                  gender=gender, sample_idx=sample_idx, img_path=f'img_{sample_idx}.jpg')
    sample['pred_vertices'] = (_mesh(models, gender, params)
                               if pred_vertices is None else pred_vertices)
    sample['pred_cam_full'] = params['smpl_transl'].clone()
    sample.update(extra)
    return sample


def _pred_vertices(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return 0.4 * torch.randn(NUM_VERTS, 3, generator=gen, dtype=torch.float64)


def _h36m_joints(vertices: torch.Tensor) -> torch.Tensor:
    """The one-hot regressor by hand: H36M joint j is vertex REGRESSOR_VERTEX + j."""
    return vertices[REGRESSOR_VERTEX:REGRESSOR_VERTEX + 17].double()


def _keypoints_sample(gt_joints: torch.Tensor, pred_vertices: torch.Tensor,
                      conf: Optional[torch.Tensor] = None, sample_idx: int = 0) -> dict:
    conf = torch.ones(17, dtype=gt_joints.dtype) if conf is None else conf
    return dict(keypoints3d=torch.cat([gt_joints, conf[:, None]], dim=-1),
                has_keypoints3d=torch.tensor(1.), pred_vertices=pred_vertices,
                sample_idx=sample_idx, img_path=f'img_{sample_idx}.jpg')


def _h36m_metric(model_dir: Path, **kwargs) -> HMRMetric:
    kwargs.setdefault('gt_keypoint_convention', 'h36m_17')
    kwargs.setdefault('gt_source', 'keypoints3d')
    return HMRMetric(joint_regressor=str(model_dir / 'J_regressor_h36m.npy'), **kwargs)


def _pw3d_metric(model_dir: Path, **kwargs) -> HMRMetric:
    kwargs.setdefault('body_model_dir', str(model_dir))
    return HMRMetric(joint_regressor=str(model_dir / 'J_regressor_h36m.npy'), **kwargs)


def _evaluate(metric: HMRMetric, samples: List[dict]) -> Dict[str, float]:
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def _rot_z(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.], [s, c, 0.], [0., 0., 1.]], dtype=torch.float64)


# --------------------------------------------------------------- hand-computed values
def test_identity_prediction_gives_zero_for_every_metric(model_dir, models):
    metric = _pw3d_metric(model_dir)
    samples = [_smpl_sample(models, g, seed=i, sample_idx=i)
               for i, g in enumerate(['neutral', 'male', 'female'])]
    result = _evaluate(metric, samples)
    assert set(result) == {'hmr/mpjpe', 'hmr/pa_mpjpe', 'hmr/pve', 'hmr/transl_error'}
    for value in result.values():
        assert value == pytest.approx(0., abs=1e-3)


def test_similarity_transform_of_gt_has_closed_form_mpjpe_and_zero_pa_mpjpe(model_dir):
    """GT = s R_z(90°) P + t: a 3D point p = (x, y, z) moves by
    |p - s R p|^2 = (x^2 + y^2)(1 + s^2) + z^2 (1 - s)^2 after pelvis centring."""
    scale, offset = 2.0, torch.tensor([0.3, -0.5, 4.0], dtype=torch.float64)
    pred_vertices = _pred_vertices(1)
    joints = _h36m_joints(pred_vertices)
    gt = scale * joints @ _rot_z(math.pi / 2).T + offset
    centred = (joints - joints[0])[SPIN_H36M_TO_J14]
    x, y, z = centred.unbind(-1)
    expected = ((x**2 + y**2) * (1 + scale**2) + z**2 * (1 - scale)**2).sqrt().mean() * 1000
    result = _evaluate(_h36m_metric(model_dir), [_keypoints_sample(gt, pred_vertices)])
    assert result['hmr/mpjpe'] == pytest.approx(float(expected), rel=1e-9)
    assert result['hmr/mpjpe'] > 100.
    assert result['hmr/pa_mpjpe'] == pytest.approx(0., abs=1e-6)


def test_known_per_joint_errors_give_their_mean(model_dir):
    """Offsets of (k + 1) mm on LSP joint k give MPJPE = mean(1..14) = 7.5 mm; offsets of
    joints outside the joint set (spine, head) change nothing."""
    pred_vertices = _pred_vertices(2)
    joints = _h36m_joints(pred_vertices)
    gt = joints.clone()
    directions = torch.nn.functional.normalize(
        torch.randn(14, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64),
        dim=-1)
    for k, h36m_index in enumerate(SPIN_H36M_TO_J14):
        gt[h36m_index] += (k + 1) * 1e-3 * directions[k]
    for name in ('spine_extra', 'head_extra'):
        gt[H36M.index(name)] += 0.5
    metric = _h36m_metric(model_dir)
    result = _evaluate(metric, [_keypoints_sample(gt, pred_vertices)])
    assert result['hmr/mpjpe'] == pytest.approx(7.5, rel=1e-9)
    assert result['hmr/pa_mpjpe'] > 0.


def test_joint_set_order_is_spins_h36m_to_j14(model_dir):
    """An error on one H36M joint shows up at its LSP position in the per-joint errors."""
    pred_vertices = _pred_vertices(3)
    metric = _h36m_metric(model_dir)
    samples = []
    for k, h36m_index in enumerate(SPIN_H36M_TO_J14):
        gt = _h36m_joints(pred_vertices).clone()
        gt[h36m_index, 1] += 0.01 * (k + 1)
        samples.append(_keypoints_sample(gt, pred_vertices, sample_idx=k))
    metric.process(None, samples)
    for k, record in enumerate(metric.results):
        errors = np.asarray(record['joint_errors'])
        expected = np.zeros(14)
        expected[k] = 10. * (k + 1)
        np.testing.assert_allclose(errors, expected, atol=1e-9)


def test_pelvis_offset_and_camera_translation_of_gt_keypoints_do_not_count(model_dir):
    pred_vertices = _pred_vertices(4)
    gt = _h36m_joints(pred_vertices) + torch.tensor([1., 2., 3.], dtype=torch.float64)
    result = _evaluate(_h36m_metric(model_dir), [_keypoints_sample(gt, pred_vertices)])
    assert result['hmr/mpjpe'] == pytest.approx(0., abs=1e-9)


def test_invisible_gt_joints_are_left_out(model_dir):
    pred_vertices = _pred_vertices(5)
    gt = _h36m_joints(pred_vertices).clone()
    conf = torch.ones(17, dtype=torch.float64)
    right_ankle = H36M.index('right_ankle')
    gt[right_ankle] += 10.  # far off, but not visible
    conf[right_ankle] = 0.
    gt[H36M.index('left_wrist'), 0] += 0.026  # the only visible error: 26 mm over 13 joints
    metric = _h36m_metric(model_dir)
    result = _evaluate(metric, [_keypoints_sample(gt, pred_vertices, conf)])
    assert result['hmr/mpjpe'] == pytest.approx(2.0, rel=1e-9)


def test_pve_of_a_hand_made_vertex_offset(model_dir, models):
    """689 of 6890 vertices (none used by the regressor) moved by 10 mm: PVE = 1 mm, MPJPE 0;
    a rigid shift of the whole predicted mesh changes nothing (pelvis centring)."""
    params = _smpl_params(7)
    gt_vertices = _mesh(models, 'male', params)
    moved = gt_vertices.clone()
    moved[100:789, 2] += 0.010
    moved += torch.tensor([0.5, -0.3, 0.2])
    sample = _smpl_sample(models, 'male', seed=7, pred_vertices=moved)
    result = _evaluate(_pw3d_metric(model_dir), [sample])
    assert result['hmr/pve'] == pytest.approx(1.0, rel=1e-4)
    assert result['hmr/mpjpe'] == pytest.approx(0., abs=1e-3)


def test_translation_error_compares_camera_frame_pelvises(model_dir, models):
    shift = torch.tensor([0.03, -0.04, 0.])  # 50 mm
    with_transl = _smpl_sample(models, 'neutral', seed=8, sample_idx=0)
    with_transl['pred_cam_full'] = with_transl['smpl_transl'] + shift
    no_transl = _smpl_sample(models, 'neutral', seed=9, sample_idx=1,
                             has_transl=torch.tensor(0.))
    no_transl['pred_cam_full'] += 1.
    metric = _pw3d_metric(model_dir)
    result = _evaluate(metric, [with_transl, no_transl])
    assert result['hmr/transl_error'] == pytest.approx(50., rel=1e-5)


def test_each_extra_test_camera_gets_its_own_translation_error(model_dir, models):
    """``pred_cam_full_<name>`` (the model's extra_cameras) -> ``transl_error_<name>``, measured
    like ``pred_cam_full``: here 50 mm, 130 mm (5-12-13) and 0, over two samples."""
    samples = []
    for idx, (fit, mean) in enumerate([((0.03, -0.04, 0.), (0.05, 0., 0.12)),
                                       ((-0.03, 0.04, 0.), (0., -0.05, -0.12))]):
        sample = _smpl_sample(models, 'neutral', seed=11 + idx, sample_idx=idx)
        sample['pred_cam_full'] = sample['smpl_transl'].clone()
        sample['pred_cam_full_fit'] = sample['smpl_transl'] + torch.tensor(fit)
        sample['pred_cam_full_mean'] = sample['smpl_transl'] + torch.tensor(mean)
        samples.append(sample)
    result = _evaluate(_pw3d_metric(model_dir), samples)
    assert result['hmr/transl_error'] == pytest.approx(0., abs=1e-3)
    assert result['hmr/transl_error_fit'] == pytest.approx(50., rel=1e-5)
    assert result['hmr/transl_error_mean'] == pytest.approx(130., rel=1e-5)


# ------------------------------------------------------------------ gendered GT
def test_female_sample_uses_the_female_model(model_dir, models):
    params = _smpl_params(10)
    female_mesh, male_mesh = _mesh(models, 'female', params), _mesh(models, 'male', params)
    metric = _pw3d_metric(model_dir)
    right = _smpl_sample(models, 'female', seed=10, pred_vertices=female_mesh)
    alias = _smpl_sample(models, 'f', seed=10, pred_vertices=female_mesh, sample_idx=1)
    wrong = _smpl_sample(models, 'female', seed=10, pred_vertices=male_mesh, sample_idx=2)
    metric.process(None, [right, alias, wrong])
    by_idx = {r['sample_idx']: r for r in metric.results}
    assert by_idx[0]['pve'] == pytest.approx(0., abs=1e-3)
    assert by_idx[1]['pve'] == pytest.approx(0., abs=1e-3)
    # The wrong body is seen as exactly its distance to the female mesh (pelvis-centred).
    pelvis_f, pelvis_m = female_mesh[REGRESSOR_VERTEX], male_mesh[REGRESSOR_VERTEX]
    expected = ((male_mesh - pelvis_m) - (female_mesh - pelvis_f)).norm(dim=-1).mean() * 1000
    assert by_idx[2]['pve'] == pytest.approx(float(expected), rel=1e-4)
    assert by_idx[2]['pve'] > 10.
    assert set(metric._gt_body_model.models) == {'female'}


def test_gt_forward_is_batched_per_gender(model_dir, models):
    metric = _pw3d_metric(model_dir)
    genders = ['female', 'male', 'female', 'female', 'male']
    samples = [_smpl_sample(models, g, seed=20 + i, sample_idx=i) for i, g in enumerate(genders)]
    calls: Dict[str, List[int]] = {}
    for gender in ('female', 'male'):
        model = metric._gt_body_model.model(gender)
        model.register_forward_hook(
            lambda module, args, kwargs, out, g=gender: calls.setdefault(g, []).append(
                kwargs['betas'].shape[0]), with_kwargs=True)
    metric.process(None, samples)
    assert calls == {'female': [3], 'male': [2]}
    for record in metric.results:
        assert record['mpjpe'] == pytest.approx(0., abs=1e-3)
        assert record['pve'] == pytest.approx(0., abs=1e-3)


# ------------------------------------------------------ files, skips, mmengine path
def test_outfile_prefix_writes_per_sample_results(model_dir, models, tmp_path):
    prefix = tmp_path / 'out' / 'pw3d'
    metric = _pw3d_metric(model_dir, outfile_prefix=str(prefix))
    shifted = _smpl_sample(models, 'male', seed=30, sample_idx=5)
    shifted['pred_vertices'] = shifted['pred_vertices'].clone()
    shifted['pred_vertices'][REGRESSOR_VERTEX + H36M.index('headtop'), 0] += 0.014
    samples = [_smpl_sample(models, 'female', seed=31, sample_idx=4), shifted,
               _smpl_sample(models, 'male', seed=32, sample_idx=6, has_smpl=torch.tensor(0.))]
    result = _evaluate(metric, samples)
    content = json.loads((tmp_path / 'out' / 'pw3d.per_sample.json').read_text())
    assert content['units'] == 'mm' and content['joint_names'] == LSP
    assert content['metrics']['mpjpe'] == pytest.approx(result['hmr/mpjpe'])
    records = content['samples']
    assert [r['sample_idx'] for r in records] == [4, 5, 6]
    assert [r['img_path'] for r in records] == ['img_4.jpg', 'img_5.jpg', 'img_6.jpg']
    assert records[1]['gender'] == 'male'
    assert records[1]['joint_errors'][LSP.index('headtop')] == pytest.approx(14., rel=1e-4)
    assert records[1]['mpjpe'] == pytest.approx(1., rel=1e-4)
    assert 'mpjpe' not in records[2] and 'has_smpl' in records[2]['skipped']
    # The skipped sample does not enter the means: (0 + 1) / 2.
    assert result['hmr/mpjpe'] == pytest.approx(0.5, rel=1e-4)


def test_all_samples_without_gt_is_an_error(model_dir, models):
    metric = _pw3d_metric(model_dir)
    metric.process(None, [_smpl_sample(models, 'male', seed=0, has_smpl=torch.tensor(0.))])
    with pytest.raises(ValueError, match="keypoints3d"):
        metric.evaluate(1)


def test_through_mmengine_evaluator_with_data_samples(model_dir, models):
    """The runner's path: registry build, HMRDataSample -> dict, dataset_meta convention."""
    evaluator = Evaluator(dict(
        type='mroi.HMRMetric', joint_regressor=str(model_dir / 'J_regressor_h36m.npy'),
        gt_source='keypoints3d', prefix='h36m'))
    evaluator.dataset_meta = dict(keypoint_convention='h36m_17')
    pred_vertices = _pred_vertices(11)
    gt = _h36m_joints(pred_vertices).clone()
    gt[H36M.index('left_knee'), 2] += 0.028  # 28 mm on one of 14 joints
    sample = HMRDataSample(metainfo=dict(sample_idx=0, img_path='a.jpg', gender='neutral'))
    fields = _keypoints_sample(gt.float(), pred_vertices.float())
    sample.set_data({k: v for k, v in fields.items() if k not in ('sample_idx', 'img_path')})
    evaluator.process([sample])
    result = evaluator.evaluate(1)
    assert result['h36m/mpjpe'] == pytest.approx(2.0, rel=1e-5)
    assert isinstance(METRICS.build(dict(
        type='HMRMetric', joint_regressor=str(model_dir / 'J_regressor_h36m.npy'),
        gt_source='keypoints3d')), HMRMetric)


# --------------------------------------------------------------------- bad input
def test_missing_files_raise_clear_errors(model_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.npy'):
        HMRMetric(joint_regressor=str(tmp_path / 'nowhere.npy'), body_model_dir=str(model_dir))
    with pytest.raises(FileNotFoundError, match='no_models'):
        _pw3d_metric(model_dir, body_model_dir=str(tmp_path / 'no_models'))
    with pytest.raises(ValueError, match='body_model_dir'):
        HMRMetric(joint_regressor=str(model_dir / 'J_regressor_h36m.npy'))

    only_neutral = tmp_path / 'only_neutral'
    only_neutral.mkdir()
    (only_neutral / 'SMPL_NEUTRAL.pkl').write_bytes((model_dir / 'SMPL_NEUTRAL.pkl').read_bytes())
    metric = _pw3d_metric(model_dir, body_model_dir=str(only_neutral))
    sample = dict(_smpl_params(0), has_smpl=torch.tensor(1.), gender='female',
                  pred_vertices=_pred_vertices(0))
    with pytest.raises(FileNotFoundError, match='female'):
        metric.process(None, [sample])


def test_bad_configuration_and_samples_raise(model_dir):
    with pytest.raises(ValueError, match='gt_source'):
        _h36m_metric(model_dir, gt_source='mocap')
    with pytest.raises(ValueError, match='not_a_joint'):
        _h36m_metric(model_dir, joint_set=['left_knee', 'not_a_joint'])
    with pytest.raises(ValueError, match='headtop'):
        _h36m_metric(model_dir, gt_keypoint_convention='smpl_24').process(
            None, [dict(keypoints3d=torch.ones(24, 4), pred_vertices=_pred_vertices(0))])
    with pytest.raises(ValueError, match='gt_keypoint_convention'):
        _h36m_metric(model_dir, gt_keypoint_convention=None).process(
            None, [_keypoints_sample(torch.zeros(17, 3), _pred_vertices(0))])
    with pytest.raises(KeyError, match='pred_vertices'):
        _h36m_metric(model_dir).process(None, [dict(keypoints3d=torch.zeros(17, 4))])
    with pytest.raises(ValueError, match='6890'):
        _h36m_metric(model_dir).process(
            None, [_keypoints_sample(torch.zeros(17, 3), torch.zeros(100, 3))])


def test_configurable_joint_set(model_dir):
    """All 17 H36M joints (MPI-INF-3DHP protocol): an error on the spine now counts."""
    pred_vertices = _pred_vertices(12)
    gt = _h36m_joints(pred_vertices).clone()
    gt[H36M.index('spine_extra'), 0] += 0.017
    lsp = _evaluate(_h36m_metric(model_dir), [_keypoints_sample(gt, pred_vertices)])
    all17 = _evaluate(_h36m_metric(model_dir, joint_set='h36m_17'),
                      [_keypoints_sample(gt, pred_vertices)])
    assert lsp['hmr/mpjpe'] == pytest.approx(0., abs=1e-9)
    assert all17['hmr/mpjpe'] == pytest.approx(1.0, rel=1e-9)


# --------------------------------------------------------------------------- DDP
def _ddp_worker(rank: int, world_size: int, port: int, data_file: str, out_dir: str) -> None:
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        payload = torch.load(data_file, weights_only=False)
        samples = payload['samples']
        cfg = dict(payload['cfg'], outfile_prefix=f'{out_dir}/ddp')
        evaluator = Evaluator(dict(type='mroi.HMRMetric', **cfg))
        # mmengine's DefaultSampler (shuffle=False, round_up=True): pad, then interleave.
        total = math.ceil(len(samples) / world_size) * world_size
        indices = (list(range(len(samples))) * 2)[:total][rank::world_size]
        for start in range(0, len(indices), 2):
            evaluator.process([samples[i] for i in indices[start:start + 2]])
        metrics = evaluator.evaluate(len(samples))
        torch.save(metrics, f'{out_dir}/metrics_{rank}.pt')
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_give_the_single_process_numbers(model_dir, models, tmp_path,
                                                            monkeypatch):
    genders = ['male', 'female', 'neutral', 'female', 'male', 'female', 'male']
    samples = []
    for i, gender in enumerate(genders):
        sample = _smpl_sample(models, gender, seed=40 + i, sample_idx=i)
        noise = torch.randn(NUM_VERTS, 3, generator=torch.Generator().manual_seed(i))
        sample['pred_vertices'] = sample['pred_vertices'] + 0.01 * noise
        sample['pred_cam_full'] = sample['pred_cam_full'] + 0.02 * noise[0]
        samples.append(sample)
    cfg = dict(joint_regressor=str(model_dir / 'J_regressor_h36m.npy'),
               body_model_dir=str(model_dir))
    single = Evaluator(dict(type='mroi.HMRMetric', outfile_prefix=str(tmp_path / 'single'),
                            **cfg))
    single.process(samples[:4])
    single.process(samples[4:])
    expected = single.evaluate(len(samples))

    data_file = tmp_path / 'samples.pt'
    torch.save(dict(samples=samples, cfg=cfg), data_file)
    # pytest's importlib mode gives this module a name the spawned children cannot import;
    # import it by file name from a sys.path entry they inherit.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    worker = importlib.import_module(Path(__file__).stem)._ddp_worker
    torch.multiprocessing.spawn(worker, args=(2, free_port(), str(data_file),
                                                   str(tmp_path)), nprocs=2, join=True)
    # The ground-truth meshes are float32 and made in batches of different sizes (4 + 3
    # here, 2 at a time per rank), so results agree to float32 rounding (~1e-7), not bit
    # for bit; a lost or duplicated sample would move the means by percents.
    for rank in range(2):
        got = torch.load(tmp_path / f'metrics_{rank}.pt', weights_only=False)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-6), key
    single_records = json.loads((tmp_path / 'single.per_sample.json').read_text())['samples']
    ddp_records = json.loads((tmp_path / 'ddp.per_sample.json').read_text())['samples']
    assert [r['sample_idx'] for r in ddp_records] == list(range(len(samples)))
    for a, b in zip(single_records, ddp_records):
        assert a['mpjpe'] == pytest.approx(b['mpjpe'], rel=1e-6)
