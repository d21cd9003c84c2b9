"""IterativeRegressor (IEF) and the SMPL mean parameters it starts from."""
import os

import numpy as np
import pytest
import torch

from mroi_plugin.geometry import rot6d_to_rotmat
from mroi_plugin.models.heads import IterativeRegressor, default_mean_params, load_mean_params
from mroi_plugin.registry import MODELS

MEAN_PARAMS = '/work/shared/data/smpl_mean_params.npz'
DIM = 12


def _regressor(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('hidden_channels', 32)
    kwargs.setdefault('init_params', dict(a=[1.0, 2.0], b=[0.5, -0.5, 0.0]))
    return IterativeRegressor(DIM, **kwargs)


def test_zero_output_layers_return_the_start_values():
    regressor = _regressor(cond_channels=3)
    for decoder in regressor.decoders.values():
        torch.nn.init.zeros_(decoder.weight)
    out = regressor(torch.randn(4, 5, DIM), torch.randn(4, 5, 3))
    torch.testing.assert_close(out['a'], torch.tensor([1.0, 2.0]).expand(4, 5, 2))
    torch.testing.assert_close(out['b'], torch.tensor([0.5, -0.5, 0.0]).expand(4, 5, 3))


@pytest.mark.parametrize('num_iters', [1, 3])
def test_each_iteration_adds_one_delta(num_iters):
    # Constant output layers (zero weight, bias d) add d per iteration: theta = theta0 + T d.
    regressor = _regressor(num_iters=num_iters)
    for decoder in regressor.decoders.values():
        torch.nn.init.zeros_(decoder.weight)
        torch.nn.init.constant_(decoder.bias, 0.25)
    out = regressor(torch.randn(3, DIM))
    torch.testing.assert_close(out['a'], (torch.tensor([1.0, 2.0]) + 0.25 * num_iters).expand(3, 2))


def test_start_values_feed_back_into_the_input():
    # The previous estimate is part of x, so a different start changes the delta too.
    regressor = _regressor().eval()
    feat = torch.randn(2, DIM)
    out_default = regressor(feat)
    start = torch.tensor([5.0, -5.0])
    out_custom = regressor(feat, init=dict(a=start))
    delta_default = out_default['a'] - torch.tensor([1.0, 2.0])
    delta_custom = out_custom['a'] - start
    assert (delta_default - delta_custom).abs().max() > 1e-6


def test_default_init_stays_near_the_start_and_gradients_flow():
    regressor = _regressor(hidden_channels=1024).eval()
    feat = torch.randn(8, DIM, requires_grad=True)
    out = regressor(feat)
    assert (out['a'] - torch.tensor([1.0, 2.0])).abs().max() < 0.05
    (out['a'].sum() + out['b'].sum()).backward()
    assert feat.grad.abs().sum() > 0
    for name, param in regressor.named_parameters():
        assert param.grad is not None, name


def test_relu_option_and_registry():
    regressor = MODELS.build(
        dict(type='IterativeRegressor', in_channels=DIM, init_params=dict(cam=[0.9, 0, 0]),
             hidden_channels=16, act_cfg=dict(type='ReLU')))
    assert sum(isinstance(m, torch.nn.ReLU) for m in regressor.layers) == 2
    assert regressor(torch.randn(2, DIM))['cam'].shape == (2, 3)


def test_bad_inputs_raise():
    regressor = _regressor(cond_channels=3)
    with pytest.raises(ValueError, match='cond'):
        regressor(torch.randn(2, DIM))
    with pytest.raises(ValueError, match='feat'):
        regressor(torch.randn(2, DIM + 1), torch.randn(2, 3))
    with pytest.raises(ValueError, match='unknown outputs'):
        regressor(torch.randn(2, DIM), torch.randn(2, 3), init=dict(c=torch.zeros(1)))
    with pytest.raises(ValueError, match='cond_channels'):
        _regressor()(torch.randn(2, DIM), torch.randn(2, 3))
    with pytest.raises(ValueError, match='num_iters'):
        _regressor(num_iters=0)


def test_default_mean_params_are_identity_zero_and_spin_camera():
    params = default_mean_params(num_betas=10)
    assert params['pose'].shape == (144, ) and params['shape'].shape == (10, )
    torch.testing.assert_close(rot6d_to_rotmat(params['pose'].view(24, 6)),
                               torch.eye(3).expand(24, 3, 3))
    torch.testing.assert_close(params['shape'], torch.zeros(10))
    torch.testing.assert_close(params['cam'], torch.tensor([0.9, 0.0, 0.0]))
    assert load_mean_params(None, 10)['cam'].tolist() == params['cam'].tolist()


@pytest.mark.skipif(not os.path.isfile(MEAN_PARAMS), reason='shared sample data not present')
def test_load_real_mean_params():
    params = load_mean_params(MEAN_PARAMS)
    with np.load(MEAN_PARAMS) as data:
        np.testing.assert_allclose(params['pose'].numpy(), data['pose'].reshape(-1))
        np.testing.assert_allclose(params['shape'].numpy(), data['shape'].reshape(-1))
    torch.testing.assert_close(params['cam'], torch.tensor([0.9, 0.0, 0.0]))
    rotmat = rot6d_to_rotmat(params['pose'].view(24, 6))
    torch.testing.assert_close(torch.det(rotmat), torch.ones(24))


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_load_mean_params_pads_or_truncates_betas(tmp_path):
    path = _write_npz(tmp_path / 'mean.npz', pose=np.zeros(144), shape=np.arange(10.0),
                      cam=np.array([0.9, 0, 0]))
    assert load_mean_params(path, num_betas=12)['shape'].tolist() == list(range(10)) + [0, 0]
    assert load_mean_params(path, num_betas=4)['shape'].tolist() == [0, 1, 2, 3]


def test_load_mean_params_errors_name_file_and_key(tmp_path):
    missing = tmp_path / 'nope.npz'
    with pytest.raises(FileNotFoundError, match='nope.npz'):
        load_mean_params(str(missing))
    corrupt = tmp_path / 'corrupt.npz'
    corrupt.write_bytes(b'this is not a zip file')
    with pytest.raises(ValueError, match='corrupt.npz'):
        load_mean_params(str(corrupt))
    no_cam = _write_npz(tmp_path / 'no_cam.npz', pose=np.zeros(144), shape=np.zeros(10))
    with pytest.raises(ValueError, match="no_cam.npz.*'cam'"):
        load_mean_params(no_cam)
    bad_pose = _write_npz(tmp_path / 'bad_pose.npz', pose=np.zeros(72), shape=np.zeros(10),
                          cam=np.zeros(3))
    with pytest.raises(ValueError, match="'pose' has shape"):
        load_mean_params(bad_pose)


def test_bbox_info_regressor_is_the_plain_regressor_conditioned_on_bbox_info():
    from mroi_plugin.models.heads.iterative_regressor import bbox_info_regressor
    settings = dict(num_iters=2, hidden_channels=32, dropout=0.2, act_cfg=dict(type='ReLU'))
    init = dict(a=[1.0, 2.0], b=[0.5, -0.5, 0.0])
    for extra in (0, 3):
        torch.manual_seed(0)
        built = bbox_info_regressor(DIM, init, settings, extra_cond_channels=extra)
        # The same modules, in the same order, from the same random state.
        expected = _regressor(cond_channels=3 + extra, **dict(settings, init_params=init))
        assert built.cond_channels == 3 + extra and built.num_iters == 2
        assert str(built) == str(expected)
        for (name, value), (name2, value2) in zip(built.state_dict().items(),
                                                  expected.state_dict().items()):
            assert name == name2 and torch.equal(value, value2), name
