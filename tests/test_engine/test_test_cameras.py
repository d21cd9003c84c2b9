"""Test-time cameras of MultiRoIHMR: 'roi0', 'mean' and the box-fitted 'fit', side by side."""
import pytest
import torch
from mmengine.runner import Runner

from mroi_plugin.geometry import (
    bbox_xyxy_to_roi,
    cam_crop_to_full,
    fuse_full_cameras,
    perspective_projection,
)
from mroi_plugin.utils import register_all_modules

from .conftest import tiny_config

register_all_modules(init_default_scope=False)


def _predict(cfg):
    runner = Runner.from_cfg(cfg)
    batch = next(iter(runner.build_dataloader(cfg.val_dataloader)))
    model = runner.model.eval()
    with torch.no_grad():
        return model.test_step(batch)


def test_fit_camera_makes_the_predicted_mesh_fill_roi0_as_the_pipeline_made_it(
        tiny_data, tmp_path):
    """Independent check: project the predicted mesh with the fitted translation, take its
    tight box and pad it as the pipeline does (crop aspect, bbox_padding): that is RoI 0."""
    cfg = tiny_config(tiny_data, tmp_path, **{'model.test_cfg': dict(
        camera='fit', extra_cameras=('roi0', 'mean'))})
    samples = _predict(cfg)
    for sample in samples:
        crop_h, crop_w = sample.metainfo['crop_size']
        padding = sample.metainfo['bbox_padding']
        assert padding == pytest.approx(1.2)
        pixels = perspective_projection(sample.pred_vertices.double(),
                                        sample.pred_cam_full.double(),
                                        sample.focal_length.double(),
                                        sample.principal_point.double())
        xyxy = torch.cat([pixels.amin(0), pixels.amax(0)])
        center, size = bbox_xyxy_to_roi(xyxy, crop_w / crop_h, padding)
        torch.testing.assert_close(center.float(), sample.roi_centers[0], rtol=0, atol=1e-3)
        assert float(size) == pytest.approx(float(sample.roi_sizes[0]), rel=1e-5)
        # the other cameras come along under their own names, as 'roi0' and 'mean' make them
        num_rois = len(sample.roi_sizes)
        per_roi = cam_crop_to_full(sample.pred_cam_crop, sample.roi_centers, sample.roi_sizes,
                                   sample.focal_length.expand(num_rois),
                                   sample.principal_point.expand(num_rois, 2))
        torch.testing.assert_close(sample.pred_cam_full_roi0, per_roi[0])
        torch.testing.assert_close(sample.pred_cam_full_mean, fuse_full_cameras(per_roi))
    assert 'pred_cam_full_fit' not in samples[0]  # the main camera is pred_cam_full only


def test_roi0_and_mean_are_unchanged_and_fit_is_an_extra_column(tiny_data, tmp_path):
    plain = _predict(tiny_config(tiny_data, tmp_path / 'a', **{
        'model.test_cfg': dict(camera='roi0', extra_cameras=())}))
    extra = _predict(tiny_config(tiny_data, tmp_path / 'b', **{
        'model.test_cfg': dict(camera='roi0', extra_cameras=('fit', 'mean'))}))
    for a, b in zip(plain, extra):
        torch.testing.assert_close(a.pred_cam_full, b.pred_cam_full, rtol=0, atol=0)
        assert b.pred_cam_full_fit.shape == b.pred_cam_full_mean.shape == (3, )
        assert 'pred_cam_full_fit' not in a


def test_fit_without_the_box_facts_gets_one_actionable_error(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path, **{'model.test_cfg.camera': 'fit'})
    runner = Runner.from_cfg(cfg)
    batch = next(iter(runner.build_dataloader(cfg.val_dataloader)))
    for sample in batch['data_samples']:
        del sample.bbox_padding
    with pytest.raises(ValueError, match="camera 'fit' needs 'bbox_padding' and 'crop_size'"):
        runner.model.eval().test_step(batch)
    # As an extra camera (a report beside the main one) it is left out of such samples.
    runner.model.test_cfg.update(camera='roi0', extra_cameras=('fit', ))
    batch['data_samples'][0].set_metainfo({'bbox_padding': 1.2})
    with torch.no_grad():
        out = runner.model.eval().test_step(batch)
    assert 'pred_cam_full_fit' in out[0]
    assert all('pred_cam_full_fit' not in s and 'pred_cam_full' in s for s in out[1:])


def test_unknown_test_camera_is_refused(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path, **{'model.test_cfg.extra_cameras': ('median', )})
    with pytest.raises(ValueError, match=r"among \('roi0', 'mean', 'fit'\), got 'median'"):
        Runner.from_cfg(cfg)
