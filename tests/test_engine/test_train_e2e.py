"""End-to-end: configs build, training reduces the loss, DDP on CPU, kill and resume."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.runner import Runner

from mroi_plugin.utils import register_all_modules
from tests.dist_utils import free_port
from tests.tiny_configs import REPO

from .conftest import tiny_config

register_all_modules(init_default_scope=False)


def _overfit_losses(cfg, steps: int):
    """Train on one fixed batch; returns the total loss at every step."""
    runner = Runner.from_cfg(cfg)
    model = runner.model
    model.train()
    batch = next(iter(runner.build_dataloader(cfg.train_dataloader)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(steps):
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        for name, value in losses.items():
            assert torch.isfinite(value), f'{name} is not finite: {value}'
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    return history, sorted(losses)


@pytest.mark.parametrize('method', ['cliff', 'mroi'])
def test_training_steps_reduce_the_loss(method, tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path, method=method)
    # A fixed batch without augmentation, so the decrease is the optimiser's.
    cfg.train_dataloader.dataset.pipeline = cfg.val_dataloader.dataset.pipeline
    cfg.train_dataloader.sampler.shuffle = False
    history, names = _overfit_losses(cfg, steps=25)
    assert history[-1] < 0.5 * history[0], history
    expected = {'loss_keypoints2d', 'loss_keypoints3d', 'loss_vertices', 'loss_smpl_pose',
                'loss_smpl_betas'}
    if method == 'mroi':
        expected |= {'loss_camera_consistency', 'loss_contrastive'}
    assert set(names) == expected


def test_cliff_with_only_the_camera_consistency_loss_trains(tiny_data, tmp_path):
    """Mixing by config: MultiRoICrop + CameraConsistencyLoss on CLIFF, no neck."""
    cfg = tiny_config(tiny_data, tmp_path, method='cliff')
    for step in cfg.train_dataloader.dataset.pipeline + cfg.val_dataloader.dataset.pipeline:
        if step.type == 'MultiRoICrop':
            step.num_rois = 3
    cfg.train_dataloader.dataset.pipeline = cfg.val_dataloader.dataset.pipeline
    cfg.model.loss_camera_consistency = dict(type='CameraConsistencyLoss', loss_weight=0.1)
    history, names = _overfit_losses(cfg, steps=25)
    assert 'loss_camera_consistency' in names and 'loss_contrastive' not in names
    assert history[-1] < 0.5 * history[0], history


def _dump(cfg, tmp_path, name='cfg.py'):
    path = tmp_path / name
    cfg.dump(str(path))
    return str(path)


def _run(cmd, cwd, timeout=600, env=None):
    full_env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    full_env.update(env or {})
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path / 'work', max_iters=4)
    path = _dump(cfg, tmp_path)
    result = _run(['bash', str(REPO / 'tools' / 'dist_train.sh'), path, '2'], cwd=tmp_path,
                  env=dict(PORT=str(free_port())))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    logs = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in logs or 'distributed: True' in logs
    assert re.search(r'Iter\(train\) \[4/4\]', logs), logs[-3000:]
    assert (tmp_path / 'work' / 'iter_4.pth').exists()
    assert re.search(r'hmr/mpjpe: \d', logs)


@pytest.mark.slow
def test_kill_and_resume_continues_from_the_checkpoint(tiny_data, tmp_path):
    work = tmp_path / 'work'
    cfg = tiny_config(tiny_data, work, max_iters=40)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2, by_epoch=False)
    path = _dump(cfg, tmp_path)
    train = [sys.executable, str(REPO / 'tools' / 'train.py'), path]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    proc = subprocess.Popen(train, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not (work / 'iter_4.pth').exists():
            assert proc.poll() is None, 'training ended before the first checkpoints'
            assert time.time() < deadline, 'no checkpoint within 300 s'
            time.sleep(0.5)
        time.sleep(1.0)  # let the checkpoint file be complete before the kill
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = sorted(int(p.stem.split('_')[1]) for p in work.glob('iter_*.pth'))
    assert saved and saved[-1] < 40, 'the run was not interrupted'
    cfg.train_cfg.max_iters = saved[-1] + 2
    path = _dump(cfg, tmp_path, 'resume.py')
    result = _run([sys.executable, str(REPO / 'tools' / 'train.py'), path, '--resume'],
                  cwd=tmp_path)
    logs = result.stdout + result.stderr
    assert result.returncode == 0, logs[-3000:]
    assert f'resumed epoch: 0, iter: {saved[-1]}' in logs, logs[-3000:]
    assert (work / f'iter_{saved[-1] + 2}.pth').exists()


def test_a_nan_loss_stops_before_the_step_and_names_the_term(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path, method='cliff')
    runner = Runner.from_cfg(cfg)
    model = runner.model
    batch = next(iter(runner.build_dataloader(cfg.train_dataloader)))
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    # Corrupt one ground-truth 3D keypoint of a sample that has 3D ground truth.
    batch['data_samples'][0].keypoints3d[0, 0] = float('nan')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(FloatingPointError, match=r"'loss_keypoints3d'.*not applied"):
        model.train_step(batch, optim_wrapper)
    for name, value in model.state_dict().items():
        if value.is_floating_point() and 'running' not in name:
            assert torch.equal(value, before[name]), f'{name} changed'
