"""Per-sample random streams for augmentation: a pure function of (seed, epoch, index).

mmengine seeds each DataLoader worker once (``seed + worker_id``), so which
random numbers a sample's transforms draw depends on the worker count, on
whether workers persist across epochs, and on how many samples the process
drew before it. A run resumed from a checkpoint restarts those streams, and its
augmentations (hence its weights) differ from an uninterrupted run.

Here the sampler tags every index with its run seed and epoch
(:class:`SampleIndex`), and the dataset runs the sample's pipeline inside
:func:`seeded_random_state`, which seeds numpy's, Python's and torch's global
CPU generators from ``(seed, epoch, index)`` and restores them afterwards. The
transforms keep using the global generators (as mmcv's do); their draws no
longer depend on anything but the sample's identity.
"""
import random
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch

__all__ = ['SampleIndex', 'seeded_random_state', 'seed_global_generators']


class SampleIndex(int):
    """A dataset index that carries the run seed and epoch it was drawn in.

    It is an ``int`` (datasets, numpy indexing and collation treat it as one)
    and pickles with its tags, so it reaches DataLoader workers intact.

    Args:
        value (int): The dataset index.
        seed (int): The sampler's (run's) seed.
        epoch (int): The epoch the index was drawn for.
    """

    seed: int
    epoch: int

    def __new__(cls, value: int, seed: int, epoch: int) -> 'SampleIndex':
        obj = super().__new__(cls, value)
        obj.seed = int(seed)
        obj.epoch = int(epoch)
        return obj

    def __reduce__(self):
        return SampleIndex, (int(self), self.seed, self.epoch)

    def __repr__(self) -> str:
        return f'SampleIndex({int(self)}, seed={self.seed}, epoch={self.epoch})'

    @property
    def key(self) -> tuple:
        """tuple[int, int, int]: ``(seed, epoch, index)``."""
        return self.seed, self.epoch, int(self)


def seed_global_generators(key: Sequence[int], all_torch_devices: bool = False) -> None:
    """Seed numpy's, Python's and torch's global generators from ``key``.

    ``np.random.SeedSequence`` mixes the key words, so neighbouring keys
    (index 3 vs 4, epoch 0 vs 1) give unrelated streams; each library gets its
    own word of the sequence.

    Args:
        key (Sequence[int]): Non-negative ints, e.g. ``(seed, epoch, index)``.
        all_torch_devices (bool): ``torch.manual_seed`` (CPU and CUDA generators)
            instead of the default CPU generator only.
    """
    np_seed, py_seed, torch_seed = np.random.SeedSequence([int(k) for k in key]).generate_state(3)
    np.random.seed(int(np_seed))
    random.seed(int(py_seed))
    if all_torch_devices:
        torch.manual_seed(int(torch_seed))
    else:
        torch.default_generator.manual_seed(int(torch_seed))


@contextmanager
def seeded_random_state(key: Sequence[int]) -> Iterator[None]:
    """Seed numpy/random/torch (CPU) from ``key``; restore their states on exit.

    Args:
        key (Sequence[int]): Non-negative ints, e.g. ``(seed, epoch, index)``.
    """
    np_state = np.random.get_state()
    py_state = random.getstate()
    torch_state = torch.get_rng_state()
    try:
        # The default CPU generator only: CUDA generators are not restored here.
        seed_global_generators(key)
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.set_rng_state(torch_state)
