"""``MultiRoIHMR(contrastive_pooling=...)``: which features the contrastive loss sees."""
import pytest
import torch
from mmengine.runner import Runner

from mroi_plugin.utils import register_all_modules

from .conftest import tiny_config

register_all_modules(init_default_scope=False)


def _model_and_batch(cfg):
    runner = Runner.from_cfg(cfg)
    model = runner.model
    batch = next(iter(runner.build_dataloader(cfg.val_dataloader)))
    return model, model.data_preprocessor(batch, False)


@pytest.mark.parametrize('pooling', [None, dict(type='GlobalAveragePooling')])
def test_contrastive_features_come_from_the_configured_pooling(pooling, tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path)
    cfg.model.contrastive_pooling = pooling
    model, data = _model_and_batch(cfg)
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='tensor')
        maps = model.backbone(data['inputs'])
    num_people = len(data['data_samples'])
    if pooling is None:
        # The paper's set-up: the loss sees the head's pooled features.
        assert preds['contrastive_feats'] is preds['feats']
    else:
        # Independent truth: the spatial mean of the last backbone map, per RoI.
        expected = maps[-1].mean(dim=(2, 3)).view(num_people, -1, maps[-1].shape[1])
        torch.testing.assert_close(preds['contrastive_feats'], expected)
        assert preds['feats'].shape[:2] == expected.shape[:2]
        assert not torch.allclose(preds['feats'], expected)


def test_gap_contrastive_loss_leaves_the_layout_keeping_pooling_alone(tiny_data, tmp_path):
    """With its own GAP branch, SupCon's gradient reaches the backbone but not the
    flattening projection that carries the limbs' layout to the head."""
    cfg = tiny_config(tiny_data, tmp_path)
    assert cfg.model.feature_pooling.type == 'SpatialFlattenPooling'
    cfg.model.contrastive_pooling = dict(type='GlobalAveragePooling')
    model, data = _model_and_batch(cfg)
    model.train()
    losses = model(**data, mode='loss')
    model.zero_grad()
    losses['loss_contrastive'].backward()
    flatten_grads = [p.grad for p in model.feature_pooling.parameters()]
    assert all(g is None or not g.any() for g in flatten_grads)
    backbone_grad = sum(p.grad.abs().sum() for p in model.backbone.parameters()
                        if p.grad is not None)
    assert backbone_grad > 0

    # Without the GAP branch the same loss does pull on the flattening projection.
    cfg.model.contrastive_pooling = None
    model, data = _model_and_batch(cfg)
    model.train()
    model.zero_grad()
    model(**data, mode='loss')['loss_contrastive'].backward()
    assert any(p.grad is not None and p.grad.any() for p in model.feature_pooling.parameters())
