"""A finite loss with infinite gradients: the step is skipped (or raises), nothing is poisoned."""
import logging
import re

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mroi_plugin.engine import FiniteGradOptimWrapper
from mroi_plugin.utils import register_all_modules

register_all_modules(init_default_scope=False)

TARGET = (1.0, -2.0, 0.5)


class _Samples(Dataset):
    """Iteration ``i`` reads sample ``i``; the samples in ``poison`` give an inf gradient."""

    def __init__(self, length: int, poison) -> None:
        self.length, self.poison = length, set(poison)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.tensor(TARGET), poison=float(index in self.poison))


class _Regression(BaseModel):
    """``|w - target|^2``; a poisoned batch adds ``sqrt(w0 - w0.detach())``.

    That extra term is exactly 0 (the loss stays finite), but its derivative
    ``0.5 / sqrt(0)`` is +inf: the situation of a high learning rate, where the
    loss is still finite and the gradient overflows.
    """

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))

    def forward(self, inputs, poison=None, mode='loss'):
        loss = ((self.w - inputs) ** 2).sum(-1).mean()
        if poison is not None and bool(poison.any()):
            loss = loss + torch.sqrt(self.w[0] - self.w[0].detach())
        return dict(loss=loss)


class _Record(Hook):
    def __init__(self) -> None:
        self.weights = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        model = runner.model
        self.weights[runner.iter] = model.w.detach().clone()


class _Lines(logging.Handler):
    """Collects what the run logs (two Runners started within one second share
    one log file, so the file is not a reliable place to look)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _runner(tmp_path, optim_wrapper: dict, poison=(2, ), max_iters: int = 6) -> Runner:
    return Runner(
        model=_Regression(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=_Samples(max_iters, poison), batch_size=1, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.1), **optim_wrapper),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(by_epoch=False, window_size=1),
        custom_hooks=[_Record()],
        default_scope='mroi')


def _checkpoint_tensors(path) -> dict:
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    tensors = dict(checkpoint['state_dict'])
    for key, state in checkpoint['optimizer']['state'].items():
        tensors.update({f'optimizer.{key}.{name}': value for name, value in state.items()
                        if isinstance(value, torch.Tensor)})
    return tensors


def test_without_the_guard_adam_state_is_poisoned(tmp_path):
    """The failure the guard exists for: plain OptimWrapper stores inf/NaN in the checkpoint."""
    runner = _runner(tmp_path, dict(type='OptimWrapper'))
    runner.train()
    tensors = _checkpoint_tensors(tmp_path / 'iter_6.pth')
    assert not all(torch.isfinite(value).all() for value in tensors.values())


@pytest.mark.parametrize('clip_grad', [None, dict(max_norm=1.0)])
def test_skip_leaves_weights_and_optimizer_state_finite(tmp_path, clip_grad):
    runner = _runner(tmp_path, dict(type='FiniteGradOptimWrapper', clip_grad=clip_grad))
    lines = _Lines()
    runner.logger.addHandler(lines)
    runner.train()
    runner.logger.removeHandler(lines)
    wrapper = runner.optim_wrapper
    assert isinstance(wrapper, FiniteGradOptimWrapper)
    assert wrapper.skipped_steps == 1 and wrapper.consecutive_skips == 0
    record = next(hook for hook in runner.hooks if isinstance(hook, _Record))
    weights = record.weights
    # Keyed by runner.iter (0-based): the third iteration (logged as [3/6]) is
    # the poisoned one, and it did not move the weights.
    assert torch.equal(weights[2], weights[1])
    assert not torch.equal(weights[3], weights[2])
    # Adam counted 5 steps in 6 iterations: the skipped one never reached it.
    state = wrapper.optimizer.state[runner.model.w]
    assert float(state['step']) == 5
    for name, value in [('w', runner.model.w), *state.items()]:
        assert torch.isfinite(torch.as_tensor(value)).all(), name
    # Both checkpoints (before and after the bad step) are finite throughout.
    for name in ('iter_3.pth', 'iter_6.pth'):
        tensors = _checkpoint_tensors(tmp_path / name)
        assert any(key.startswith('optimizer.') for key in tensors)
        for key, value in tensors.items():
            assert torch.isfinite(value).all(), (name, key)
    # The warning names the iteration, the parameter and the running count,
    # and the count is among the logged training scalars.
    log = '\n'.join(lines.lines)
    assert re.search(r'Skipped the optimiser step at iteration 3: the gradient norm is inf '
                     r'\(non-finite gradients in 1 parameter\(s\): w\); 1 step\(s\) skipped so '
                     r'far', log), log
    assert 'nonfinite_grad_skips: 1' in log
    assert runner.message_hub.get_scalar('train/nonfinite_grad_skips').current() == 1


def test_raise_stops_before_the_step(tmp_path):
    runner = _runner(tmp_path, dict(type='FiniteGradOptimWrapper', nonfinite_grad='raise'))
    with pytest.raises(FloatingPointError, match=r'gradient norm is inf at iteration 3 .*'
                       r'1 parameter\(s\): w\. The optimiser step was not applied'):
        runner.train()
    record = next(hook for hook in runner.hooks if isinstance(hook, _Record))
    assert sorted(record.weights) == [0, 1]
    assert torch.equal(runner.model.w.detach(), record.weights[1])
    state = runner.optim_wrapper.optimizer.state[runner.model.w]
    assert float(state['step']) == 2
    assert all(torch.isfinite(torch.as_tensor(value)).all() for value in state.values())
    assert not list(tmp_path.glob('*.pth'))


def test_consecutive_skips_end_a_diverged_run(tmp_path):
    runner = _runner(tmp_path, dict(type='FiniteGradOptimWrapper', max_consecutive_skips=3),
                     poison=range(1, 6))
    with pytest.raises(FloatingPointError, match='3 consecutive optimiser steps had non-finite '
                       'gradients at iteration 4'):
        runner.train()
    assert runner.optim_wrapper.skipped_steps == 3


def test_a_finite_run_is_the_plain_optim_wrapper(tmp_path):
    """No poisoned batch: identical weights to mmengine's OptimWrapper, nothing skipped."""
    results = []
    for index, wrapper in enumerate(('OptimWrapper', 'FiniteGradOptimWrapper')):
        runner = _runner(tmp_path / str(index), dict(type=wrapper, clip_grad=dict(max_norm=0.5)),
                         poison=())
        runner.train()
        results.append(runner.model.w.detach().clone())
    assert torch.equal(results[0], results[1])
    assert runner.optim_wrapper.skipped_steps == 0


@pytest.mark.parametrize('kwargs, match', [
    (dict(nonfinite_grad='warn'), "nonfinite_grad must be 'skip' or 'raise', got 'warn'"),
    (dict(max_consecutive_skips=0), 'max_consecutive_skips must be >= 1, got 0'),
])
def test_bad_options_are_refused(kwargs, match):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=re.escape(match)):
        FiniteGradOptimWrapper(optimizer=optimizer, **kwargs)


def test_it_is_an_optim_wrapper():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert isinstance(FiniteGradOptimWrapper(optimizer=optimizer), OptimWrapper)
