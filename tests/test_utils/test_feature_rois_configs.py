"""Feature-level RoI configs: the config files are exactly the crop-mode ones converted."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mroi_plugin.utils.config_rois import set_context_size, set_num_rois, to_feature_rois

REPO = Path(__file__).resolve().parents[2]
KEYS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader')


def _crop_steps(cfg: Config) -> list:
    steps = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        for part in dataset.get('datasets', [dataset]):
            steps += [s for s in part.pipeline if 'Crop' in s.type]
    return steps


@pytest.mark.parametrize('crop_file, feature_file, context_size', [
    ('configs/mroi/mroi_r50.py', 'configs/mroi/mroi_r50_feature.py', (256, 192)),
    ('configs/quickstart/mroi_synthetic.py', 'configs/quickstart/mroi_synthetic_feature.py',
     (96, 80)),
])
def test_feature_configs_are_the_crop_configs_converted(crop_file, feature_file, context_size):
    crop = Config.fromfile(str(REPO / crop_file))
    feature = Config.fromfile(str(REPO / feature_file))
    converted = to_feature_rois(Config.fromfile(str(REPO / crop_file)), context_size)
    for key in KEYS:
        assert converted[key] == feature[key], key
    steps = _crop_steps(feature)
    assert steps and all(s.type == 'MultiRoIContextCrop' and tuple(s.context_size) ==
                         context_size for s in steps)
    # Everything but the crop step's type and context size is the crop config's.
    for crop_step, step in zip(_crop_steps(crop), steps):
        assert {k: v for k, v in step.items() if k not in ('type', 'context_size')} == \
            {k: v for k, v in crop_step.items() if k != 'type'}
    assert feature.model.roi_sampler == dict(type='RoIFeatureSampler', sampling_ratio=1)
    assert {k: v for k, v in feature.model.items() if k != 'roi_sampler'} == crop.model


def test_num_rois_and_context_size_reach_every_context_crop():
    cfg = Config.fromfile(str(REPO / 'configs/mroi/mroi_r50_feature.py'))
    set_context_size(set_num_rois(cfg, 3), (320, 256))
    steps = _crop_steps(cfg)
    assert steps and all(s.num_rois == 3 and s.context_size == (320, 256) for s in steps)
    assert cfg.context_size == (320, 256)


def test_conversions_refuse_configs_without_their_step():
    feature = Config.fromfile(str(REPO / 'configs/quickstart/mroi_synthetic_feature.py'))
    # The constant-camera baseline holds the base's training pipeline (for its crop box, read
    # with pipeline_crop_box); it is not a crop step of the model's data, so leave it out here.
    for key in ('val_evaluator', 'test_evaluator'):
        feature[key] = [e for e in feature[key] if 'pipeline' not in e]
    with pytest.raises(ValueError, match='no MultiRoICrop'):
        to_feature_rois(feature, (96, 80))
    crop = Config.fromfile(str(REPO / 'configs/quickstart/mroi_synthetic.py'))
    with pytest.raises(ValueError, match='no MultiRoIContextCrop'):
        set_context_size(crop, (96, 80))
    with pytest.raises(ValueError, match='positive integers'):
        set_context_size(feature, (96, 0))
