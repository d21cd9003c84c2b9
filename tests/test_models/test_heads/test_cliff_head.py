"""CliffHead: outputs, start at the mean parameters, RoI 0's mesh with per-RoI cameras."""
import os

import pytest
import torch

from mroi_plugin.geometry import rot6d_to_rotmat
from mroi_plugin.models.heads import CliffHead, load_mean_params
from mroi_plugin.registry import MODELS

MEAN_PARAMS = '/work/shared/data/smpl_mean_params.npz'
DIM = 16
HIDDEN = 32


def _head(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('hidden_channels', HIDDEN)
    return CliffHead(DIM, **kwargs)


def _inputs(batch=2, num_rois=1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, num_rois, DIM, generator=gen),
            torch.randn(batch, DIM, generator=gen),
            torch.randn(batch, num_rois, 3, generator=gen))


@pytest.mark.parametrize('num_rois', [1, 4])
def test_output_shapes_and_rotations(num_rois):
    out = _head().eval()(*_inputs(num_rois=num_rois))
    assert out['pred_rotmat'].shape == (2, 24, 3, 3)
    assert out['pred_pose6d'].shape == (2, 144)
    assert out['pred_betas'].shape == (2, 10)
    assert out['pred_cam_crop'].shape == (2, num_rois, 3)
    torch.testing.assert_close(out['pred_rotmat'],
                               rot6d_to_rotmat(out['pred_pose6d'].view(2, 24, 6)))
    rotmat = out['pred_rotmat']
    torch.testing.assert_close(rotmat @ rotmat.transpose(-1, -2), torch.eye(3).expand_as(rotmat),
                               atol=1e-5, rtol=0)


@pytest.mark.skipif(not os.path.isfile(MEAN_PARAMS), reason='shared sample data not present')
def test_starts_at_the_mean_parameters_from_file():
    head = _head(mean_params=MEAN_PARAMS).eval()
    means = load_mean_params(MEAN_PARAMS)
    for decoder in head.regressor.decoders.values():
        torch.nn.init.zeros_(decoder.weight)
    out = head(*_inputs(num_rois=3))
    torch.testing.assert_close(out['pred_pose6d'], means['pose'].expand(2, 144))
    mean_rotmat = rot6d_to_rotmat(means['pose'].view(24, 6))
    torch.testing.assert_close(out['pred_rotmat'], mean_rotmat.expand(2, 24, 3, 3))
    torch.testing.assert_close(out['pred_betas'], means['shape'].expand(2, 10))
    torch.testing.assert_close(out['pred_cam_crop'], torch.tensor([0.9, 0.0, 0.0]).expand(2, 3, 3))


@pytest.mark.skipif(not os.path.isfile(MEAN_PARAMS), reason='shared sample data not present')
def test_default_initialisation_gives_near_mean_outputs():
    torch.manual_seed(0)
    head = CliffHead(DIM, mean_params=MEAN_PARAMS).eval()  # full 1024-wide regressor
    means = load_mean_params(MEAN_PARAMS)
    out = head(*_inputs(batch=8))
    assert (out['pred_pose6d'] - means['pose']).abs().max() < 0.05
    assert (out['pred_betas'] - means['shape']).abs().max() < 0.05
    assert (out['pred_cam_crop'] - torch.tensor([0.9, 0.0, 0.0])).abs().max() < 0.05


def test_mesh_comes_from_roi0_cameras_from_every_roi():
    head = _head().eval()
    roi_feats, shared, bbox_info = _inputs(num_rois=3)
    out = head(roi_feats, shared, bbox_info)
    changed = roi_feats.clone()
    changed[:, 1] += 1.0
    out_1 = head(changed, shared, bbox_info)
    torch.testing.assert_close(out_1['pred_pose6d'], out['pred_pose6d'])
    torch.testing.assert_close(out_1['pred_betas'], out['pred_betas'])
    torch.testing.assert_close(out_1['pred_cam_crop'][:, [0, 2]], out['pred_cam_crop'][:, [0, 2]])
    assert (out_1['pred_cam_crop'][:, 1] - out['pred_cam_crop'][:, 1]).abs().max() > 1e-6
    changed = roi_feats.clone()
    changed[:, 0] += 1.0
    out_0 = head(changed, shared, bbox_info)
    assert (out_0['pred_pose6d'] - out['pred_pose6d']).abs().max() > 1e-6
    # CLIFF ignores the shared feature.
    torch.testing.assert_close(head(roi_feats, None, bbox_info)['pred_cam_crop'],
                               out['pred_cam_crop'])


def test_n1_roi_equals_the_single_roi_regressor():
    head = _head().eval()
    roi_feats, shared, bbox_info = _inputs(num_rois=1)
    out = head(roi_feats, shared, bbox_info)
    direct = head.regressor(roi_feats[:, 0], bbox_info[:, 0])
    torch.testing.assert_close(out['pred_cam_crop'][:, 0], direct['cam'])
    torch.testing.assert_close(out['pred_pose6d'], direct['pose'])


def test_bbox_info_conditions_the_prediction_and_gradients_flow():
    head = _head()
    roi_feats, shared, bbox_info = _inputs(num_rois=2)
    roi_feats.requires_grad_(True)
    bbox_info.requires_grad_(True)
    out = head(roi_feats, shared, bbox_info)
    (out['pred_rotmat'].sum() + out['pred_betas'].sum() + out['pred_cam_crop'].sum()).backward()
    assert roi_feats.grad.abs().sum() > 0 and bbox_info.grad.abs().sum() > 0
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_registry_and_errors(tmp_path):
    head = MODELS.build(dict(type='CliffHead', in_channels=DIM, hidden_channels=HIDDEN))
    assert isinstance(head, CliffHead)
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        CliffHead(DIM, mean_params=str(tmp_path / 'missing.npz'))
    roi_feats, shared, bbox_info = _inputs(num_rois=2)
    with pytest.raises(ValueError, match='bbox_info'):
        head(roi_feats, shared, bbox_info[:, :1])
    with pytest.raises(ValueError, match='roi_feats'):
        head(roi_feats[..., :3], shared, bbox_info)
