"""Saving and resuming an mmengine run with safe (weights_only) torch.load."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mroi_plugin  # noqa: F401  (registers the safe globals at import)
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


def _runner(work_dir, max_epochs, resume=False):
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
