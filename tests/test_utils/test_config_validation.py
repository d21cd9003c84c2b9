"""Unknown keys, wrong types and missing files fail before training, naming the key."""
import glob
import re

import pytest
from mmengine.config import Config

from mroi_plugin.apis import build_runner
from mroi_plugin.utils import (
    ConfigError,
    check_config_files,
    register_all_modules,
    validate_config,
)
from tests.tiny_configs import tiny_quickstart_config

register_all_modules(init_default_scope=False)


def _set(cfg: Config, dotted: str, value) -> None:
    """Assign ``value`` at a dotted path whose parts may be list indices."""
    *parents, last = dotted.split('.')
    node = cfg
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value


@pytest.mark.parametrize('path', sorted(glob.glob('configs/**/*.py', recursive=True)))
def test_every_shipped_config_validates(path):
    # The file check is left out: the configs point at datasets, SMPL files and
    # pretrained weights this machine does not have.
    if '/_base_/' not in path:
        validate_config(Config.fromfile(path))


def test_the_tiny_test_config_validates(tmp_path):
    validate_config(tiny_quickstart_config(tmp_path))


@pytest.mark.parametrize('dotted, value, expected', [
    # Unknown keys, nested, with the component type and the likely meaning.
    ('model.head.hiden_channels', 64,
     "model.head.hiden_channels: MultiRoIHead has no argument 'hiden_channels' - did you mean "
     "'hidden_channels'?"),
    ('model.loss_contrastive.temprature', 0.1,
     "model.loss_contrastive.temprature: MultiRoIContrastiveLoss has no argument 'temprature' "
     "- did you mean 'temperature'?"),
    ('train_dataloader.dataset.pipeline.2.probability', 0.5,
     "train_dataloader.dataset.pipeline[2].probability: RandomFlipHMR has no argument "
     "'probability' - did you mean 'prob'?"),
    ('val_evaluator.0.joint_regresor', 'x.npy',
     "val_evaluator[0].joint_regresor: HMRMetric has no argument 'joint_regresor' - did you "
     "mean 'joint_regressor'?"),
    ('train_dataloader.shufle', True,
     "train_dataloader.shufle: DataLoader has no argument 'shufle' - did you mean 'shuffle'?"),
    ('train_cfg.max_epoch', 5,
     "train_cfg.max_epoch: EpochBasedTrainLoop has no argument 'max_epoch' - did you mean "
     "'max_epochs'?"),
    ('model.backbone.type', 'TinyConvNett',
     "model.backbone.type: 'TinyConvNett' is not a registered model - did you mean "
     "'TinyConvNet'?"),
    # Wrong types.
    ('train_cfg.max_epochs', '5',
     "train_cfg.max_epochs: EpochBasedTrainLoop expects int, got str '5'"),
    ('optim_wrapper.optimizer.lr', '1e-3',
     "optim_wrapper.optimizer.lr: Adam expects float | torch.Tensor, got str '1e-3'"),
    ('train_dataloader.batch_size', '4',
     "train_dataloader.batch_size: DataLoader expects int | None, got str '4'"),
    ('model.head.hidden_channels', 64.5,
     'model.head.hidden_channels: MultiRoIHead expects int, got float 64.5'),
    ('train_dataloader.dataset.pipeline.5.crop_size', 64,
     'train_dataloader.dataset.pipeline[5].crop_size: MultiRoICrop expects Tuple[int, int], '
     'got int 64'),
    # Components taking **kwargs, followed to the callable that receives them.
    ('default_hooks.checkpoint.intervall', 1,
     "default_hooks.checkpoint.intervall: CheckpointHook has no argument 'intervall' - did you "
     "mean 'interval'?"),
    ('param_scheduler.0.gama', 0.5,
     "param_scheduler[0].gama: MultiStepLR has no argument 'gama' - did you mean 'gamma'?"),
    ('optim_wrapper.clip_grad.max_nrom', 1.0,
     "optim_wrapper.clip_grad.max_nrom: clip_grad_norm_ has no argument 'max_nrom' - did you "
     "mean 'max_norm'?"),
    ('default_hooks.checkpoint.interval', '1',
     "default_hooks.checkpoint.interval: CheckpointHook expects int, got str '1'"),
    ('param_scheduler.0.param_name', 'momentum',  # MultiStepLR sets it itself
     "param_scheduler[0].param_name: MultiStepLR has no argument 'param_name'"),
    ('randomness.deterministc', True,
     "randomness.deterministc: set_randomness has no argument 'deterministc' - did you mean "
     "'deterministic'?"),
])
def test_a_bad_setting_is_named(tmp_path, dotted, value, expected):
    cfg = tiny_quickstart_config(tmp_path)
    _set(cfg, dotted, value)
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    assert expected in str(error.value), str(error.value)
    # One problem, one line: nothing else in the config is reported.
    assert str(error.value).count('\n  - ') == 1, str(error.value)


def test_all_problems_are_listed_in_one_error(tmp_path):
    cfg = tiny_quickstart_config(tmp_path)
    cfg.model.head.hiden_channels = 64
    cfg.train_cfg.max_epochs = '5'
    with pytest.raises(ConfigError, match=r'(?s)max_epochs.*hiden_channels'):
        validate_config(cfg)


def test_a_misspelt_top_level_key_is_named_with_its_correction(tmp_path):
    cfg = tiny_quickstart_config(tmp_path)
    cfg.trian_dataloader = dict(batch_size=2)
    cfg.model.head.hiden_channels = 64
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    message = str(error.value)
    # Listed in the same error as the component problems, first.
    assert message.count('\n  - ') == 2, message
    assert re.search(r"(?s)  - trian_dataloader: unknown top-level key - did you mean "
                     r"'train_dataloader'\?.*hiden_channels", message), message


@pytest.mark.parametrize('name', ['num_rois', 'crop_size', 'data_root', 'trainer', 'log'])
def test_free_top_level_variables_are_allowed(tmp_path, name):
    # A user's own config variables: none is as close to a Runner key as a typo.
    cfg = tiny_quickstart_config(tmp_path)
    cfg[name] = 5
    validate_config(cfg)


def test_missing_files_are_named_with_their_keys(tmp_path):
    body = tmp_path / 'body_models'
    body.mkdir()
    (body / 'J_regressor_h36m.npy').touch()
    cfg = tiny_quickstart_config(body, mean_params=str(tmp_path / 'mean_params.npz'))
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = str(tmp_path / 'synthetic')
    (tmp_path / 'synthetic').mkdir()
    (tmp_path / 'synthetic' / 'test.npz').touch()
    for evaluator in cfg.val_evaluator:
        evaluator.body_model_dir = str(body)
        evaluator.joint_regressor = str(body / 'J_regressor_h36m.npy')
    for evaluator in cfg.val_evaluator:
        if 'ann_file' in evaluator:  # the baselines read a training split's statistics
            evaluator.ann_file = str(tmp_path / 'synthetic' / 'test.npz')
    cfg.test_evaluator = cfg.val_evaluator
    cfg.load_from = str(tmp_path / 'epoch_5.pth')
    with pytest.raises(ConfigError) as error:
        check_config_files(cfg)
    lines = [line for line in str(error.value).splitlines() if line.startswith('  - ')]
    assert lines == [
        f'  - model.head.mean_params: {tmp_path}/mean_params.npz does not exist',
        f'  - train_dataloader.dataset.ann_file: {tmp_path}/synthetic/train.npz does not exist',
        f'  - load_from: {tmp_path}/epoch_5.pth does not exist',
    ], str(error.value)
    # Testing reads neither the training split nor the head's initialisation
    # from disk ... but it does read the checkpoint.
    cfg.model.head.mean_params = None
    with pytest.raises(ConfigError, match=re.escape('load_from: ')):
        check_config_files(cfg, mode='test')
    cfg.load_from = None
    check_config_files(cfg, mode='test')


@pytest.mark.parametrize('problem', ['type', 'file'])
def test_build_runner_fails_before_anything_is_built(tmp_path, problem):
    """The tools/train.py path: the error comes before the Runner (and its work dir) exists."""
    cfg = tiny_quickstart_config(tmp_path / 'no_body_model')
    cfg.work_dir = str(tmp_path / 'work')
    if problem == 'type':
        cfg.optim_wrapper.optimizer.lr = '1e-3'
        expected = 'optim_wrapper.optimizer.lr: Adam expects'
    else:
        expected = f'model.body_model.model_path: {tmp_path}/no_body_model does not exist'
    with pytest.raises(ConfigError, match=re.escape(expected)):
        build_runner(cfg, 'none')
    assert not (tmp_path / 'work').exists()


def _with(tmp_path, **top_level) -> Config:
    cfg = tiny_quickstart_config(tmp_path)
    cfg.merge_from_dict(top_level)
    return cfg


@pytest.mark.parametrize('settings, expected', [
    # clip_grad.type picks the torch function that receives the other keys.
    (dict(optim_wrapper=dict(clip_grad=dict(type='value', max_norm=1.0))),
     "optim_wrapper.clip_grad.max_norm: clip_grad_value_ has no argument 'max_norm'"),
    (dict(optim_wrapper=dict(clip_grad=dict(type='vlaue', clip_value=1.0))),
     "optim_wrapper.clip_grad.type: clip_grad type must be 'norm' (clip_grad_norm_) or "
     "'value' (clip_grad_value_), got 'vlaue'"),
    (dict(optim_wrapper=dict(clip_grad=dict(_delete_=True, type='norm'))),
     "optim_wrapper.clip_grad: clip_grad needs 'max_norm' (or set clip_grad=None)"),
    # AmpOptimWrapper passes **kwargs up to OptimWrapper.
    (dict(optim_wrapper=dict(type='AmpOptimWrapper', accumulative_count=2)),
     "optim_wrapper.accumulative_count: AmpOptimWrapper has no argument 'accumulative_count' - "
     "did you mean 'accumulative_counts'?"),
    (dict(optim_wrapper=dict(nonfinite_grads='raise')),
     "optim_wrapper.nonfinite_grads: FiniteGradOptimWrapper has no argument 'nonfinite_grads' "
     "- did you mean 'nonfinite_grad'?"),
    (dict(optim_wrapper=dict(clip_grads=dict(max_norm=1.0))),
     "optim_wrapper.clip_grads: FiniteGradOptimWrapper has no argument 'clip_grads' - did you "
     "mean 'clip_grad'?"),
    # EMAHook passes **kwargs to its averaged model.
    (dict(custom_hooks=[dict(type='EMAHook', momentun=1e-3)]),
     "custom_hooks[0].momentun: EMAHook has no argument 'momentun' - did you mean 'momentum'?"),
    (dict(custom_hooks=[dict(type='EMAHook', ema_type='StochasticWeightAverage',
                             momentum=1e-3)]),
     "custom_hooks[0].momentum: EMAHook has no argument 'momentum'"),
    (dict(param_scheduler=[dict(type='LinearLR', start_factr=0.1, end=10)]),
     "param_scheduler[0].start_factr: LinearLR has no argument 'start_factr' - did you mean "
     "'start_factor'?"),
])
def test_kwargs_components_are_checked_where_the_keys_go(tmp_path, settings, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(_with(tmp_path, **settings))
    assert expected in str(error.value), str(error.value)
    assert str(error.value).count('\n  - ') == 1, str(error.value)


@pytest.mark.parametrize('settings', [
    dict(optim_wrapper=dict(clip_grad=dict(type='norm', max_norm=1.0, norm_type=1))),
    dict(optim_wrapper=dict(clip_grad=dict(_delete_=True, type='value', clip_value=0.5))),
    dict(optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                            accumulative_counts=2)),
    dict(custom_hooks=[dict(type='EMAHook', momentum=1e-3, update_buffers=True,
                            strict_load=True)]),
    dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto'))),
    dict(param_scheduler=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
        dict(type='CosineAnnealingLR', T_max=10, eta_min=0.0, convert_to_iter_based=True),
        dict(type='ReduceOnPlateauLR', monitor='loss', factor=0.1, patience=3)]),
])
def test_valid_kwargs_components_pass(tmp_path, settings):
    validate_config(_with(tmp_path, **settings))


def test_the_kwargs_examples_all_come_in_one_error(tmp_path):
    cfg = tiny_quickstart_config(tmp_path)
    cfg.merge_from_dict({'default_hooks.checkpoint.intervall': 1,
                         'optim_wrapper.clip_grad.max_nrom': 1.0})
    cfg.param_scheduler[0].gama = 0.5
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    message = str(error.value)
    assert message.count('\n  - ') == 3, message
    for key in ('intervall', 'gama', 'max_nrom'):
        assert f'.{key}: ' in message, message
