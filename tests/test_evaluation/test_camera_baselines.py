"""Constant-camera baselines and per-RoI log-scale statistics, against hand-derived values.

Every number here is worked out by hand from CLIFF's formulas (``Tz = 2 f / (b s)``,
``Tx = tx + 2 (cx - px) / (b s)``), on a training set of two people whose crop cameras are
chosen to be round: f = 1000 px, principal point (500, 500), box of height 100 px centred on
it; person A at T = (0, 0, 20) m has s = 2000 / (100 * 20) = 1 and t = 0, person B at
T = (0.3, 0, 10) m has s = 2 and t = (0.3, 0).
"""
import math
import os.path as osp
import sys
from typing import Dict, List

import numpy as np
import pytest
import torch

from mroi_plugin.body_models import SMPL
from mroi_plugin.datasets.mean_params import training_crop_cameras
from mroi_plugin.evaluation import ConstantCameraBaselineMetric, HMRMetric
from mroi_plugin.geometry import cam_full_to_crop, relative_roi_layout
from mroi_plugin.registry import METRICS

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'test_datasets'))
from humandata_factory import dump_human_data, make_human_data  # noqa: E402

FOCAL, PRINCIPAL, BOX = 1000.0, (500.0, 500.0), 100.0
TRAIN_TRANSL = ((0.0, 0.0, 20.0), (0.3, 0.0, 10.0))
# The paper's 5-RoI table: (shift x, shift y) in units of b0, size factor.
ROI_TABLE = ((0.0, 0.0, 1.0), (0.1, 0.0, 1.5), (-0.1, 0.0, 1.25), (0.0, 0.1, 0.8),
             (0.0, -0.1, 0.65))
# The mean training camera (linear s): s = (1 + 2) / 2, t = ((0 + 0.3) / 2, 0); in the full
# image with the training box: Tz = 2000 / (100 * 1.5) = 40 / 3, Tx = 0.15.
MEAN_FULL = (0.15, 0.0, 40.0 / 3.0)


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> Dict[str, str]:
    from mroi_plugin.synthetic.standin import write_standin_smpl
    root = tmp_path_factory.mktemp('camera_baselines')
    paths = write_standin_smpl(str(root / 'body_models'), seed=0)
    raw = make_human_data(num_samples=2, seed=0, camera='focal_length')
    # Box of aspect 0.75 (the default crop's): with padding 1 its size is h = 100.
    raw['bbox_xywh'] = np.array([[PRINCIPAL[0] - 37.5, PRINCIPAL[1] - 50.0, 75.0, BOX, 1.0]] * 2)
    raw['cam_param'] = dict(focal_length=np.full((2, 2), FOCAL),
                            principal_point=np.array([PRINCIPAL] * 2))
    raw['smpl']['transl'] = np.asarray(TRAIN_TRANSL, dtype=np.float32)
    ann = dump_human_data(str(root / 'train.npz'), raw)
    no_transl = make_human_data(num_samples=2, seed=0, camera='focal_length', transl=False)
    return dict(body_model_dir=str(root / 'body_models'), joint_regressor=paths['h36m_regressor'],
                ann_file=ann, no_transl=dump_human_data(str(root / 'no_transl.npz'), no_transl))


# The training pipeline the cameras are measured with: padding 1, CLIFF's 256x192 crops.
PIPELINE = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale', padding=1.0),
            dict(type='MultiRoICrop', crop_size=(256, 192))]


def _metric(data, **kwargs) -> ConstantCameraBaselineMetric:
    kwargs.setdefault('pipeline', PIPELINE)
    return ConstantCameraBaselineMetric(
        ann_file=data['ann_file'], body_model_dir=data['body_model_dir'],
        joint_regressor=data['joint_regressor'], **kwargs)


def _sample(data, gt_transl, table=ROI_TABLE, pred_cam_crop=None) -> dict:
    """A test person with the mean body as GT and prediction, boxes of ``table``."""
    model = SMPL(data['body_model_dir'], gender='neutral')
    with torch.no_grad():
        vertices = model(betas=torch.zeros(1, 10), body_pose=torch.zeros(1, 23, 3),
                         global_orient=torch.zeros(1, 3))['vertices'][0]
    rows = torch.tensor(table, dtype=torch.float64)
    centers = torch.tensor(PRINCIPAL, dtype=torch.float64) + BOX * rows[:, :2]
    sample = dict(
        smpl_betas=torch.zeros(10), smpl_body_pose=torch.zeros(23, 3),
        smpl_global_orient=torch.zeros(3),
        smpl_transl=torch.tensor(gt_transl, dtype=torch.float64),
        has_smpl=torch.tensor(1.), has_transl=torch.tensor(1.), gender='neutral',
        pred_vertices=vertices, pred_cam_full=torch.zeros(3),
        roi_centers=centers, roi_sizes=BOX * rows[:, 2], focal_length=torch.tensor(FOCAL),
        principal_point=torch.tensor(PRINCIPAL))
    if pred_cam_crop is not None:
        sample['pred_cam_crop'] = pred_cam_crop
    return sample


def _evaluate(metric, samples: List[dict]) -> Dict[str, float]:
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def _gt_crop(sample) -> torch.Tensor:
    num = len(sample['roi_sizes'])
    return cam_full_to_crop(sample['smpl_transl'].expand(num, 3), sample['roi_centers'],
                            sample['roi_sizes'], torch.full((num, ), FOCAL, dtype=torch.float64),
                            torch.tensor(PRINCIPAL, dtype=torch.float64).expand(num, 2))


# ----------------------------------------------------------------- training statistics
def test_training_cameras_are_the_hand_derived_ones(data):
    cameras = torch.from_numpy(training_crop_cameras(data["ann_file"], padding=1.0))
    torch.testing.assert_close(cameras, torch.tensor([[1., 0., 0.], [2., 0.3, 0.]],
                                                     dtype=torch.float64), atol=1e-6, rtol=0)
    linear = _metric(data)
    torch.testing.assert_close(linear.mean_camera, torch.tensor([1.5, 0.15, 0.],
                                                                dtype=torch.float64),
                               atol=1e-6, rtol=0)
    # 'log' averages log s: the geometric mean sqrt(1 * 2); t is averaged as it is.
    log = _metric(data, scale_param='log')
    assert float(log.mean_camera[0]) == pytest.approx(math.sqrt(2.), rel=1e-6)
    assert float(log.mean_camera[1]) == pytest.approx(0.15, abs=1e-6)


def test_the_mean_camera_is_the_one_the_mean_params_file_gets(data):
    """One statistic, two readers: the model's start camera and this baseline agree."""
    from mroi_plugin.datasets.mean_params import mean_crop_camera
    stats = mean_crop_camera(data['ann_file'], padding=1.0)
    np.testing.assert_allclose(stats['cam'], _metric(data).mean_camera.numpy(), atol=1e-9)
    assert float(np.exp(stats['log_scale'])) == pytest.approx(
        float(_metric(data, scale_param='log').mean_camera[0]), rel=1e-9)


def test_per_roi_means_are_the_hand_derived_ones(data):
    """RoI 1 (shift 0.1 b0 right, 1.5x): A is seen with (1 / 1.5, 0 - 2 * 0.1 / 1) and B with
    (2 / 1.5, 0.3 - 2 * 0.1 / 2), so the mean is (1, 0, 0); the mean of s / r is always
    mean(s) / r."""
    sample = _sample(data, MEAN_FULL)
    layout = relative_roi_layout(sample['roi_centers'], sample['roi_sizes'])
    means = _metric(data, per_roi=True).roi_mean_cameras(layout)
    torch.testing.assert_close(means[0], torch.tensor([1.5, 0.15, 0.], dtype=torch.float64),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(means[1], torch.tensor([1.0, 0.0, 0.], dtype=torch.float64),
                               atol=1e-6, rtol=0)
    factors = torch.tensor([r[2] for r in ROI_TABLE], dtype=torch.float64)
    torch.testing.assert_close(means[:, 0], 1.5 / factors, atol=1e-6, rtol=0)


# ----------------------------------------------------------------- translation error
def test_a_constant_camera_equal_to_the_ground_truth_scores_zero(data):
    result = _evaluate(_metric(data), [_sample(data, MEAN_FULL)])
    assert set(result) == ({'constant_camera/transl_error'}
                           | {f'constant_camera/log_s_{s}_roi{k}'
                              for s in ('bias', 'std') for k in range(5)})
    assert result['constant_camera/transl_error'] == pytest.approx(0., abs=1e-3)
    # Carried to every RoI's box, the constant is that RoI's GT camera too.
    for k in range(5):
        assert result[f'constant_camera/log_s_bias_roi{k}'] == pytest.approx(0., abs=1e-6)


def test_a_known_depth_offset_gives_its_closed_form_error(data):
    """GT at Tz = 10 m, the constant at 40 / 3 m: 10 / 3 m off; and s_pred / s_gt =
    1.5 / 2 in every RoI, so the log-scale bias is log 0.75 with no spread."""
    samples = [_sample(data, (0.15, 0.0, 10.0))]
    result = _evaluate(_metric(data), samples)
    assert result['constant_camera/transl_error'] == pytest.approx(10000. / 3, rel=1e-6)
    for k in range(5):
        assert result[f'constant_camera/log_s_bias_roi{k}'] == pytest.approx(
            math.log(0.75), abs=1e-6)
        assert result[f'constant_camera/log_s_std_roi{k}'] == pytest.approx(0., abs=1e-9)


def test_a_shifted_box_moves_the_constant_by_its_closed_form(data):
    """The same crop camera in a box 100 px right of the principal point:
    Tx = 0.15 + 2 * 100 / (100 * 1.5) = 0.15 + 4 / 3 against a GT at Tx = 0.15."""
    table = ((0.0, 0.0, 1.0), )
    sample = _sample(data, MEAN_FULL, table=table)
    sample['roi_centers'] = sample['roi_centers'] + torch.tensor([100.0, 0.0],
                                                                 dtype=torch.float64)
    result = _evaluate(_metric(data), [sample])
    assert result['constant_camera/transl_error'] == pytest.approx(4000. / 3, rel=1e-6)


def test_per_roi_constant_with_roi0_fusion_is_the_global_constant(data):
    samples = [_sample(data, (0.15, 0.0, 10.0)), _sample(data, (-0.2, 0.1, 15.0))]
    global_ = _evaluate(_metric(data), [dict(s) for s in samples])
    per_roi = _evaluate(_metric(data, per_roi=True), [dict(s) for s in samples])
    assert set(per_roi) == {k.replace('constant_camera', 'roi_constant_camera')
                            for k in global_}
    assert per_roi['roi_constant_camera/transl_error'] == pytest.approx(
        global_['constant_camera/transl_error'], rel=1e-12)


def test_per_roi_constant_fused_in_log_depth_has_its_closed_form_error(data):
    """Two RoIs, the second 0.1 b0 right and 1.5x. Both means put the body at
    Tz = 2000 / (100 * 1.5) = 40 / 3 (mean s / r in a box r times larger); RoI 1 at
    Tx = 0 + 2 * 10 / (150 * 1) = 2 / 15 against RoI 0's 0.15, so the fused
    Tx = (0.15 + 2 / 15) / 2 is 1 / 120 m left of a GT at RoI 0's mean camera."""
    table = ROI_TABLE[:2]
    result = _evaluate(_metric(data, per_roi=True, camera='mean'),
                       [_sample(data, MEAN_FULL, table=table)])
    assert result['roi_constant_camera/transl_error'] == pytest.approx(1000. / 120, rel=1e-6)
    roi0 = _evaluate(_metric(data, per_roi=True), [_sample(data, MEAN_FULL, table=table)])
    assert roi0['roi_constant_camera/transl_error'] == pytest.approx(0., abs=1e-3)


def test_built_from_the_registry_with_the_documented_prefixes(data):
    common = dict(ann_file=data['ann_file'], body_model_dir=data['body_model_dir'],
                  joint_regressor=data['joint_regressor'], pipeline=PIPELINE)
    assert METRICS.build(dict(type='ConstantCameraBaselineMetric', **common)).prefix == \
        'constant_camera'
    assert METRICS.build(dict(type='ConstantCameraBaselineMetric', per_roi=True,
                              **common)).prefix == 'roi_constant_camera'


def test_bad_configuration_and_samples_raise(data):
    with pytest.raises(ValueError, match="camera must be one of"):
        _metric(data, camera='median')
    with pytest.raises(ValueError, match='scale_param must be one of'):
        _metric(data, scale_param='sqrt')
    with pytest.raises(ValueError, match='needs body_model_dir'):
        ConstantCameraBaselineMetric(ann_file=data['ann_file'],
                                     joint_regressor=data['joint_regressor'],
                                     gt_source='keypoints3d')
    with pytest.raises(ValueError, match='no sample has a translation'):
        _metric(dict(data, ann_file=data['no_transl']))
    sample = _sample(data, MEAN_FULL)
    del sample['roi_sizes']
    with pytest.raises(KeyError, match=r"\['roi_sizes'\].*PackHMRInputs"):
        _metric(data).process(None, [sample])


# ------------------------------------------------------ the model's log-scale statistics
def test_model_log_scale_bias_and_spread_per_roi(data):
    """RoI k's predicted s is the GT's times exp(d_k + e) on one person and exp(d_k - e) on
    the other, so each RoI's bias is d_k and its spread (population std) e."""
    metric = HMRMetric(body_model_dir=data['body_model_dir'],
                       joint_regressor=data['joint_regressor'])
    offsets = torch.tensor([0.0, 0.1, -0.2, 0.3, 0.05], dtype=torch.float64)
    spread = 0.02
    samples = []
    for sign, transl in ((1, (0.1, 0.0, 8.0)), (-1, (-0.3, 0.2, 12.0))):
        sample = _sample(data, transl)
        cam = _gt_crop(sample).clone()
        cam[:, 0] = cam[:, 0] * torch.exp(offsets + sign * spread)
        sample['pred_cam_crop'] = cam
        samples.append(sample)
    result = _evaluate(metric, samples)
    for k in range(5):
        assert result[f'hmr/log_s_bias_roi{k}'] == pytest.approx(float(offsets[k]), abs=1e-9)
        assert result[f'hmr/log_s_std_roi{k}'] == pytest.approx(spread, abs=1e-9)


def test_non_positive_predicted_scales_are_left_out(data):
    metric = HMRMetric(body_model_dir=data['body_model_dir'],
                       joint_regressor=data['joint_regressor'])
    good = _sample(data, (0.0, 0.0, 10.0), table=ROI_TABLE[:2])
    good['pred_cam_crop'] = _gt_crop(good)
    good['pred_cam_crop'][0, 0] *= 2.0  # RoI 0's scale twice the GT's, RoI 1's exact
    bad = _sample(data, (0.0, 0.0, 10.0), table=ROI_TABLE[:2])
    bad['pred_cam_crop'] = _gt_crop(bad)
    bad['pred_cam_crop'][0, 0] *= -1.0  # RoI 0's scale negative, RoI 1's exact
    metric.process(None, [good, bad])
    assert metric.results[1]['log_s_error'][0] is None
    result = metric.evaluate(2)
    assert result['hmr/log_s_bias_roi0'] == pytest.approx(math.log(2.), abs=1e-9)
    assert result['hmr/log_s_std_roi0'] == pytest.approx(0., abs=1e-12)
    assert result['hmr/log_s_bias_roi1'] == pytest.approx(0., abs=1e-9)


def test_a_camera_per_roi_is_required(data):
    sample = _sample(data, (0.0, 0.0, 10.0))
    sample['pred_cam_crop'] = torch.ones(2, 3)
    metric = HMRMetric(body_model_dir=data['body_model_dir'],
                       joint_regressor=data['joint_regressor'])
    with pytest.raises(ValueError, match='2 crop cameras.*5 RoI centres'):
        metric.process(None, [sample])


def test_without_crop_cameras_there_are_no_log_scale_keys(data):
    metric = HMRMetric(body_model_dir=data['body_model_dir'],
                       joint_regressor=data['joint_regressor'])
    result = _evaluate(metric, [_sample(data, MEAN_FULL)])
    assert not any('log_s' in k for k in result)


def test_the_mean_pose_baseline_has_no_camera(data):
    """The constant body is scored without the model's camera: neither the translation
    error nor the crop-scale statistics of the model appear under its prefix."""
    from mroi_plugin.evaluation import MeanPoseBaselineMetric
    metric = MeanPoseBaselineMetric(ann_file=data['ann_file'],
                                    body_model_dir=data['body_model_dir'],
                                    joint_regressor=data['joint_regressor'])
    sample = _sample(data, (0.1, 0.0, 8.0))
    sample['pred_cam_crop'] = _gt_crop(sample)
    result = _evaluate(metric, [sample])
    assert 'mean_pose/pa_mpjpe' in result
    assert not any('log_s' in k or 'transl' in k for k in result), result


def test_the_removed_crop_box_arguments_say_where_they_went(data):
    for removed in (dict(crop_aspect=0.75), dict(bbox_scale_factor=1.2)):
        with pytest.raises(ValueError, match=r'no longer arguments.*pipeline=train_pipeline'):
            _metric(data, **removed)
