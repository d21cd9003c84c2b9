"""``MixedRatioSampler``: draw from the parts of a ``ConcatDataset`` at fixed ratios."""
import math
from typing import Any, Iterator, List, Optional, Sequence, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mroi_plugin.registry import DATA_SAMPLERS

from .sample_seed import SampleIndex

__all__ = ['MixedRatioSampler']


@DATA_SAMPLERS.register_module()
class MixedRatioSampler(Sampler):
    """Sample the sub-datasets of a ``ConcatDataset`` at given ratios, DDP-aware.

    Multi-RoI HMR / CLIFF / SPIN train on a mix (H36M 50%, COCO + MPII 30%,
    MPI-INF-3DHP 20%; docs/method.md#training-protocol) regardless of the datasets' sizes. Each
    epoch draws ``num_samples`` indices in total: exactly
    ``round(ratio_k * num_samples)`` from sub-dataset ``k`` (largest-remainder
    rounding), taken from fresh random permutations of it, so every sample is
    seen once before any repeats. Sub-datasets that should share a ratio in
    proportion to their sizes (COCO + MPII) go into a nested ``ConcatDataset``.

    Like mmengine's ``DefaultSampler``: all ranks build the same global order
    from ``seed + epoch`` and rank ``r`` takes positions ``r, r + W, ...``, so
    the ranks' shares are disjoint; :meth:`set_epoch` reshuffles.

    Example config (the paper's mix)::

        train_dataloader = dict(
            sampler=dict(type='MixedRatioSampler', ratios=[0.5, 0.3, 0.2]),
            dataset=dict(type='ConcatDataset', datasets=[
                h36m_cfg,
                dict(type='ConcatDataset', datasets=[coco_cfg, mpii_cfg]),
                mpi_inf_3dhp_cfg]))

    Args:
        dataset (Sized): A ``ConcatDataset`` (mmengine's or torch's: anything
            with ``datasets`` and ``cumulative_sizes``).
        ratios (Sequence[float]): One non-negative weight per sub-dataset;
            normalised to sum to 1.
        num_samples (int, optional): Indices drawn per epoch over all ranks.
            Defaults to the size of the largest sub-dataset with a positive
            ratio (the epoch length of SPIN/CLIFF's ``MixedDataset``).
        shuffle (bool): Random order (default). ``False`` gives a fixed order
            that interleaves the sub-datasets evenly, for debugging.
        seed (int, optional): Shared random seed; synchronised across ranks
            when None.
        round_up (bool): Pad the draw so every rank gets the same count.
    """

    def __init__(self,
                 dataset: Sized,
                 ratios: Sequence[float],
                 num_samples: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        if not hasattr(dataset, 'datasets'):
            raise TypeError(
                f'MixedRatioSampler needs a ConcatDataset (with `datasets`), got '
                f"{type(dataset).__name__}; wrap the datasets: dataset=dict(type='ConcatDataset', "
                'datasets=[...]).')
        if hasattr(dataset, 'full_init'):
            dataset.full_init()  # mmengine's lazy ConcatDataset sets cumulative_sizes here
        self.dataset = dataset
        concat: Any = dataset  # a ConcatDataset, checked above
        self.sizes = [len(d) for d in concat.datasets]
        self.offsets = [0] + list(concat.cumulative_sizes[:-1])
        ratio_array = np.asarray(ratios, dtype=np.float64).reshape(-1)
        if len(ratio_array) != len(self.sizes):
            raise ValueError(f'MixedRatioSampler: {len(ratio_array)} ratios for '
                             f'{len(self.sizes)} sub-datasets; give one ratio per sub-dataset.')
        if (not np.isfinite(ratio_array).all() or (ratio_array < 0).any()
                or ratio_array.sum() <= 0):
            raise ValueError(f'MixedRatioSampler: ratios must be non-negative with a positive '
                             f'sum, got {ratio_array.tolist()}.')
        empty = [k for k, (r, n) in enumerate(zip(ratio_array, self.sizes)) if r > 0 and n == 0]
        if empty:
            raise ValueError(f'MixedRatioSampler: sub-datasets {empty} are empty but have a '
                             'positive ratio.')
        self.ratios = ratio_array / ratio_array.sum()
        if num_samples is None:
            num_samples = max(n for r, n in zip(self.ratios, self.sizes) if r > 0)
        if int(num_samples) <= 0:
            raise ValueError(f'MixedRatioSampler: num_samples must be positive, got '
                             f'{num_samples}.')
        self.total_draws = int(num_samples)

        self.rank, self.world_size = get_dist_info()
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self.round_up = round_up
        if round_up:
            self.num_samples = math.ceil(self.total_draws / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((self.total_draws - self.rank) / self.world_size)
            self.total_size = self.total_draws

    def counts(self, total: Optional[int] = None) -> List[int]:
        """Draws per sub-dataset for ``total`` draws (largest remainder).

        Args:
            total (int, optional): Defaults to the draws of one epoch.

        Returns:
            list[int]: One count per sub-dataset, summing to ``total``.
        """
        total = self.total_size if total is None else total
        exact = self.ratios * total
        counts = np.floor(exact).astype(np.int64)
        order = np.argsort(-(exact - counts), kind='stable')
        counts[order[:total - counts.sum()]] += 1
        return counts.tolist()

    def _draw(self, size: int, count: int, generator: torch.Generator) -> torch.Tensor:
        if count == 0:
            return torch.zeros(0, dtype=torch.int64)
        repeats = math.ceil(count / size)
        if self.shuffle:
            parts = [torch.randperm(size, generator=generator) for _ in range(repeats)]
        else:
            parts = [torch.arange(size)] * repeats
        return torch.cat(parts)[:count]

    def global_indices(self) -> List[int]:
        """The epoch's indices for all ranks, before the split across ranks."""
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        draws, keys = [], []
        for size, offset, count in zip(self.sizes, self.offsets, self.counts()):
            draws.append(self._draw(size, count, generator) + offset)
            # Even spacing in [0, 1): sorting by it interleaves the parts.
            keys.append((torch.arange(count, dtype=torch.float64) + 0.5) / max(count, 1))
        indices = torch.cat(draws)
        if self.shuffle:
            order = torch.randperm(len(indices), generator=generator)
        else:
            order = torch.argsort(torch.cat(keys), stable=True)
        return indices[order].tolist()

    def __iter__(self) -> Iterator[SampleIndex]:
        """Indices of this rank for the current epoch, tagged with seed and epoch.

        A ``SeededConcatDataset`` seeds each sample's augmentation from the tag
        (bit-identical resume); mmengine's ``ConcatDataset`` reads them as ints.
        """
        seed, epoch = self.seed, self.epoch
        return (SampleIndex(index, seed, epoch)
                for index in self.global_indices()[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        """The number of indices this rank yields per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reseed for ``epoch`` (called by mmengine's loops every epoch).

        Args:
            epoch (int): Epoch number.
        """
        self.epoch = epoch
