"""``SeededConcatDataset``: mmengine's ``ConcatDataset`` that keeps per-sample seeding."""
from typing import Any

from mmengine.dataset import ConcatDataset

from mroi_plugin.registry import DATASETS

from .sample_seed import SampleIndex, seeded_random_state

__all__ = ['SeededConcatDataset']


@DATASETS.register_module()
class SeededConcatDataset(ConcatDataset):
    """``ConcatDataset`` whose samples draw their augmentation from ``(seed, epoch, index)``.

    mmengine's ``ConcatDataset`` maps a global index to a plain ``int`` of one
    sub-dataset, so the ``(seed, epoch)`` tag of a
    :class:`~mroi_plugin.datasets.sample_seed.SampleIndex` (from
    ``SeededSampler`` or ``MixedRatioSampler``) is lost and a mixed-dataset run
    no longer resumes bit-identically. Here a tagged index runs the whole
    sub-dataset call (pipeline and any bad-sample replacement draw) with
    numpy/random/torch seeded by ``(seed, epoch, global index)``: samples of
    different sub-datasets never share a stream, and nested
    ``SeededConcatDataset`` s are seeded once, by the outermost. A plain ``int``
    behaves exactly as in ``ConcatDataset``.

    Args: as :class:`mmengine.dataset.ConcatDataset` (``datasets``,
        ``lazy_init=False``, ``ignore_keys=None``).

    Example::

        train_dataloader = dict(
            sampler=dict(type='MixedRatioSampler', ratios=[0.6, 0.4]),
            dataset=dict(type='SeededConcatDataset', datasets=[h36m, coco]))
    """

    def __getitem__(self, idx: int) -> Any:
        """Sample ``idx`` of the concatenation; a ``SampleIndex`` seeds its transforms."""
        if isinstance(idx, SampleIndex):
            with seeded_random_state(idx.key):
                return super().__getitem__(int(idx))
        return super().__getitem__(idx)
