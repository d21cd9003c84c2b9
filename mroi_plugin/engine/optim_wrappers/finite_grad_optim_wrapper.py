"""An optimiser wrapper that never applies a step with a non-finite gradient norm."""
import logging
import weakref
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor, nn

from mroi_plugin.registry import OPTIM_WRAPPERS

__all__ = ['FiniteGradOptimWrapper']

_POLICIES = ('skip', 'raise')
_SHOWN_PARAMS = 4


@OPTIM_WRAPPERS.register_module()
class FiniteGradOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that refuses steps whose gradient norm is NaN or inf.

    A finite loss can still give infinite gradients (a high learning rate, no
    clipping). Adam then stores inf moments, every later update of those
    parameters is NaN or zero, and the next checkpoint carries the poisoned
    state. Clipping does not help: ``clip_grad_norm_`` with an infinite norm
    multiplies the gradients by ``max_norm / inf = 0``, and ``inf * 0`` is NaN.
    So the total 2-norm of all gradients is checked before clipping and before
    ``optimizer.step()``:

    - ``'skip'`` (default): the step is not applied (parameters and optimiser
      state stay as they were, the gradients are cleared by ``update_params``),
      a warning with the running count is logged, and the count is logged as
      ``nonfinite_grad_skips`` with the other training scalars. One bad batch
      does not end a long run, as ``AmpOptimWrapper``'s ``GradScaler`` skips
      overflowing steps. ``max_consecutive_skips`` skips in a row mean the run
      has diverged: that raises, so a run cannot go on silently not learning.
    - ``'raise'``: ``FloatingPointError`` before the step, naming the
      parameters with non-finite gradients.

    Either way the optimiser state and the weights never see the bad gradient,
    so every checkpoint written before or after holds only finite tensors.

    Under DDP the check runs after the gradient all-reduce, so every rank makes
    the same decision. Mixed precision needs no such guard: ``AmpOptimWrapper``
    scales the loss, and its ``GradScaler`` skips non-finite steps itself (use
    it instead of this wrapper, not around it, so those skips are not counted
    twice).

    Args:
        nonfinite_grad (str): ``'skip'`` or ``'raise'``. Defaults to ``'skip'``.
        max_consecutive_skips (int): With ``'skip'``, raise once this many
            consecutive steps were skipped. Defaults to 10.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self,
                 nonfinite_grad: str = 'skip',
                 max_consecutive_skips: int = 10,
                 **kwargs) -> None:
        if nonfinite_grad not in _POLICIES:
            raise ValueError(f"optim_wrapper.nonfinite_grad must be 'skip' or 'raise', got "
                             f'{nonfinite_grad!r}.')
        if max_consecutive_skips < 1:
            raise ValueError('optim_wrapper.max_consecutive_skips must be >= 1, got '
                             f'{max_consecutive_skips}.')
        super().__init__(**kwargs)
        self.nonfinite_grad = nonfinite_grad
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self.consecutive_skips = 0
        self._model: Optional[weakref.ref] = None

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """mmengine's context; also remembers the model to name parameters in messages."""
        self._model = weakref.ref(model)
        with super().optim_context(model):
            yield

    def grad_norm(self) -> Optional[Tensor]:
        """Total 2-norm of all gradients (scalar tensor), None if there are none."""
        grads = [param.grad.detach() for group in self.optimizer.param_groups
                 for param in group['params'] if param.grad is not None]
        if not grads:
            return None
        return torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(grad, dtype=torch.float32) for grad in grads]))

    def step(self, **kwargs) -> None:
        """Clip and step as ``OptimWrapper.step``, unless the gradient norm is not finite."""
        norm = self.grad_norm()
        if norm is None or torch.isfinite(norm):
            self.consecutive_skips = 0
            super().step(**kwargs)
            return
        where = self._bad_params()
        iteration = self.message_hub.get_info('iter')
        # 1-based, as the log lines count ('Iter(train) [3/6]' runs with runner.iter == 2).
        at = f' at iteration {iteration + 1}' if iteration is not None else ''
        if self.nonfinite_grad == 'raise':
            raise FloatingPointError(
                f'The gradient norm is {norm.item()}{at} (the loss was finite); non-finite '
                f'gradients in {where}. The optimiser step was not applied, so the weights, '
                'the optimiser state and the last checkpoint in the work dir are finite. Lower '
                "the learning rate, clip gradients (optim_wrapper.clip_grad), or set "
                "optim_wrapper.nonfinite_grad='skip' to skip such steps, then resume.")
        self.skipped_steps += 1
        self.consecutive_skips += 1
        self.message_hub.update_scalar('train/nonfinite_grad_skips', self.skipped_steps)
        print_log(
            f'Skipped the optimiser step{at}: the gradient norm is {norm.item()} (non-finite '
            f'gradients in {where}); {self.skipped_steps} step(s) skipped so far, '
            f'{self.consecutive_skips} in a row.', logger='current', level=logging.WARNING)
        if self.consecutive_skips >= self.max_consecutive_skips:
            raise FloatingPointError(
                f'{self.consecutive_skips} consecutive optimiser steps had non-finite gradients'
                f'{at}: training has diverged (the weights, optimiser state and checkpoints '
                'are still finite). Lower the learning rate or clip gradients '
                '(optim_wrapper.clip_grad), then resume.')

    def _bad_params(self) -> str:
        """Names (or shapes) of the first parameters with non-finite gradients."""
        model = self._model() if self._model is not None else None
        names: Dict[int, str] = {}
        if model is not None:
            names = {id(param): name for name, param in model.named_parameters()}
        bad: List[str] = []
        for group in self.optimizer.param_groups:
            for param in group['params']:
                if param.grad is not None and not torch.isfinite(param.grad).all():
                    bad.append(names.get(id(param), f'a parameter of shape {tuple(param.shape)}'))
        if not bad:
            return 'no single parameter (the total norm overflows float32)'
        shown = ', '.join(bad[:_SHOWN_PARAMS])
        return f'{len(bad)} parameter(s): {shown}' + (' ...' if len(bad) > _SHOWN_PARAMS else '')
