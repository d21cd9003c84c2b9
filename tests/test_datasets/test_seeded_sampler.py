"""SeededSampler: a sample's augmentation depends only on (seed, epoch, index)."""
import os.path as osp
import pickle
import random
import sys

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader

from mroi_plugin.datasets import HumanDataDataset, SampleIndex, SeededSampler, seeded_random_state

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from humandata_factory import write_dataset  # noqa: E402


def _draw(results: dict) -> dict:
    """A stand-in augmentation drawing from all three global generators."""
    results['draw'] = (float(np.random.rand()), random.random(), float(torch.rand(1)))
    return results


def _dataset(tmp_path) -> HumanDataDataset:
    path, _ = write_dataset(str(tmp_path), num_samples=10, images=False)
    return HumanDataDataset(ann_file=osp.basename(path), data_root=osp.dirname(path),
                            pipeline=[_draw])


def _draws(dataset, sampler_type, epochs=2, **loader_kwargs):
    """{(epoch, index): draw} over ``epochs`` epochs of a loader with that sampler."""
    sampler = sampler_type(dataset, shuffle=True, seed=3)
    loader = DataLoader(dataset, batch_size=3, sampler=sampler, collate_fn=list,
                        **loader_kwargs)
    seen = {}
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader:
            seen.update({(epoch, s['sample_idx']): s['draw'] for s in batch})
    return seen


def test_sample_index_is_an_int_that_keeps_its_tags_through_pickle():
    index = SampleIndex(7, seed=3, epoch=2)
    assert index == 7 and np.arange(10)[index] == 7
    copy = pickle.loads(pickle.dumps(index))
    assert isinstance(copy, SampleIndex) and copy.key == (3, 2, 7)


def test_seeded_scope_is_reproducible_and_restores_the_global_state():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    with seeded_random_state((1, 0, 5)):
        first = (np.random.rand(), random.random(), torch.rand(1).item())
    with seeded_random_state((1, 0, 5)):
        again = (np.random.rand(), random.random(), torch.rand(1).item())
    with seeded_random_state((1, 1, 5)):
        other_epoch = (np.random.rand(), random.random(), torch.rand(1).item())
    assert first == again
    assert all(a != b for a, b in zip(first, other_epoch))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_order_and_rank_split_are_default_samplers(tmp_path):
    dataset = _dataset(tmp_path)
    for epoch in range(2):
        seeded, default = SeededSampler(dataset, seed=3), DefaultSampler(dataset, seed=3)
        seeded.set_epoch(epoch)
        default.set_epoch(epoch)
        assert [int(i) for i in seeded] == list(default)


def test_augmentation_does_not_depend_on_workers(tmp_path):
    dataset = _dataset(tmp_path)
    reference = _draws(dataset, SeededSampler)
    assert len(reference) == 20
    # Each epoch draws new augmentation for the same sample.
    assert all(reference[(0, i)] != reference[(1, i)] for i in range(10))
    # Two persistent workers (mmengine's usual setup) draw exactly the same.
    assert _draws(dataset, SeededSampler, num_workers=2, persistent_workers=True) == reference
    # ... which the plain DefaultSampler does not: there the draws depend on the
    # process that loads the sample (main process vs. forked workers).
    np.random.seed(3)
    in_main = _draws(dataset, DefaultSampler)
    np.random.seed(3)
    in_workers = _draws(dataset, DefaultSampler, num_workers=2, persistent_workers=True)
    assert in_main != in_workers
