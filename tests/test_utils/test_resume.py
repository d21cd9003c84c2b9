"""Saving and resuming an mmengine run: safe (weights_only) torch.load, and the work dir /
checkpoint checks of :mod:`mroi_plugin.apis.resume` that ``tools/train.py`` runs."""
import itertools
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mroi_plugin  # noqa: F401  (registers the safe globals at import)
from mroi_plugin.apis.resume import (
    CheckpointMismatchError,
    DamagedCheckpointError,
    ResumeCheckpointError,
    WorkDirInUseError,
    check_amp_device,
    check_resume_compatible,
    check_work_dir_unused,
    checkpoint_dir,
    list_checkpoints,
    load_checkpoint_summary,
    prepare_resume,
    resolve_last_checkpoint,
)
from mroi_plugin.utils.safe_load import _history_buffer_getattr


class _LinearModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(x)
        if mode == 'loss':
            return dict(loss=(out - x.sum(-1, keepdim=True)).pow(2).mean())
        return out


_RUN_IDS = itertools.count()


def _runner(work_dir, max_epochs, resume=False):
    # One experiment name per Runner: mmengine caches its logger and visualizer by the name
    # (a timestamp by default), and a later Runner in the same second would write into an
    # earlier test's (possibly moved) dir.
    gen = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(2, generator=gen)) for _ in range(8)]
    return Runner(
        model=_LinearModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0),
        resume=resume,
        experiment_name=f'test_resume_{next(_RUN_IDS)}',
        default_scope='mroi')


def test_checkpoint_is_refused_without_allow_list_and_loads_with_it(tmp_path):
    _runner(tmp_path, max_epochs=1).train()
    ckpt = str(tmp_path / 'epoch_1.pth')
    load = f'import torch; torch.load({ckpt!r}); print("loaded")'
    # Without mroi the default safe load refuses mmengine's own checkpoint, so
    # this test is not vacuous ...
    plain = subprocess.run([sys.executable, '-c', load], capture_output=True, text=True)
    assert plain.returncode != 0 and 'HistoryBuffer' in plain.stderr
    # ... and importing mroi_plugin makes the same safe load succeed.
    with_mroi = subprocess.run([sys.executable, '-c', 'import mroi_plugin; ' + load],
                               capture_output=True, text=True)
    assert with_mroi.returncode == 0, with_mroi.stderr[-2000:]
    state = torch.load(ckpt, weights_only=True)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer'} <= set(state)


def test_resume_continues_from_the_checkpoint(tmp_path):
    _runner(tmp_path, max_epochs=1).train()
    weights_after_1 = torch.load(str(tmp_path / 'epoch_1.pth'))['state_dict']
    resumed = _runner(tmp_path, max_epochs=2, resume=True)
    resumed.train()
    assert resumed.epoch == 2 and resumed.iter == 8
    # Resumed training started from epoch 1's weights and moved on from them.
    final = resumed.model.state_dict()
    assert not torch.equal(final['linear.weight'], weights_after_1['linear.weight'])
    # A straight 2-epoch run with the same seed ends at the same weights.
    straight = _runner(tmp_path / 'straight', max_epochs=2)
    straight.train()
    torch.testing.assert_close(final['linear.weight'],
                               straight.model.state_dict()['linear.weight'])


def test_restricted_getattr_refuses_anything_else():
    from mmengine.logging import HistoryBuffer
    assert _history_buffer_getattr(HistoryBuffer, 'mean') == HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        _history_buffer_getattr(np, 'load')
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(HistoryBuffer, '__init__')


# ------------------------------------------------------------ work dirs and resume checks
def _cfg(work_dir, **extra):
    return Config(dict(work_dir=str(work_dir), **extra))


def _trained(work_dir, max_epochs=2):
    """A finished run: epoch_1.pth ... epoch_<max_epochs>.pth and last_checkpoint."""
    _runner(work_dir, max_epochs=max_epochs).train()
    return work_dir


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.rglob('*')) if p.is_file()}


def test_a_fresh_run_over_checkpoints_is_refused_and_nothing_changes(tmp_path):
    work = _trained(tmp_path / 'run', max_epochs=1)
    before = _snapshot(work)
    with pytest.raises(WorkDirInUseError) as error:
        prepare_resume(_cfg(work), resume=None)
    message = str(error.value)
    assert str(work) in message and 'epoch_1.pth' in message
    assert '--resume' in message and '--overwrite' in message and '--work-dir' in message
    assert _snapshot(work) == before
    # Only last_checkpoint left (checkpoints elsewhere or deleted) is refused as well.
    (work / 'epoch_1.pth').unlink()
    with pytest.raises(WorkDirInUseError, match='last_checkpoint'):
        check_work_dir_unused(_cfg(work))
    # --overwrite, an empty dir and a dir that does not exist yet are fine.
    check_work_dir_unused(_cfg(work), overwrite=True)
    (tmp_path / 'empty').mkdir()
    for free in (tmp_path / 'empty', tmp_path / 'new'):
        cfg = _cfg(free, load_from=str(tmp_path / 'weights.pth'))
        assert prepare_resume(cfg, resume=None) is None
        assert cfg.resume is False and cfg.load_from == str(tmp_path / 'weights.pth')


def test_checkpoints_in_the_hooks_out_dir_count(tmp_path):
    (tmp_path / 'ckpts' / 'run').mkdir(parents=True)
    (tmp_path / 'ckpts' / 'run' / 'epoch_1.pth').write_bytes(b'x')
    cfg = _cfg(tmp_path / 'run', default_hooks=dict(
        checkpoint=dict(type='CheckpointHook', out_dir=str(tmp_path / 'ckpts'))))
    assert checkpoint_dir(cfg) == str(tmp_path / 'ckpts' / 'run')
    with pytest.raises(WorkDirInUseError, match='epoch_1.pth'):
        check_work_dir_unused(cfg)


def test_resume_and_overwrite_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match='only one'):
        prepare_resume(_cfg(tmp_path), resume='auto', overwrite=True)


def test_checkpoints_are_ordered_by_step_not_by_name(tmp_path):
    for name in ('epoch_10.pth', 'epoch_9.pth', 'epoch_2.pth', 'best.pth'):
        (tmp_path / name).write_bytes(b'x')
    assert [Path(p).name for p in list_checkpoints(str(tmp_path))] == [
        'best.pth', 'epoch_2.pth', 'epoch_9.pth', 'epoch_10.pth']


def test_a_copied_work_dir_resumes_from_its_own_checkpoint(tmp_path):
    original = _trained(tmp_path / 'original')
    recorded = (original / 'last_checkpoint').read_text().strip()
    assert recorded == str(original / 'epoch_2.pth')  # mmengine writes an absolute path
    assert resolve_last_checkpoint(_cfg(original)) == recorded
    copy = tmp_path / 'copy'
    shutil.copytree(original, copy)
    # The original's file is damaged after the copy: using it would fail.
    (original / 'epoch_2.pth').write_bytes(b'')
    cfg = _cfg(copy)
    summary = prepare_resume(cfg, resume='auto')
    assert cfg.resume is True and cfg.load_from == str(copy / 'epoch_2.pth')
    assert summary['meta']['epoch'] == 2 and summary['path'] == str(copy / 'epoch_2.pth')


def test_a_moved_work_dir_resumes_and_a_missing_file_is_named(tmp_path):
    original = _trained(tmp_path / 'original', max_epochs=1)
    moved = tmp_path / 'moved'
    original.rename(moved)
    assert resolve_last_checkpoint(_cfg(moved)) == str(moved / 'epoch_1.pth')
    # last_checkpoint names a file neither in this dir nor anywhere.
    (moved / 'last_checkpoint').write_text('/nowhere/epoch_7.pth')
    with pytest.raises(ResumeCheckpointError) as error:
        resolve_last_checkpoint(_cfg(moved))
    assert '/nowhere/epoch_7.pth' in str(error.value) and 'epoch_1.pth' in str(error.value)
    # ... a file outside this dir that exists: only an explicit --resume uses it.
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    shutil.copy(moved / 'epoch_1.pth', elsewhere / 'epoch_5.pth')
    (moved / 'last_checkpoint').write_text(str(elsewhere / 'epoch_5.pth'))
    with pytest.raises(ResumeCheckpointError,
                       match=re.escape(f'--resume {elsewhere / "epoch_5.pth"}')):
        resolve_last_checkpoint(_cfg(moved))


def test_resume_without_last_checkpoint_asks_which_file(tmp_path):
    work = _trained(tmp_path / 'run')
    (work / 'last_checkpoint').unlink()
    with pytest.raises(ResumeCheckpointError,
                       match=re.escape(f'--resume {work / "epoch_2.pth"}')):
        prepare_resume(_cfg(work), resume='auto')
    # Nothing to resume at all: a fresh start, said so, not an error.
    cfg = _cfg(tmp_path / 'new')
    assert prepare_resume(cfg, resume='auto') is None and cfg.resume is False


@pytest.mark.parametrize('damage', ['empty', 'truncated', 'flipped', 'not_a_run'])
def test_a_damaged_latest_checkpoint_names_the_previous_valid_one(tmp_path, damage):
    work = _trained(tmp_path / 'run', max_epochs=3)
    latest = work / 'epoch_3.pth'
    data = latest.read_bytes()
    if damage == 'empty':
        latest.write_bytes(b'')
    elif damage == 'truncated':
        latest.write_bytes(data[:len(data) // 2])
    elif damage == 'flipped':  # the zip's central directory overwritten
        latest.write_bytes(data[:-200] + bytes(200))
    else:
        torch.save({'linear.weight': torch.zeros(1, 2)}, latest)
    # epoch_2 is damaged too: the one to point at is epoch_1.
    (work / 'epoch_2.pth').write_bytes(b'')
    cfg = _cfg(work)
    with pytest.raises(DamagedCheckpointError) as error:
        prepare_resume(cfg, resume='auto')
    message = str(error.value)
    assert message.startswith(f'Cannot resume from {latest}: ')
    assert f'--resume {work / "epoch_1.pth"}' in message
    assert {'empty': 'empty (0 bytes)', 'truncated': 'truncated', 'flipped': 'truncated',
            'not_a_run': 'no mmengine training state'}[damage] in message
    assert not cfg.get('resume')
    # The same for an explicit --resume path, and the pointed-at file is usable.
    with pytest.raises(DamagedCheckpointError, match='epoch_1.pth'):
        load_checkpoint_summary(str(latest))
    assert load_checkpoint_summary(str(work / 'epoch_1.pth'))['meta']['epoch'] == 1


def test_a_checkpoint_safe_loading_refuses_is_named_as_such(tmp_path, monkeypatch):
    work = _trained(tmp_path / 'run', max_epochs=2)
    monkeypatch.chdir(tmp_path)
    torch.save({'meta': {'epoch': 2, 'iter': 8}, 'state_dict': {}, 'payload': _Payload()},
               str(work / 'epoch_2.pth'))
    with pytest.raises(DamagedCheckpointError) as error:
        prepare_resume(_cfg(work), resume='auto')
    assert 'UnpicklingError' in str(error.value) and 'safe loading' in str(error.value)
    assert f'--resume {work / "epoch_1.pth"}' in str(error.value)
    assert not (tmp_path / 'pwned').exists()


class _Payload:
    """Would create ``pwned`` in the working dir if unpickled."""

    def __reduce__(self):
        return (open, ('pwned', 'w'))


def test_no_readable_checkpoint_left_says_so(tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'\x00' * 100)
    with pytest.raises(DamagedCheckpointError, match='no other readable checkpoint'):
        load_checkpoint_summary(str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(FileNotFoundError, match='epoch_9.pth'):
        load_checkpoint_summary(str(tmp_path / 'epoch_9.pth'))


def test_a_checkpoint_whose_meta_mmengine_would_execute_is_refused(tmp_path):
    work = _trained(tmp_path / 'run', max_epochs=1)
    marker = tmp_path / 'pwned'
    state = torch.load(str(work / 'epoch_1.pth'))
    state['meta']['config'] = f'import pathlib\npathlib.Path({str(marker)!r}).touch()\n'
    torch.save(state, str(work / 'epoch_1.pth'))
    with pytest.raises(DamagedCheckpointError, match="'config' entry"):
        prepare_resume(_cfg(work), resume='auto')
    assert not marker.exists()
    # Not vacuous: mmengine's own resume runs it.
    resumed = _runner(work, max_epochs=2, resume=True)
    resumed.train()
    assert marker.exists()


def _resumable(tmp_path, model=None, optimizer=None):
    """A finished 1-epoch run and a Runner (model built) about to resume it."""
    work = _trained(tmp_path / 'run', max_epochs=1)
    cfg = _cfg(work)
    summary = prepare_resume(cfg, resume='auto')
    runner = _runner(tmp_path / 'next', max_epochs=2, resume=True)
    if model is not None:
        runner.model = model
    if optimizer is not None:
        runner.optim_wrapper = dict(optimizer=optimizer)
    return work, summary, runner


def test_the_same_config_passes_the_compatibility_check(tmp_path):
    _, summary, runner = _resumable(tmp_path)
    check_resume_compatible(runner, summary)
    check_resume_compatible(runner, None)


def test_another_models_checkpoint_is_refused_with_its_keys_and_config(tmp_path):
    model = _LinearModel()
    model.linear = nn.Linear(2, 3)
    _, summary, runner = _resumable(tmp_path, model=model)
    with pytest.raises(CheckpointMismatchError) as error:
        check_resume_compatible(runner, summary)
    message = str(error.value)
    assert 'linear.weight (checkpoint (1, 2), model (3, 2))' in message
    assert 'linear.bias (checkpoint (1,), model (3,))' in message
    assert str(summary['path']) in message and summary['meta']['experiment_name'] in message


def test_adam_moments_of_another_shape_are_refused(tmp_path):
    work, _, runner = _resumable(tmp_path)
    state = torch.load(str(work / 'epoch_1.pth'))
    moments = state['optimizer']['state'][0]
    moments['exp_avg'] = torch.zeros(2, 2)
    moments['exp_avg_sq'] = torch.zeros(2, 2)
    torch.save(state, str(work / 'epoch_1.pth'))
    summary = load_checkpoint_summary(str(work / 'epoch_1.pth'))
    with pytest.raises(CheckpointMismatchError,
                       match=re.escape('linear.weight.exp_avg (checkpoint (2, 2), model (1, 2))')):
        check_resume_compatible(runner, summary)
    # Not vacuous: mmengine's resume takes the file and fails only inside the first step.
    bad = _runner(work, max_epochs=2, resume=True)
    with pytest.raises(RuntimeError, match='shape'):
        bad.train()


def test_another_optimizers_checkpoint_is_refused_with_the_config_difference(tmp_path):
    _, summary, runner = _resumable(tmp_path, optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
    runner.cfg.optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
    summary['meta']['cfg'] = ("model = dict(type='M')\n"
                              "optim_wrapper = dict(optimizer=dict(lr=0.01, type='Adam'))\n")
    runner.cfg.model = dict(type='M')
    with pytest.raises(CheckpointMismatchError) as error:
        check_resume_compatible(runner, summary)
    message = str(error.value)
    assert "['amsgrad', 'betas'" in message and 'SGD does not use' in message
    assert "\n  -optim_wrapper = dict(optimizer=dict(lr=0.01, type='Adam'))" in message
    assert "\n  +optim_wrapper = dict(optimizer=dict(lr=0.01, momentum=0.9, type='SGD'))" in message
    assert 'model = ' not in message  # the blocks that read the same are not shown


def test_amp_without_a_gpu_is_refused_before_building(monkeypatch):
    import mmengine.device
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', optimizer=dict(type='Adam'))))
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    with pytest.raises(RuntimeError, match='--amp.*needs a GPU'):
        check_amp_device(cfg)
    check_amp_device(Config(dict(optim_wrapper=dict(optimizer=dict(type='Adam')))))
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cuda')
    check_amp_device(cfg)
