"""Kill-and-resume: a run SIGKILLed mid-training and resumed ends bit-identical to a straight run.

What has to be restored or reproduced for that, and where it comes from:

- weights, Adam's moments, the LR scheduler, the message hub and the epoch/iter
  counters: mmengine's checkpoint (``tools/train.py --resume``: the file named by
  ``last_checkpoint``, checked by :mod:`mroi_plugin.apis.resume`);
- the sample order: ``DefaultSampler`` reshuffles from ``seed + epoch``;
- the augmentation: ``SeededSampler`` tags each index with ``(seed, epoch)`` and
  the dataset seeds the sample's transforms from ``(seed, epoch, index)``, so a
  restarted DataLoader worker draws exactly what the killed run's persistent
  worker would have drawn (here the resumed and straight runs even load in the
  main process). With mmengine's ``DefaultSampler`` the worker's
  stream restarts at its initial seed after a resume, and the weights differ;
- the dropout masks: ``IterationSeedHook`` reseeds the generators from
  ``(seed, iteration, rank)`` before every step; without it the resumed run's
  generators restart from the seed and the weights differ;
- the arithmetic: ``randomness.deterministic=True`` and the same torch thread
  count (``TorchThreadsHook``) in both runs.

Epoch-based training resumes bit-identically from the checkpoints written at
the end of an epoch (mmengine restarts the interrupted epoch from its first
batch, so a checkpoint written in the middle of an epoch would replay that
epoch's first part); iteration-based training resumes from any checkpoint,
because mmengine re-draws (and discards) the batches already trained on.
"""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mroi_plugin.apis.resume import check_resume_compatible, prepare_resume
from mroi_plugin.utils import register_all_modules
from tests.tiny_configs import REPO

from .conftest import tiny_epoch_config

register_all_modules(init_default_scope=False)

EPOCHS = 2
ITERS_PER_EPOCH = 6  # 24 training people, batch 4


def _load_in_main_process(cfg) -> None:
    """No DataLoader worker for the in-process runs.

    The killed run loaded with a persistent worker; with ``SeededSampler`` that
    makes no difference to the data. (An in-process persistent worker would also
    cost ~5 s to shut down when its Runner is garbage-collected.)
    """
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f'training ended before {what}'
        assert time.time() < deadline, f'no {what} within {timeout} s'
        time.sleep(0.2)


def _log_text(work_dir: Path) -> str:
    return ''.join(p.read_text() for p in work_dir.glob('*/*.log'))


def _train_py(config: Path, *args: str) -> list:
    return [sys.executable, str(REPO / 'tools' / 'train.py'), str(config), *args]


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))


@pytest.mark.slow
def test_killed_and_resumed_run_is_bit_identical_to_a_straight_run(tiny_data, tmp_path):
    # The run to interrupt: SIGKILL once it is inside epoch 2, after epoch_1.pth.
    killed_dir = tmp_path / 'killed'
    cfg = tiny_epoch_config(tiny_data, killed_dir, EPOCHS)
    config = tmp_path / 'killed.py'
    cfg.dump(str(config))
    proc = subprocess.Popen(_train_py(config), cwd=tmp_path, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    epoch_2_started = re.compile(rf'Epoch\(train\)\s+\[2\]\[\s*2/{ITERS_PER_EPOCH}\]')
    try:
        _wait_for(lambda: epoch_2_started.search(_log_text(killed_dir)), proc,
                  'second-epoch iteration')
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (killed_dir / 'epoch_1.pth').exists()
    assert not (killed_dir / f'epoch_{EPOCHS}.pth').exists(), 'the run was not interrupted'

    # Resume in this process as ``tools/train.py --resume`` does: last_checkpoint's file,
    # checked before anything is built and against the model before training.
    _load_in_main_process(cfg)
    summary = prepare_resume(cfg, 'auto')
    assert cfg.resume and cfg.load_from == str(killed_dir / 'epoch_1.pth')
    resumed = Runner.from_cfg(cfg)
    check_resume_compatible(resumed, summary)
    resumed.train()
    assert (resumed.epoch, resumed.iter) == (EPOCHS, EPOCHS * ITERS_PER_EPOCH)

    # The uninterrupted run, in this process, with the same config and seed.
    straight_cfg = tiny_epoch_config(tiny_data, tmp_path / 'straight', EPOCHS)
    _load_in_main_process(straight_cfg)
    straight = Runner.from_cfg(straight_cfg)
    straight.train()

    final = torch.load(str(killed_dir / f'epoch_{EPOCHS}.pth'), map_location='cpu')
    assert final['meta']['epoch'] == EPOCHS and final['meta']['iter'] == EPOCHS * ITERS_PER_EPOCH
    expected = straight.model.state_dict()
    assert final['state_dict'].keys() == expected.keys()
    differing = [name for name, value in expected.items()
                 if not torch.equal(final['state_dict'][name], value)]
    assert not differing, f'{len(differing)} tensors differ, e.g. {differing[:5]}'
    # Adam's moments and the scheduled LR went through the resume as well.
    optim = straight.optim_wrapper.optimizer.state_dict()
    assert final['optimizer']['param_groups'][0]['lr'] == optim['param_groups'][0]['lr']
    for key, state in optim['state'].items():
        for name, value in state.items():
            assert torch.equal(final['optimizer']['state'][key][name], value), (key, name)


class _StopAfter(Hook):
    """Stops the run (an exception, as a crash would) once iteration ``at`` is done."""

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            raise KeyboardInterrupt(f'stopped after iteration {self.at}')


@pytest.mark.slow
def test_iteration_based_run_resumes_bit_identically_from_a_mid_epoch_checkpoint(
        tiny_data, tmp_path):
    """Checkpoint at iteration 4 of a 6-iteration epoch, stop at 5, resume to 8 (past the epoch)."""

    def config(work_dir):
        cfg = tiny_epoch_config(tiny_data, work_dir)
        _load_in_main_process(cfg)
        cfg.train_cfg = dict(by_epoch=False, max_iters=8)
        cfg.param_scheduler = [
            dict(type='MultiStepLR', milestones=[5], gamma=0.5, by_epoch=False)]
        cfg.log_processor = dict(by_epoch=False, window_size=1)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=4, by_epoch=False)
        return cfg

    interrupted = Runner.from_cfg(config(tmp_path / 'run'))
    interrupted.register_hook(_StopAfter(5))
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    assert sorted(p.name for p in (tmp_path / 'run').glob('*.pth')) == ['iter_4.pth']

    cfg = config(tmp_path / 'run')
    summary = prepare_resume(cfg, 'auto')
    assert summary['meta']['iter'] == 4
    resumed = Runner.from_cfg(cfg)
    check_resume_compatible(resumed, summary)
    resumed.train()
    straight = Runner.from_cfg(config(tmp_path / 'straight'))
    straight.train()
    assert resumed.iter == straight.iter == 8
    expected, final = straight.model.state_dict(), resumed.model.state_dict()
    differing = [name for name, value in expected.items() if not torch.equal(final[name], value)]
    assert not differing, f'{len(differing)} tensors differ, e.g. {differing[:5]}'
