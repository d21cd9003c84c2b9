"""tools/benchmark_ablation.py: each variant changes exactly one thing; the run prints the table."""
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from mroi_plugin.utils.config_rois import set_num_rois

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import benchmark_ablation as ablation  # noqa: E402


def _crop_rois(cfg):
    loaders = (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader)
    return {step['num_rois'] for loader in loaders for step in loader.dataset.pipeline
            if step['type'] == 'MultiRoICrop'}


def _flat(cfg):
    return json.loads(json.dumps(cfg.to_dict(), default=str))


@pytest.fixture(scope='module')
def base():
    return ablation.base_config(ablation.parse_args(['--epochs', '10', '--seed', '3']))


def test_base_config_applies_budget_and_seed(base):
    assert base.train_cfg.max_epochs == 10 and base.train_cfg.val_interval == 10
    assert base.param_scheduler[0].milestones == [8]
    assert base.randomness == dict(seed=3)


@pytest.mark.parametrize('cpus, jobs, threads', [(2, 2, 1), (16, 4, 4), (2, 4, 1), (8, 1, 8)])
def test_parallel_jobs_share_the_cores(cpus, jobs, threads, monkeypatch):
    monkeypatch.setattr(ablation.os, 'cpu_count', lambda: cpus)
    cfg = ablation.base_config(ablation.parse_args(['--jobs', str(jobs)]))
    hooks = [h for h in cfg.custom_hooks if h.type == 'TorchThreadsHook']
    assert [h.num_threads for h in hooks] == [threads]


def test_each_variant_changes_one_thing(base):
    full = _flat(ablation.variant_config(base, 'mroi'))
    assert full == _flat(base)
    for name, key, value in (('wo_raf', 'neck', dict(full['model']['neck'], fusion=False)),
                             ('wo_lcam', 'loss_camera_consistency', None),
                             ('wo_lcon', 'loss_contrastive', None)):
        cfg = _flat(ablation.variant_config(base, name))
        assert cfg['model'].pop(key) == value
        expected = json.loads(json.dumps(full))
        expected['model'].pop(key)
        assert cfg == expected, name
    for count in range(1, 5):
        cfg = ablation.variant_config(base, f'rois_{count}')
        assert _crop_rois(cfg) == {count}
        assert cfg.model.head.type == 'MultiRoIHead'
        # One RoI has no pair: the pairwise terms are dropped, the rest stays.
        assert (cfg.model.loss_contrastive is None) == (count == 1)
        assert cfg.model.loss_keypoints2d == base.model.loss_keypoints2d


def test_cliff_variant_is_clif_on_the_same_backbone_and_data(base):
    cfg = ablation.variant_config(base, 'cliff')
    assert cfg.model.type == 'CLIFF' and cfg.model.neck is None
    assert cfg.model.head.type == 'CliffHead'
    assert cfg.model.head.in_channels == base.model.head.in_channels
    assert cfg.model.head.scale_param == base.model.head.camera_decoder.scale_param
    assert cfg.model.loss_camera_consistency is None and cfg.model.loss_contrastive is None
    assert cfg.model.contrastive_pooling is None
    assert _crop_rois(cfg) == {1}
    assert cfg.model.backbone == base.model.backbone
    assert cfg.train_dataloader.dataset.ann_file == base.train_dataloader.dataset.ann_file


def test_set_num_rois_matches_the_hand_written_ablation_configs():
    for count in (2, 3, 4):
        cfg = set_num_rois(Config.fromfile(osp.join(REPO, 'configs/mroi/mroi_r50.py')), count)
        written = Config.fromfile(
            osp.join(REPO, f'configs/mroi/ablations/mroi_r50_{count}rois.py'))
        assert _flat(cfg) == _flat(written)
    with pytest.raises(ValueError, match='no MultiRoICrop'):
        set_num_rois(Config(dict(train_pipeline=[dict(type='LoadImage')])), 2)
    with pytest.raises(ValueError, match='integer >= 1'):
        set_num_rois(Config(dict()), 0)


def test_table_and_plot(tmp_path):
    def result(pa, transl):
        return dict(minutes=1.5, metrics={'hmr/mpjpe': pa + 50, 'hmr/pa_mpjpe': pa,
                                          'hmr/pve': pa + 60, 'hmr/transl_error': transl,
                                          'mean_pose/mpjpe': 300.0, 'mean_pose/pa_mpjpe': 110.0,
                                          'mean_pose/pve': 280.0})
    results = {'cliff': result(90.0, 400.0), 'rois_2': result(85.0, 380.0),
               'mroi': result(80.0, 350.0)}
    table = ablation.format_table(results)
    lines = table.splitlines()
    assert lines[2] == '| CLIFF (1 RoI) | 1 | 140.0 | 90.0 | 150.0 | 400.0 | 1.5 |'
    assert lines[-1] == ('| mean pose of the training set (floor) | - | 300.0 | 110.0 | 280.0 '
                         '| - | - |')
    path = ablation.plot_rois(results, str(tmp_path / 'rois.png'))
    assert path and osp.getsize(path) > 1000
    assert ablation.plot_rois({'cliff': results['cliff']}, str(tmp_path / 'none.png')) is None


@pytest.mark.slow
def test_end_to_end_two_variants(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    results = ablation.main([
        '--variants', 'cliff', 'wo_lcon', '--epochs', '1', '--num-train', '8', '--num-test', '4',
        '--batch-size', '4', '--work-dir', str(tmp_path / 'abl'), '--cfg-options',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'
    ])
    out = capsys.readouterr().out
    assert set(results) == {'cliff', 'wo_lcon'}
    for result in results.values():
        assert 0 < result['metrics']['hmr/pa_mpjpe'] < 1000
    assert '| CLIFF (1 RoI) | 1 |' in out and '| w/o contrastive loss | 5 |' in out
    assert (tmp_path / 'abl' / 'ablation.md').read_text().startswith('| variant |')
    # Only one point on the RoI axis: no plot.
    assert not (tmp_path / 'abl' / 'ablation_rois.png').exists()
