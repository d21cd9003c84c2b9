"""Let ``torch.load(weights_only=True)`` read mmengine's own checkpoints.

With torch >= 2.6 ``torch.load`` defaults to ``weights_only=True`` and refuses the
non-tensor objects mmengine 0.10 stores in every checkpoint (the message hub's
``HistoryBuffer`` and numpy arrays/scalars), so ``--resume`` fails. Rather than
turning safe loading off, allow-list exactly those objects. ``HistoryBuffer``
pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``; instead of
allowing the builtin ``getattr`` (which would reach any attribute), the name
``builtins.getattr`` is bound to a getattr that only returns those methods.
"""
import pickle
from typing import Any, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['allow_mmengine_checkpoint_globals', 'mmengine_checkpoint_globals']

_registered = False

# HistoryBuffer registers these in ``_set_default_statistics`` when its first
# instance is built, so a fresh process has not seen them yet.
_DEFAULT_STATISTICS = ('min', 'max', 'mean', 'current')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` limited to the statistics methods of ``HistoryBuffer``."""
    if obj is HistoryBuffer and (name in _DEFAULT_STATISTICS
                                 or name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) while loading a checkpoint with '
        'weights_only=True: only HistoryBuffer statistics methods are allowed. '
        'Load the file with weights_only=False only if you trust its source.')


def mmengine_checkpoint_globals() -> List[Any]:
    """The globals an mmengine checkpoint contains besides tensors.

    Returns:
        list: objects (or ``(object, qualified_name)`` pairs) for
        :func:`torch.serialization.add_safe_globals`.
    """
    # numpy moved its C module to numpy._core in 2.0; pickles name whichever
    # one wrote them, so register both spellings when they exist.
    multiarray_modules = []
    for module_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            multiarray_modules.append(__import__(module_name, fromlist=['_']))
        except ImportError:
            continue
    allowed: List[Any] = [HistoryBuffer, np.ndarray, np.dtype,
                          (_history_buffer_getattr, 'builtins.getattr')]
    for module in multiarray_modules:
        for name in ('scalar', '_reconstruct'):
            allowed.append((getattr(module, name), f'{module.__name__}.{name}'))
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes)
                    if name.endswith('DType')]
    return allowed


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list mmengine checkpoint contents for safe ``torch.load``.

    Idempotent; called when :mod:`mroi_plugin` is imported, so ``tools/train.py
    --resume`` works on torch >= 2.6 without ``weights_only=False``.
    """
    global _registered
    if _registered or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    _registered = True
