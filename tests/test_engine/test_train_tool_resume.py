"""``tools/train.py`` with work dirs that hold checkpoints: nothing lost, never the wrong file.

Each case runs the tool's ``main()`` in this process on crafted work dirs: a
finished run rerun without ``--resume``, a copied work dir whose original's
checkpoint is damaged, a truncated latest checkpoint, another config's
checkpoint and ``--amp`` without a GPU. The checks of
:mod:`mroi_plugin.apis.resume` are unit-tested in ``tests/test_utils/test_resume.py``.
"""
import importlib.util
import itertools
import shutil
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch

from mroi_plugin.apis.resume import (
    CheckpointMismatchError,
    DamagedCheckpointError,
    WorkDirInUseError,
)
from tests.tiny_configs import REPO

from .conftest import tiny_config

_RUN_IDS = itertools.count()


def _load_train_tool():
    spec = importlib.util.spec_from_file_location('_mroi_tool_train', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_train_tool()


def _train(monkeypatch, config: Path, *args: str) -> None:
    """``python tools/train.py CONFIG ARGS`` in this process (one experiment name per run)."""
    argv = [str(REPO / 'tools' / 'train.py'), str(config), *args, '--cfg-options',
            f'experiment_name=train_tool_{next(_RUN_IDS)}']
    if '--cfg-options' in args:
        argv = argv[:-2] + [f'experiment_name=train_tool_{next(_RUN_IDS)}']
    monkeypatch.setattr(sys, 'argv', argv)
    train_tool.main()


def _files(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def _minimal_config(tmp_path: Path) -> Path:
    """A config the tool can load; the refusals below happen before anything is built."""
    path = tmp_path / 'minimal.py'
    path.write_text("optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', "
                    "lr=1e-3))\nprepare_data = None\n")
    return path


def test_rerunning_into_a_finished_work_dir_is_refused_and_loses_nothing(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'first')
    (work / 'epoch_2.pth').write_bytes(b'second')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    before = _files(work)
    with pytest.raises(WorkDirInUseError) as error:
        _train(monkeypatch, _minimal_config(tmp_path), '--work-dir', str(work))
    message = str(error.value)
    assert f'The work dir {work} already holds checkpoints (epoch_1.pth, epoch_2.pth' in message
    assert '--resume' in message and '--overwrite' in message
    # Refused before the Runner existed: no log dir, no file touched.
    assert _files(work) == before and sorted(p.name for p in work.iterdir()) == [
        'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint']


def test_amp_on_cpu_fails_before_building(tmp_path, monkeypatch):
    import mmengine.device
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    work = tmp_path / 'work'
    with pytest.raises(RuntimeError, match=r'Mixed precision \(--amp.*needs a GPU'):
        _train(monkeypatch, _minimal_config(tmp_path), '--work-dir', str(work), '--amp')
    assert not work.exists()


def test_build_config_keeps_load_from_and_lets_overwrite_through(tmp_path, monkeypatch):
    config = _minimal_config(tmp_path)
    weights = tmp_path / 'pretrained.pth'
    work = tmp_path / 'work'
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config), '--work-dir', str(work),
                                      '--cfg-options', f'load_from={weights}'])
    cfg, summary = train_tool.build_config(train_tool.parse_args())
    assert summary is None and cfg.load_from == str(weights) and cfg.resume is False
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'old')
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config), '--work-dir', str(work),
                                      '--overwrite'])
    cfg, summary = train_tool.build_config(train_tool.parse_args())
    assert summary is None and cfg.work_dir == str(work)
    # ``resume = True`` in the config goes through the same checks as --resume.
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config), '--work-dir', str(work),
                                      '--cfg-options', 'resume=True'])
    with pytest.raises(DamagedCheckpointError, match=f'Cannot resume from {work}/epoch_1.pth'):
        train_tool.build_config(train_tool.parse_args())


@pytest.mark.slow
def test_copied_damaged_and_foreign_checkpoints_through_the_tool(tiny_data, tmp_path,
                                                                 monkeypatch):
    original = tmp_path / 'original'
    cfg = tiny_config(tiny_data, original, max_iters=2)  # a checkpoint every iteration
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    # The runs share this process: a visualizer named per run (mmengine caches it by name and
    # would keep writing into the first run's log dir; separate processes need no such care).
    cfg.visualizer.pop('name')
    config = tmp_path / 'tiny.py'
    cfg.dump(str(config))
    _train(monkeypatch, config)
    assert (original / 'last_checkpoint').read_text().strip() == str(original / 'iter_2.pth')

    # A copy resumes from its own iter_2.pth: the original's is emptied after the copy,
    # so resuming from it (mmengine's absolute path) would fail.
    copy = tmp_path / 'copy'
    shutil.copytree(original, copy)
    (original / 'iter_2.pth').write_bytes(b'')
    original_files = _files(original)
    # mmengine names a run's log by the second it started: a run that starts within the
    # second of the copied one writes the same path, so the new log is told by its content.
    copied_logs = {p: p.read_bytes() for p in copy.glob('*/*.log')}
    _train(monkeypatch, config, '--work-dir', str(copy), '--resume',
           '--cfg-options', 'train_cfg.max_iters=3')
    final = torch.load(str(copy / 'iter_3.pth'))
    assert (final['meta']['iter'], final['meta']['epoch']) == (3, 0)
    assert (copy / 'last_checkpoint').read_text().strip() == str(copy / 'iter_3.pth')
    assert _files(original) == original_files
    # The new run's log says which file it continued from, and why.
    logs = [p for p in copy.glob('*/*.log') if copied_logs.get(p) != p.read_bytes()]
    assert len(logs) == 1
    assert (f'names {original / "iter_2.pth"}, which is not in this work dir (it was copied or '
            f'moved); resuming from {copy / "iter_2.pth"} instead.') in logs[0].read_text()

    # A truncated latest checkpoint: named, and the previous readable one offered.
    data = (copy / 'iter_3.pth').read_bytes()
    (copy / 'iter_3.pth').write_bytes(data[:len(data) // 3])
    with pytest.raises(DamagedCheckpointError) as error:
        _train(monkeypatch, config, '--work-dir', str(copy), '--resume',
               '--cfg-options', 'train_cfg.max_iters=4')
    assert str(error.value).startswith(f'Cannot resume from {copy / "iter_3.pth"}: it cannot '
                                       'be read')
    assert f'--resume {copy / "iter_2.pth"}' in str(error.value)

    # Another config (a wider head) resuming that checkpoint: refused before training.
    with pytest.raises(CheckpointMismatchError) as error:
        _train(monkeypatch, config, '--work-dir', str(copy), '--resume',
               str(copy / 'iter_2.pth'), '--cfg-options', 'train_cfg.max_iters=4',
               'model.head.hidden_channels=32')
    message = str(error.value)
    assert f'Cannot resume from {copy / "iter_2.pth"}' in message
    assert 'shape mismatch' in message and '(checkpoint (64,' in message
    assert '-    head=dict(' in message or 'hidden_channels=64' in message
    assert not (copy / 'iter_4.pth').exists()
