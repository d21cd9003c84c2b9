"""A tiny synthetic dataset and configs for end-to-end training tests."""
import os.path as osp
from pathlib import Path

import pytest
from mmengine.config import Config

from tests.tiny_configs import tiny_quickstart_config


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> Path:
    """Stand-in body model + 24 train / 8 test synthetic people at 160x120."""
    from mroi_plugin.synthetic import generate_synthetic_dataset
    from mroi_plugin.synthetic.standin import write_standin_smpl
    root = tmp_path_factory.mktemp('tiny_data')
    write_standin_smpl(str(root / 'body_models'), seed=0)
    generate_synthetic_dataset(
        str(root / 'synthetic'), num_train=24, num_val=0, num_test=8, image_size=(160, 120),
        seed=0, body_model_dir=str(root / 'body_models'), workers=1)
    from mroi_plugin.datasets.mean_params import write_mean_params
    write_mean_params(str(root / 'synthetic' / 'train.npz'),
                      str(root / 'synthetic' / 'mean_params.npz'))
    return root


def tiny_config(data: Path, work_dir: Path, method: str = 'mroi', max_iters: int = 8,
                num_rois: int = 3, **overrides) -> Config:
    """The quickstart config shrunk to seconds: 64x48 crops, a 4-stage tiny net.

    Args:
        data (Path): The ``tiny_data`` folder.
        work_dir (Path): Where logs and checkpoints go.
        method (str): ``'mroi'`` (the quickstart model) or ``'cliff'`` (one RoI,
            no neck, ``CliffHead``, no Multi-RoI losses).
        max_iters (int): Training iterations (iteration-based loop).
        num_rois (int): RoIs per person for ``'mroi'``.
        **overrides: Extra ``cfg-options``-style dotted keys.
    """
    body = str(data / 'body_models')
    cfg = tiny_quickstart_config(
        data / 'body_models', num_rois=1 if method == 'cliff' else num_rois,
        mean_params=str(data / 'synthetic' / 'mean_params.npz'))
    cfg.work_dir = str(work_dir)
    if method == 'cliff':
        cfg.model.type = 'CLIFF'
        cfg.model.neck = None
        cfg.model.head = dict(type='CliffHead', in_channels=64, hidden_channels=64,
                              mean_params=cfg.model.head.mean_params)
        cfg.model.loss_camera_consistency = None
        cfg.model.loss_contrastive = None
    for loader, split in ((cfg.train_dataloader, 'train'), (cfg.val_dataloader, 'test')):
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = 4
        loader.dataset.data_root = str(data / 'synthetic')
        loader.dataset.ann_file = f'{split}.npz'
    cfg.test_dataloader = cfg.val_dataloader
    for evaluator in cfg.val_evaluator:
        evaluator.body_model_dir = body
        evaluator.joint_regressor = osp.join(body, 'J_regressor_h36m.npy')
        if 'ann_file' in evaluator:
            evaluator.ann_file = str(data / 'synthetic' / 'train.npz')
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
    cfg.param_scheduler = []
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=max_iters // 2,
                                        by_epoch=False)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.merge_from_dict(overrides)
    return cfg


def tiny_epoch_config(data: Path, work_dir: Path, max_epochs: int = 2) -> Config:
    """:func:`tiny_config` as an epoch-based, reproducible training-only run.

    Augmentation on, ``SeededSampler`` with one persistent worker (as the
    quickstart's loader), ``IterationSeedHook``, an LR step after epoch 1, a
    checkpoint every epoch and no validation. 24 people, batch 4: 6 iterations
    per epoch.

    Args:
        data (Path): The ``tiny_data`` folder.
        work_dir (Path): Where logs and checkpoints go.
        max_epochs (int): Training epochs.
    """
    cfg = tiny_config(data, work_dir)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    loader = cfg.train_dataloader
    loader.sampler = dict(type='SeededSampler', shuffle=True)
    loader.num_workers = 1
    loader.persistent_workers = True
    # Dropout masks from (seed, iteration), not from the generators' history.
    cfg.custom_hooks = [*cfg.custom_hooks, dict(type='IterationSeedHook')]
    cfg.param_scheduler = [dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=True)]
    cfg.log_processor = dict(by_epoch=True, window_size=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, by_epoch=True)
    return cfg
