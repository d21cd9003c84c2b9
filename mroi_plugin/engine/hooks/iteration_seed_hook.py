"""Reseed the training process's random generators from (seed, iteration, rank)."""
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mroi_plugin.datasets.sample_seed import seed_global_generators
from mroi_plugin.registry import HOOKS

__all__ = ['IterationSeedHook']

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Make the model's randomness (dropout) a function of ``(seed, iteration, rank)``.

    mmengine seeds the generators once, when the Runner is built, and does not
    save their states in checkpoints; a resumed run therefore draws other
    dropout masks than the uninterrupted run did from the same iteration on.
    Restoring saved states is not enough either: between the checkpoint and the
    next step the uninterrupted run also spends random numbers elsewhere
    (validation, a new DataLoader iterator's base seed). Reseeding numpy,
    ``random`` and torch (CPU and CUDA) before every training iteration from
    ``(seed, iteration, rank)`` gives each step the same stream however the run
    got there. Together with ``SeededSampler`` (the data side), a run killed
    and resumed from a checkpoint reaches bit-identical weights
    (``tests/test_engine/test_kill_and_resume.py``) in deterministic mode.

    Example::

        custom_hooks = [dict(type='IterationSeedHook')]
        randomness = dict(seed=0, deterministic=True)
    """

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None) -> None:
        """Seed the generators for iteration ``runner.iter`` of this rank."""
        # The rank is part of the key so that DDP ranks draw different masks.
        seed_global_generators([runner.seed, runner.iter, get_rank()], all_torch_devices=True)
