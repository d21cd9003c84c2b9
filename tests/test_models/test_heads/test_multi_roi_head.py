"""MultiRoIHead and its LocalCamera decoder: what each output depends on, starts, gradients."""
import os

import pytest
import torch

from mroi_plugin.datasets.transforms.multi_roi_crop import ROI_TABLE_5
from mroi_plugin.geometry import cam_crop_to_full, carry_crop_camera, rot6d_to_rotmat
from mroi_plugin.models.heads import LocalCamera, MultiRoIHead, load_mean_params
from mroi_plugin.registry import MODELS

MEAN_PARAMS = '/work/shared/data/smpl_mean_params.npz'
DIM = 16
HIDDEN = 32


def _inputs(batch=2, num_rois=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, num_rois, DIM, generator=gen),
            torch.randn(batch, DIM, generator=gen),
            torch.randn(batch, num_rois, 3, generator=gen),
            _layout(batch, num_rois))


def _layout(batch=2, num_rois=5):
    """The paper's RoI table as relative_roi_layout gives it: (log r_k, dx_k, dy_k)."""
    table = torch.tensor(ROI_TABLE_5[:num_rois])
    layout = torch.cat([table[:, 2:].log(), table[:, :2]], dim=-1)
    return layout.expand(batch, num_rois, 3).clone()


def _head(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('hidden_channels', HIDDEN)
    return MultiRoIHead(DIM, **kwargs).eval()


def test_local_camera_shapes_shared_weights_and_start():
    torch.manual_seed(0)
    camera = LocalCamera(DIM, hidden_channels=HIDDEN).eval()
    roi_feats, _, bbox_info, layout = _inputs()
    cams = camera(roi_feats, bbox_info, layout)
    assert cams.shape == (2, 5, 3)
    # One regressor for every RoI: each camera depends on its own (F_i, info_i, layout_i) and
    # starts at the mean camera carried to its own box.
    start = carry_crop_camera(torch.tensor([0.9, 0.0, 0.0]), layout)
    for i in range(5):
        alone = camera.regressor(roi_feats[:, i], torch.cat([bbox_info[:, i], layout[:, i]], -1),
                                 init=dict(cam=start[:, i]))['cam']
        torch.testing.assert_close(cams[:, i], alone)
    perm = torch.tensor([4, 2, 0, 1, 3])
    torch.testing.assert_close(camera(roi_feats[:, perm], bbox_info[:, perm], layout[:, perm]),
                               cams[:, perm])
    torch.nn.init.zeros_(camera.regressor.decoders['cam'].weight)
    torch.testing.assert_close(camera(roi_feats, bbox_info, layout), start)
    with pytest.raises(ValueError, match='init_cam'):
        LocalCamera(DIM, init_cam=(1.0, 0.0))
    with pytest.raises(ValueError, match='init_mode'):
        LocalCamera(DIM, init_mode='carry')


@pytest.mark.parametrize('scale_param', ['linear', 'log'])
def test_local_camera_carried_start_is_one_full_camera(scale_param):
    # Hand-derived: RoI 1 (1.5x, shifted 0.1 b0 right) of a person at s0 = 1.2, t0 = (0.1, -0.2)
    # starts at s = 1.2 / 1.5 = 0.8, tx = 0.1 - 2 * 0.1 / 1.2.
    camera = LocalCamera(DIM, hidden_channels=HIDDEN, init_cam=(1.2, 0.1, -0.2),
                         scale_param=scale_param).eval()
    torch.nn.init.zeros_(camera.regressor.decoders['cam'].weight)
    roi_feats, _, bbox_info, layout = _inputs()
    cams = camera(roi_feats, bbox_info, layout)
    torch.testing.assert_close(cams[:, 1], torch.tensor([0.8, 0.1 - 0.2 / 1.2, -0.2]).expand(2, 3))
    # Every RoI's start is the same body in the full image (zero camera-consistency loss).
    centers = torch.tensor([300.0, 200.0]) + 100.0 * layout[..., 1:]
    sizes = 100.0 * layout[..., 0].exp()
    full = cam_crop_to_full(cams, centers, sizes, torch.full_like(sizes, 500.0),
                            torch.tensor([320.0, 240.0]).expand_as(centers))
    torch.testing.assert_close(full, full[:, :1].expand_as(full))


def test_local_camera_released_code_decoder():
    torch.manual_seed(0)
    camera = LocalCamera(DIM, hidden_channels=HIDDEN, init_mode='shared',
                         layout_input=False).eval()
    assert not camera.needs_layout
    assert camera.regressor.cond_channels == 3
    roi_feats, _, bbox_info, layout = _inputs()
    torch.testing.assert_close(camera(roi_feats, bbox_info), camera(roi_feats, bbox_info, layout))
    torch.nn.init.zeros_(camera.regressor.decoders['cam'].weight)
    torch.testing.assert_close(camera(roi_feats, bbox_info),
                               torch.tensor([0.9, 0, 0]).expand(2, 5, 3))


def test_local_camera_reads_the_layout_of_each_roi():
    torch.manual_seed(0)
    roi_feats, _, bbox_info, layout = _inputs()
    for mode in ('carried', 'shared'):
        camera = LocalCamera(DIM, hidden_channels=HIDDEN, init_mode=mode).eval()
        cams = camera(roi_feats, bbox_info, layout)
        moved = layout.clone()
        moved[:, 2] += 0.3
        out = camera(roi_feats, bbox_info, moved)
        keep = [0, 1, 3, 4]
        torch.testing.assert_close(out[:, keep], cams[:, keep])
        assert (out[:, 2] - cams[:, 2]).abs().max() > 1e-4
    with pytest.raises(ValueError, match='needs roi_layout'):
        camera(roi_feats, bbox_info)
    with pytest.raises(ValueError, match='roi_layout must have shape'):
        camera(roi_feats, bbox_info, layout[:, :4])
    # One RoI: the layout is zeros and may be left out.
    torch.testing.assert_close(camera(roi_feats[:, :1], bbox_info[:, :1]),
                               camera(roi_feats[:, :1], bbox_info[:, :1], layout[:, :1] * 0))


def test_output_shapes():
    out = _head()(*_inputs())
    assert out['pred_rotmat'].shape == (2, 24, 3, 3)
    assert out['pred_pose6d'].shape == (2, 144)
    assert out['pred_betas'].shape == (2, 10)
    assert out['pred_cam_crop'].shape == (2, 5, 3)
    torch.testing.assert_close(out['pred_rotmat'],
                               rot6d_to_rotmat(out['pred_pose6d'].view(2, 24, 6)))


def test_mesh_reads_shared_feature_and_roi0_info_cameras_read_each_roi():
    head = _head()
    roi_feats, shared, bbox_info, layout = _inputs()
    out = head(roi_feats, shared, bbox_info, layout)

    # RoI features only move the cameras.
    out_f = head(roi_feats + 1.0, shared, bbox_info, layout)
    torch.testing.assert_close(out_f['pred_pose6d'], out['pred_pose6d'])
    assert (out_f['pred_cam_crop'] - out['pred_cam_crop']).abs().max() > 1e-6

    # The shared feature only moves the mesh.
    out_s = head(roi_feats, shared + 1.0, bbox_info, layout)
    torch.testing.assert_close(out_s['pred_cam_crop'], out['pred_cam_crop'])
    assert (out_s['pred_pose6d'] - out['pred_pose6d']).abs().max() > 1e-6
    assert (out_s['pred_betas'] - out['pred_betas']).abs().max() > 1e-6

    # RoI 1's bbox_info moves RoI 1's camera only; RoI 0's also moves the mesh.
    info_1 = bbox_info.clone()
    info_1[:, 1] += 0.5
    out_1 = head(roi_feats, shared, info_1, layout)
    torch.testing.assert_close(out_1['pred_pose6d'], out['pred_pose6d'])
    keep = [0, 2, 3, 4]
    torch.testing.assert_close(out_1['pred_cam_crop'][:, keep], out['pred_cam_crop'][:, keep])
    assert (out_1['pred_cam_crop'][:, 1] - out['pred_cam_crop'][:, 1]).abs().max() > 1e-6
    info_0 = bbox_info.clone()
    info_0[:, 0] += 0.5
    assert (head(roi_feats, shared, info_0, layout)['pred_pose6d']
            - out['pred_pose6d']).abs().max() > 1e-6


@pytest.mark.skipif(not os.path.isfile(MEAN_PARAMS), reason='shared sample data not present')
def test_starts_at_mean_parameters_and_passes_the_mean_camera():
    head = _head(mean_params=MEAN_PARAMS)
    means = load_mean_params(MEAN_PARAMS)
    torch.testing.assert_close(head.camera_decoder.regressor.init_value('cam'), means['cam'])
    for decoder in head.mesh_decoder.decoders.values():
        torch.nn.init.zeros_(decoder.weight)
    torch.nn.init.zeros_(head.camera_decoder.regressor.decoders['cam'].weight)
    inputs = _inputs()
    out = head(*inputs)
    torch.testing.assert_close(out['pred_pose6d'], means['pose'].expand(2, 144))
    torch.testing.assert_close(out['pred_betas'], means['shape'].expand(2, 10))
    torch.testing.assert_close(out['pred_cam_crop'], carry_crop_camera(means['cam'], inputs[3]))


def test_camera_decoder_config_overrides_head_defaults():
    head = _head(camera_decoder=dict(type='LocalCamera', init_cam=(1.2, 0.1, 0.0), num_iters=1,
                                     hidden_channels=8))
    regressor = head.camera_decoder.regressor
    assert regressor.num_iters == 1 and regressor.layers[0].out_features == 8
    torch.testing.assert_close(regressor.init_value('cam'), torch.tensor([1.2, 0.1, 0.0]))
    assert head.mesh_decoder.num_iters == 3


def test_gradients_reach_every_input_and_parameter():
    head = _head().train()
    roi_feats, shared, bbox_info, layout = _inputs()
    for tensor in (roi_feats, shared, bbox_info):
        tensor.requires_grad_(True)
    out = head(roi_feats, shared, bbox_info, layout)
    (out['pred_rotmat'].sum() + out['pred_betas'].sum() + out['pred_cam_crop'].sum()).backward()
    for tensor in (roi_feats, shared, bbox_info):
        assert tensor.grad.abs().sum() > 0
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_registry_n1_and_errors():
    head = MODELS.build(dict(type='MultiRoIHead', in_channels=DIM, hidden_channels=HIDDEN))
    assert isinstance(head.camera_decoder, LocalCamera)
    roi_feats, shared, bbox_info, _ = _inputs(num_rois=1)
    assert head(roi_feats, shared, bbox_info)['pred_cam_crop'].shape == (2, 1, 3)
    with pytest.raises(ValueError, match='shared_feat'):
        head(roi_feats, None, bbox_info)
    with pytest.raises(ValueError, match='shared_feat'):
        head(roi_feats, shared[:1], bbox_info)


@pytest.mark.parametrize('head_type', ['LocalCamera', 'CliffHead'])
def test_log_scale_cameras_start_at_the_mean_and_stay_positive(head_type):
    torch.manual_seed(0)
    build = dict(type=head_type, in_channels=DIM, hidden_channels=HIDDEN, scale_param='log')
    if head_type == 'LocalCamera':
        build['init_cam'] = (1.3, 0.1, -0.1)
    module = MODELS.build(build).eval()
    regressor = module.regressor
    roi_feats, _, bbox_info, layout = _inputs()
    if head_type == 'LocalCamera':
        layout = torch.zeros_like(layout)  # every RoI the original box: one start camera
    # The regressor holds log s: zero output weights give back the start camera exactly.
    torch.nn.init.zeros_(regressor.decoders['cam'].weight)
    start = torch.tensor([1.3, 0.1, -0.1] if head_type == 'LocalCamera' else [0.9, 0, 0])
    cams = module(roi_feats, bbox_info, layout) if head_type == 'LocalCamera' else module(
        roi_feats, None, bbox_info)['pred_cam_crop']
    torch.testing.assert_close(cams, start.expand(2, 5, 3))
    # A large negative update of the raw scale still decodes to s > 0.
    with torch.no_grad():
        regressor.decoders['cam'].bias[0] = -5.0
    cams = module(roi_feats, bbox_info, layout) if head_type == 'LocalCamera' else module(
        roi_feats, None, bbox_info)['pred_cam_crop']
    assert (cams[..., 0] > 0).all()
