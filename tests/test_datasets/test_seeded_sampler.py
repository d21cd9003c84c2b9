"""SeededSampler / SeededConcatDataset: a sample's augmentation depends only on
(seed, epoch, index)."""
import os.path as osp
import pickle
import random
import sys

import numpy as np
import torch
from mmengine.dataset import ConcatDataset, DefaultSampler
from torch.utils.data import DataLoader

from mroi_plugin.datasets import (
    HumanDataDataset,
    MixedRatioSampler,
    SampleIndex,
    SeededConcatDataset,
    SeededSampler,
    seeded_random_state,
)

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


# ------------------------------------------------------- mixed datasets
def _mixed(tmp_path) -> SeededConcatDataset:
    """Two 10-sample parts (same annotations, so only the seeding tells them apart)."""
    return SeededConcatDataset([_dataset(tmp_path / 'a'), _dataset(tmp_path / 'b')])


def _mixed_draws(dataset, epochs=2, **loader_kwargs):
    sampler = MixedRatioSampler(dataset, ratios=[0.5, 0.5], seed=3)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler, collate_fn=list,
                        **loader_kwargs)
    seen = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        seen.append([(s['sample_idx'], s['draw']) for batch in loader for s in batch])
    return seen


def test_mixed_ratio_sampler_tags_its_indices(tmp_path):
    sampler = MixedRatioSampler(_mixed(tmp_path), ratios=[0.5, 0.5], seed=3)
    sampler.set_epoch(4)
    indices = list(sampler)
    assert all(isinstance(i, SampleIndex) and (i.seed, i.epoch) == (3, 4) for i in indices)
    assert [int(i) for i in indices] == sampler.global_indices()


def test_seeded_concat_draws_from_seed_epoch_and_global_index(tmp_path):
    dataset = _mixed(tmp_path)
    # Sample 3 of each part: the same local index, different global ones (3 and 13).
    first = dataset[SampleIndex(3, seed=3, epoch=0)]['draw']
    np.random.seed(123)  # whatever the process drew before does not matter
    assert dataset[SampleIndex(3, seed=3, epoch=0)]['draw'] == first
    with seeded_random_state((3, 0, 3)):
        expected = (float(np.random.rand()), random.random(), float(torch.rand(1)))
    assert first == expected
    assert dataset[SampleIndex(13, seed=3, epoch=0)]['draw'] != first
    assert dataset[SampleIndex(3, seed=3, epoch=1)]['draw'] != first
    # A plain int keeps ConcatDataset's behaviour: the process's global generators.
    np.random.seed(5)
    plain = dataset[3]['draw'][0]
    np.random.seed(5)
    assert plain == float(np.random.rand())


def test_mixed_augmentation_does_not_depend_on_workers(tmp_path):
    dataset = _mixed(tmp_path)
    reference = _mixed_draws(dataset)
    assert len(reference) == 2 and len(reference[0]) == 10
    assert _mixed_draws(dataset, num_workers=2, persistent_workers=True) == reference
    # mmengine's ConcatDataset drops the tags: its draws depend on the loading process.
    plain = ConcatDataset(list(dataset.datasets))
    np.random.seed(3)
    in_main = _mixed_draws(plain)
    np.random.seed(3)
    assert _mixed_draws(plain, num_workers=2, persistent_workers=True) != in_main
