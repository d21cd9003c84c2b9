"""Mean body and mean crop camera of a training split (mroi_plugin.datasets.mean_params)."""
import os.path as osp
import sys

import numpy as np
import pytest

from mroi_plugin.datasets.mean_params import (
    mean_crop_camera,
    mean_params_crop_box,
    write_mean_params,
)
from mroi_plugin.geometry import DEFAULT_CROP_CAMERA
from mroi_plugin.models.heads import load_mean_params

sys.path.insert(0, osp.dirname(__file__))
from humandata_factory import dump_human_data, make_human_data  # noqa: E402


def _expected_cameras(data, crop_aspect, scale_factor):
    """Each sample's crop camera written out from the definitions, in numpy."""
    x, y, w, h = np.asarray(data['bbox_xywh'], np.float64)[:, :4].T
    center = np.stack([x + w / 2, y + h / 2], axis=1)
    size = np.maximum(h, w / crop_aspect) * scale_factor
    focal = np.asarray(data['cam_param']['focal_length'], np.float64).mean(axis=1)
    principal = np.asarray(data['cam_param']['principal_point'], np.float64)
    transl = np.asarray(data['smpl']['transl'], np.float64)
    depth = transl[:, 2]
    scale = 2 * focal / (size * depth)
    trans_xy = transl[:, :2] - (center - principal) * depth[:, None] / focal[:, None]
    return np.concatenate([scale[:, None], trans_xy], axis=1)


@pytest.mark.parametrize('crop_size,scale_factor', [((256, 192), 1.2), ((100, 100), 1.1)])
def test_mean_crop_camera_matches_the_definition(tmp_path, crop_size, scale_factor):
    data = make_human_data(num_samples=7, camera='focal_length')
    path = dump_human_data(str(tmp_path / 'train.npz'), data)
    cams = _expected_cameras(data, crop_size[1] / crop_size[0], scale_factor)
    got = mean_crop_camera(path, crop_size, scale_factor)
    assert int(got['count']) == 7
    np.testing.assert_allclose(got['cam'], cams.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(got['log_scale'], np.log(cams[:, 0]).mean(), rtol=1e-5)
    # The geometric mean is below the arithmetic one unless every scale is equal.
    assert np.exp(got['log_scale']) < got['cam'][0]


def test_samples_without_a_usable_translation_are_left_out(tmp_path):
    data = make_human_data(num_samples=6, camera='focal_length')
    data['smpl']['transl'][1] = np.nan
    data['smpl']['transl'][2, 2] = -4.0  # behind the camera
    path = dump_human_data(str(tmp_path / 'train.npz'), data)
    keep = [0, 3, 4, 5]
    got = mean_crop_camera(path)
    assert int(got['count']) == 4
    np.testing.assert_allclose(got['cam'], _expected_cameras(data, 0.75, 1.2)[keep].mean(axis=0),
                               rtol=1e-5)


def test_written_file_and_how_regressors_read_it(tmp_path):
    data = make_human_data(num_samples=5, camera='focal_length')
    path = dump_human_data(str(tmp_path / 'train.npz'), data)
    out = write_mean_params(path, str(tmp_path / 'mean_params.npz'), crop_size=(256, 192),
                            padding=1.2)
    assert mean_params_crop_box(out) == dict(crop_aspect=0.75, padding=1.2)
    cams = _expected_cameras(data, 0.75, 1.2)
    linear = load_mean_params(out)['cam'].numpy()
    log = load_mean_params(out, scale_param='log')['cam'].numpy()
    np.testing.assert_allclose(linear, cams.mean(axis=0), rtol=1e-5)
    # A regressor of log s starts at the mean of log s; the translations are the same.
    np.testing.assert_allclose(log[0], np.exp(np.log(cams[:, 0]).mean()), rtol=1e-5)
    np.testing.assert_allclose(log[1:], linear[1:])


def test_without_translations_the_file_keeps_spins_camera(tmp_path):
    data = make_human_data(num_samples=4, transl=False)
    path = dump_human_data(str(tmp_path / 'train.npz'), data)
    assert mean_crop_camera(path) is None
    out = write_mean_params(path, str(tmp_path / 'mean_params.npz'))
    assert mean_params_crop_box(out) is None
    for scale_param in ('linear', 'log'):
        np.testing.assert_allclose(load_mean_params(out, scale_param=scale_param)['cam'],
                                   DEFAULT_CROP_CAMERA, rtol=1e-6)
