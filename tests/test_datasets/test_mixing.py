"""MixedRatioSampler: ratios, coverage, DDP split, epochs, registry."""
import os.path as osp
import sys
from collections import Counter

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from torch.utils.data import DataLoader

import mroi_plugin.datasets.mixing as mixing_module
from mroi_plugin.datasets import HumanDataDataset, MixedRatioSampler
from mroi_plugin.registry import DATA_SAMPLERS, DATASETS

# pytest runs with --import-mode=importlib: put the shared helper on the path.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from humandata_factory import dump_human_data, make_human_data  # noqa: E402

SIZES = (10, 30, 7)
# H36M, COCO + MPII, MPI-INF-3DHP: the paper's mix (docs/method.md#training-protocol).
PAPER_RATIOS = (0.5, 0.3, 0.2)


@pytest.fixture(scope='module')
def concat(tmp_path_factory):
    root = tmp_path_factory.mktemp('mix')
    datasets = []
    for k, size in enumerate(SIZES):
        path = dump_human_data(str(root / f'part{k}.npz'), make_human_data(size, seed=k))
        datasets.append(HumanDataDataset(ann_file=path, dataset_name=f'part{k}'))
    return ConcatDataset(datasets)


def _part(index):
    """Sub-dataset of a global index of the concatenation."""
    return int(np.searchsorted(np.cumsum(SIZES), index, side='right'))


def test_epoch_draws_exact_ratios(concat):
    sampler = MixedRatioSampler(concat, ratios=PAPER_RATIOS, num_samples=1000, seed=0)
    indices = list(sampler)
    assert len(indices) == len(sampler) == 1000
    counts = Counter(_part(i) for i in indices)
    assert [counts[k] for k in range(3)] == [500, 300, 200]


def test_empirical_ratios_over_many_epochs_and_odd_totals(concat):
    sampler = MixedRatioSampler(concat, ratios=[2, 1, 1], num_samples=37, seed=3)
    counts = Counter()
    for epoch in range(200):
        sampler.set_epoch(epoch)
        counts.update(_part(i) for i in sampler)
    total = sum(counts.values())
    assert total == 200 * 37
    np.testing.assert_allclose([counts[k] / total for k in range(3)], [0.5, 0.25, 0.25],
                               atol=1 / 37)
    # largest remainder: 18.5, 9.25, 9.25 -> 19, 9, 9 every epoch
    assert sampler.counts() == [19, 9, 9]


def test_every_sample_seen_before_any_repeats(concat):
    sampler = MixedRatioSampler(concat, ratios=PAPER_RATIOS, num_samples=100, seed=1)
    indices = list(sampler)
    for k, (size, offset) in enumerate(zip(SIZES, (0,) + tuple(np.cumsum(SIZES)[:-1]))):
        per_sample = Counter(i - offset for i in indices if _part(i) == k)
        assert set(per_sample) <= set(range(size))
        drawn = sum(per_sample.values())
        # draws of part k = whole permutations + a partial one: counts differ by <= 1
        assert max(per_sample.values()) - min(per_sample.get(j, 0) for j in range(size)) <= 1
        assert drawn == sampler.counts()[k]


def test_default_epoch_length_is_largest_dataset(concat):
    assert MixedRatioSampler(concat, ratios=PAPER_RATIOS, seed=0).total_size == max(SIZES)
    # a dataset with ratio 0 does not set the length and is never drawn
    sampler = MixedRatioSampler(concat, ratios=[1, 0, 1], seed=0)
    assert sampler.total_size == 10
    assert all(_part(i) != 1 for i in sampler)


def _ranks(monkeypatch, concat, world_size, **kwargs):
    samplers = []
    for rank in range(world_size):
        monkeypatch.setattr(mixing_module, 'get_dist_info', lambda r=rank: (r, world_size))
        samplers.append(MixedRatioSampler(concat, **kwargs))
    return samplers


def test_two_ranks_get_disjoint_shares_of_one_draw(monkeypatch, concat):
    rank0, rank1 = _ranks(monkeypatch, concat, 2, ratios=PAPER_RATIOS, num_samples=40, seed=7)
    a, b = list(rank0), list(rank1)
    assert len(a) == len(b) == len(rank0) == 20
    everything = rank0.global_indices()
    assert sorted(a + b) == sorted(everything)
    assert a == everything[0::2] and b == everything[1::2]
    # When no part is oversampled (ratios = sizes, one draw per sample), the two
    # ranks also get disjoint samples.
    r0, r1 = _ranks(monkeypatch, concat, 2, ratios=list(SIZES), num_samples=sum(SIZES),
                    seed=7, round_up=False)
    ids0, ids1 = list(r0), list(r1)
    assert not set(ids0) & set(ids1)
    assert sorted(ids0 + ids1) == list(range(sum(SIZES)))


def test_ranks_without_round_up_cover_the_draw_once(monkeypatch, concat):
    samplers = _ranks(monkeypatch, concat, 3, ratios=PAPER_RATIOS, num_samples=20, seed=2,
                      round_up=False)
    shares = [list(s) for s in samplers]
    assert [len(s) for s in shares] == [len(s) for s in samplers] == [7, 7, 6]
    assert sorted(sum(shares, [])) == sorted(samplers[0].global_indices())


def test_set_epoch_reshuffles_deterministically(concat):
    sampler = MixedRatioSampler(concat, ratios=PAPER_RATIOS, num_samples=47, seed=5)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(Counter(map(_part, second)).values()) == sorted(
        Counter(map(_part, first)).values())
    other_seed = MixedRatioSampler(concat, ratios=PAPER_RATIOS, num_samples=47, seed=6)
    assert list(other_seed) != first


def test_no_shuffle_interleaves_evenly(concat):
    sampler = MixedRatioSampler(concat, ratios=PAPER_RATIOS, num_samples=100, shuffle=False,
                                seed=0)
    parts = [_part(i) for i in sampler]
    for prefix in (10, 20, 50, 100):
        counts = Counter(parts[:prefix])
        for k, ratio in enumerate(PAPER_RATIOS):
            assert abs(counts[k] - ratio * prefix) <= 1
    assert [i for i in sampler if _part(i) == 0][:12] == list(range(10)) + [0, 1]


def test_nested_concat_shares_a_ratio_in_proportion_to_size(tmp_path):
    cfgs = []
    for k, size in enumerate((12, 4, 4)):
        path = dump_human_data(str(tmp_path / f'n{k}.npz'), make_human_data(size, seed=k))
        cfgs.append(dict(type='mroi.HumanDataDataset', ann_file=path))
    # mmengine's ConcatDataset nests only through configs (as in a config file)
    mixed = DATASETS.build(dict(type='ConcatDataset', datasets=[
        cfgs[0], dict(type='ConcatDataset', datasets=cfgs[1:])]))
    sampler = MixedRatioSampler(mixed, ratios=[0.5, 0.5], num_samples=16, seed=0)
    indices = list(sampler)
    assert sum(i >= 12 for i in indices) == 8
    # inside the nested part (4 + 4 samples) 8 draws are one permutation of both
    assert sorted(i for i in indices if i >= 12) == list(range(12, 20))


def test_built_from_registry_and_used_by_a_dataloader(concat):
    sampler = DATA_SAMPLERS.build(dict(type='MixedRatioSampler', ratios=list(PAPER_RATIOS),
                                       num_samples=12),
                                  default_args=dict(dataset=concat, seed=0))
    assert isinstance(sampler, MixedRatioSampler)
    loader = DataLoader(concat, batch_size=4, sampler=sampler, collate_fn=lambda b: b)
    names = [s['dataset_name'] for batch in loader for s in batch]
    assert Counter(names) == {'part0': 6, 'part1': 4, 'part2': 2}


def test_bad_arguments(concat):
    with pytest.raises(TypeError, match='ConcatDataset'):
        MixedRatioSampler(concat.datasets[0], ratios=[1.0], seed=0)
    with pytest.raises(ValueError, match='3 sub-datasets'):
        MixedRatioSampler(concat, ratios=[0.5, 0.5], seed=0)
    with pytest.raises(ValueError, match='non-negative'):
        MixedRatioSampler(concat, ratios=[0.5, -0.1, 0.6], seed=0)
    with pytest.raises(ValueError, match='non-negative'):
        MixedRatioSampler(concat, ratios=[0, 0, 0], seed=0)
    with pytest.raises(ValueError, match='num_samples'):
        MixedRatioSampler(concat, ratios=PAPER_RATIOS, num_samples=0, seed=0)
