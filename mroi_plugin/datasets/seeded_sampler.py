"""``SeededSampler``: mmengine's ``DefaultSampler`` whose indices carry ``(seed, epoch)``."""
from typing import Iterator

from mmengine.dataset import DefaultSampler

from mroi_plugin.registry import DATA_SAMPLERS

from .sample_seed import SampleIndex

__all__ = ['SeededSampler']


@DATA_SAMPLERS.register_module()
class SeededSampler(DefaultSampler):
    """``DefaultSampler`` (same order, same rank split) with reproducible augmentation.

    Every index it yields is a :class:`~mroi_plugin.datasets.sample_seed.SampleIndex`
    tagged with the sampler's seed (the run's ``randomness.seed``) and the current
    epoch, and :class:`~mroi_plugin.datasets.HumanDataDataset` draws that
    sample's augmentation from a generator seeded by ``(seed, epoch, index)``.
    A sample's augmentation is then the same whatever the number of
    DataLoader workers, whether they persist, the number of ranks, and whether
    the run was interrupted and resumed — which is what makes a resumed run
    reach bit-identical weights (``tests/test_engine/test_kill_and_resume.py``).

    A dataset without ``SampleIndex`` support (e.g. mmengine's
    ``ConcatDataset``, which turns the index into a plain ``int``; use
    ``SeededConcatDataset``) falls back to the workers' global generators,
    i.e. mmengine's behaviour.

    Args: as :class:`mmengine.dataset.DefaultSampler` (``dataset``,
        ``shuffle=True``, ``seed=None``, ``round_up=True``).
    """

    def __iter__(self) -> Iterator[SampleIndex]:
        """This rank's indices for the current epoch, tagged with seed and epoch."""
        seed, epoch = self.seed, self.epoch
        return (SampleIndex(index, seed, epoch) for index in super().__iter__())
