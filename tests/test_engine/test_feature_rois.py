"""Feature-level RoIs end to end: same geometry and losses as crop mode, training, inference."""
import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from mroi_plugin.apis import inference_mesh, init_model
from mroi_plugin.utils import register_all_modules

from .conftest import tiny_config

register_all_modules(init_default_scope=False)

CONTEXT_SIZE = (64, 48)  # multiples of the tiny TinyConvNet's stride 16
GEOMETRY = ('bbox_info', 'roi_centers', 'roi_sizes', 'crop_trans', 'keypoints2d_crop',
            'keypoints3d', 'keypoints2d', 'smpl_global_orient', 'smpl_transl', 'focal_length',
            'principal_point')


def feature_config(cfg):
    """``cfg`` in feature mode, as configs/quickstart/mroi_synthetic_feature.py does it."""
    cfg.model.roi_sampler = dict(type='RoIFeatureSampler')
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        for step in loader.dataset.pipeline:
            if step.type == 'MultiRoICrop':
                step.type = 'MultiRoIContextCrop'
                step.context_size = CONTEXT_SIZE
    return cfg


def _model_and_batch(cfg):
    runner = Runner.from_cfg(cfg)
    batch = next(iter(runner.build_dataloader(cfg.val_dataloader)))
    return runner.model, runner.model.data_preprocessor(batch, False)


def test_feature_mode_keeps_the_crop_mode_geometry(tiny_data, tmp_path):
    _, crop = _model_and_batch(tiny_config(tiny_data, tmp_path / 'crop'))
    _, feature = _model_and_batch(feature_config(tiny_config(tiny_data, tmp_path / 'feature')))
    num_people = len(crop['data_samples'])
    assert crop['inputs'].shape == (num_people * 3, 3, 64, 48)
    assert feature['inputs'].shape == (num_people, 3) + CONTEXT_SIZE
    for crop_sample, feature_sample in zip(crop['data_samples'], feature['data_samples']):
        for key in GEOMETRY:
            torch.testing.assert_close(feature_sample.get(key), crop_sample.get(key), rtol=0,
                                       atol=0, msg=key)
        assert feature_sample.roi_boxes_context.shape == (3, 4)


def test_feature_mode_losses_and_gradients(tiny_data, tmp_path):
    crop_model, crop = _model_and_batch(tiny_config(tiny_data, tmp_path / 'crop'))
    model, data = _model_and_batch(feature_config(tiny_config(tiny_data, tmp_path / 'feature')))
    model.train()
    crop_model.train()
    losses = model(**data, mode='loss')
    assert set(losses) == set(crop_model(**crop, mode='loss'))
    assert all(torch.isfinite(value) for value in losses.values())
    model.parse_losses(losses)[0].backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(grads[name] is not None and grads[name].abs().sum() > 0
               for name in grads if name.startswith('backbone.'))
    with torch.no_grad():
        preds = model(**data, mode='tensor')
    assert preds['pred_cam_crop'].shape == (len(data['data_samples']), 3, 3)
    assert preds['keypoints2d_crop'].shape[:2] == (len(data['data_samples']), 3)


def test_crop_inputs_in_feature_mode_get_an_actionable_error(tiny_data, tmp_path):
    model, _ = _model_and_batch(feature_config(tiny_config(tiny_data, tmp_path / 'feature')))
    _, crop = _model_and_batch(tiny_config(tiny_data, tmp_path / 'crop'))
    with pytest.raises(ValueError, match='MultiRoIContextCrop instead of MultiRoICrop'):
        model(**crop, mode='predict')


def test_feature_mode_trains_and_evaluates(tiny_data, tmp_path):
    cfg = feature_config(tiny_config(tiny_data, tmp_path, max_iters=2))
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}
    runner.train()
    after = runner.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())
    metrics = runner.val_loop.run()
    assert np.isfinite(metrics['hmr/pa_mpjpe'])


def test_inference_mesh_in_feature_mode(tiny_data, tmp_path):
    cfg = feature_config(tiny_config(tiny_data, tmp_path))
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='random weights'):
        model = init_model(cfg)
    ann = np.load(tiny_data / 'synthetic' / 'test.npz', allow_pickle=True)
    x, y, w, h = ann['bbox_xywh'][0, :4].astype(np.float64)
    people = inference_mesh(model, str(tiny_data / 'synthetic' / str(ann['image_path'][0])),
                            [[x, y, x + w, y + h], [x + 10, y, x + w + 10, y + h]])
    assert len(people) == 2
    assert people[0]['cam_crop'].shape == (3, 3)
    assert np.isfinite(people[0]['vertices']).all()
    assert not np.allclose(people[0]['cam_full'], people[1]['cam_full'])
