"""tools/benchmark_ablation.py: each variant changes exactly one thing; the run prints the table."""
import glob
import importlib
import json
import os.path as osp
import re
import sys
from typing import Any, Dict, Sequence

import pytest
from mmengine.config import Config

from mroi_plugin.utils.config_rois import apply_num_rois, set_num_rois

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


def _leaves(node: Any, path: str = '') -> Dict[str, Any]:
    """Every leaf of a config as ``{'model.neck.fusion': False, 'x.pipeline[4].num_rois': 5}``."""
    if isinstance(node, dict) and node:
        out = {}
        for key, value in node.items():
            out.update(_leaves(value, f'{path}.{key}' if path else str(key)))
        return out
    if isinstance(node, list) and node:
        out = {}
        for index, value in enumerate(node):
            out.update(_leaves(value, f'{path}[{index}]'))
        return out
    return {path: node}


def _differences(full, variant) -> set:
    a, b = _leaves(_flat(full)), _leaves(_flat(variant))
    return {k for k in set(a) | set(b) if a.get(k, '<absent>') != b.get(k, '<absent>')}


def _check_only(differences: set, allowed: Sequence[str], what: str) -> None:
    """Every difference is one of ``allowed`` (regexes) and every one of them happens."""
    stray = sorted(d for d in differences if not any(re.fullmatch(p, d) for p in allowed))
    assert not stray, f'{what} also changes {stray}; an ablation row changes one thing'
    unused = [p for p in allowed if not any(re.fullmatch(p, d) for d in differences)]
    assert not unused, f'{what} does not change {unused}'


def _subtree(key: str) -> str:
    return re.escape(key) + r'(\..*)?'


NUM_ROIS = (r'num_rois', r'.*pipeline\[\d+\]\.num_rois')
PAIR_LOSSES = (_subtree('model.loss_camera_consistency'), _subtree('model.loss_contrastive'))
FEATURE_ROIS = (r'context_size.*', _subtree('model.roi_sampler'),
                r'.*pipeline\[\d+\]\.(type|context_size.*)')
# What each row of the benchmark may change in the full model's built config (and must).
BENCHMARK_CHANGES = {
    'mroi': (),
    'wo_raf': (r'model\.neck\.fusion', ),
    'wo_lcam': (_subtree('model.loss_camera_consistency'), ),
    'wo_lcon': (_subtree('model.loss_contrastive'), ),
    'camera_released': (r'model\.head\.camera_decoder\.(init_mode|layout_input)', ),
    'fusion_unbounded': (r'model\.neck\.logit_activation', ),
    'lcam_bs': (r'model\.loss_camera_consistency\.(depth_term|axis_weights.*)', ),
    # Feature-level RoIs: the crop steps become context crops, the model samples RoI maps;
    # the same at higher context resolutions (the speed/accuracy curve).
    'mroi_feature': FEATURE_ROIS,
    'mroi_feature_128': FEATURE_ROIS,
    'mroi_feature_144': FEATURE_ROIS,
    'rois_1': NUM_ROIS + PAIR_LOSSES,
    'rois_2': NUM_ROIS,
    'rois_3': NUM_ROIS,
    'rois_4': NUM_ROIS,
    # CLIFF: one RoI, no fusion, its camera from the shared regressor (no LocalCamera), no
    # pairwise losses; the regressor (width, activation, dropout, ...) is the full model's.
    'cliff': NUM_ROIS + PAIR_LOSSES + (
        r'model\.type', _subtree('model.neck'), _subtree('model.contrastive_pooling'),
        r'model\.head\.type', _subtree('model.head.camera_decoder'),
        r'model\.head\.scale_param'),
}
# The same for configs/mroi/ablations/mroi_r50_<name>.py against configs/mroi/mroi_r50.py.
ABLATION_CONFIG_CHANGES = {
    '2rois': NUM_ROIS,
    '3rois': NUM_ROIS,
    '4rois': NUM_ROIS,
    'pe-absolute': (r'model\.neck\.pos_encoding', ),
    'pe-none': (r'model\.neck\.pos_encoding', ),
    'pe-relative-L4': (r'model\.neck\.num_freqs', ),
    'pe-relative-L8': (r'model\.neck\.num_freqs', ),
    'pe-relative-L16': (r'model\.neck\.num_freqs', ),
    'wo-raf': (r'model\.neck\.fusion', ),
    'wo-lcam': (_subtree('model.loss_camera_consistency'), ),
    'wo-lcon': (_subtree('model.loss_contrastive'), ),
    'camera-released': (r'model\.head\.camera_decoder\..*', ),
    'fusion-unbounded': (r'model\.neck\.logit_activation', ),
    'lcam-bs': (r'model\.loss_camera_consistency\..*', ),
}


def test_every_benchmark_row_differs_from_the_full_model_in_its_ablated_thing_only(base):
    assert set(BENCHMARK_CHANGES) == set(ablation.VARIANTS), 'list the new row\'s changes'
    full = ablation.variant_config(base, 'mroi')
    assert full.pop('ablation') == dict(row=1, label='Multi-RoI, full (5 RoIs)')
    assert _flat(full) == _flat(base)
    for name, allowed in BENCHMARK_CHANGES.items():
        variant = ablation.variant_config(base, name)
        variant.pop('ablation')
        _check_only(_differences(full, variant), allowed, name)


def test_the_variants_are_the_config_files_in_table_order():
    files = sorted(glob.glob(osp.join(REPO, 'configs', 'quickstart', 'ablations', '*.py')))
    assert sorted(ablation.VARIANTS) == sorted(osp.basename(f)[:-3] for f in files)
    assert list(ablation.VARIANTS)[:3] == ['cliff', 'mroi', 'wo_raf']
    assert list(ablation.VARIANTS)[-4:] == ['rois_1', 'rois_2', 'rois_3', 'rois_4']
    assert ablation.parse_args(['--variants', 'rois_2']).variants == ['rois_2']
    with pytest.raises(SystemExit):
        ablation.parse_args(['--variants', 'rois_9'])
    for path in files:
        # A row is a few lines on the quickstart config (CLIFF's head needs a few more).
        lines = [line for line in open(path).read().splitlines()
                 if line.strip() and not line.startswith('#')]
        assert len(lines) <= (7 if path.endswith('cliff.py') else 5), path


def test_a_variant_file_runs_on_another_base_config(tmp_path):
    """``--config`` gives another full model: each variant's change is made to that one."""
    other = Config.fromfile(osp.join(REPO, 'configs', 'quickstart', 'mroi_synthetic.py'))
    other.model.head.hidden_channels = 256
    other.model.neck.num_freqs = 4
    cliff = ablation.variant_config(other, 'cliff')
    assert cliff.model.head.hidden_channels == 256 and cliff.model.neck is None
    wo_raf = ablation.variant_config(other, 'wo_raf')
    assert wo_raf.model.neck.num_freqs == 4 and wo_raf.model.neck.fusion is False
    assert _crop_rois(ablation.variant_config(other, 'rois_3')) == {3}


def test_the_diff_catches_a_second_change(base):
    """The check above can fail: CLIFF with its own regressor dropout is caught."""
    cfg = ablation.variant_config(base, 'cliff')
    cfg.model.head.dropout = 0.5
    with pytest.raises(AssertionError, match=r"model\.head\.dropout"):
        _check_only(_differences(base, cfg), BENCHMARK_CHANGES['cliff'], 'cliff')


@pytest.mark.parametrize('path', sorted(glob.glob(
    osp.join(REPO, 'configs', 'mroi', 'ablations', 'mroi_r50_*.py'))))
def test_every_ablation_config_changes_only_its_ablated_thing(path):
    name = osp.basename(path)[len('mroi_r50_'):-len('.py')]
    assert name in ABLATION_CONFIG_CHANGES, f'list what {osp.basename(path)} may change'
    full = Config.fromfile(osp.join(REPO, 'configs', 'mroi', 'mroi_r50.py'))
    # As the tools read it: the top-level num_rois reaches every crop step.
    variant = apply_num_rois(Config.fromfile(path))
    _check_only(_differences(full, variant), ABLATION_CONFIG_CHANGES[name], name)
    lines = [line for line in open(path).read().splitlines()
             if line.strip() and not line.startswith('#')]
    assert len(lines) <= 5, f'{osp.basename(path)}: an ablation row is a few lines'


def test_rois_variants(base):
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
    for key in ('in_channels', 'mean_params', 'hidden_channels', 'dropout', 'act_cfg'):
        assert cfg.model.head.get(key) == base.model.head.get(key), key
    assert cfg.model.head.act_cfg == dict(type='ReLU') and cfg.model.head.dropout == 0.1
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
        # Read as a file, only the top-level variable says N; the tools apply it.
        crop = [t for t in written.test_dataloader.dataset.pipeline if t.type == 'MultiRoICrop']
        assert [t.num_rois for t in crop] == [5]
        assert written.num_rois == count
        assert _flat(cfg) == _flat(apply_num_rois(written))
    with pytest.raises(ValueError, match='no MultiRoICrop'):
        set_num_rois(Config(dict(train_pipeline=[dict(type='LoadImage')])), 2)
    with pytest.raises(ValueError, match='integer >= 1'):
        set_num_rois(Config(dict()), 0)


def _metrics(pa: float, transl: float, log_s=(0.1, -0.2)) -> Dict[str, float]:
    metrics = {'hmr/mpjpe': pa + 50, 'hmr/pa_mpjpe': pa, 'hmr/pve': pa + 60,
               'hmr/transl_error': transl, 'hmr/transl_error_fit': transl - 100,
               'mean_pose/mpjpe': 300.0,
               'mean_pose/pa_mpjpe': 110.0, 'mean_pose/pve': 280.0,
               'constant_camera/transl_error': 430.0 + pa / 10,
               'roi_constant_camera/transl_error': 410.0}
    for k, bias in enumerate(log_s):
        metrics[f'hmr/log_s_bias_roi{k}'] = bias
        metrics[f'hmr/log_s_std_roi{k}'] = 0.3
        metrics[f'constant_camera/log_s_bias_roi{k}'] = 0.01
        metrics[f'constant_camera/log_s_std_roi{k}'] = 0.25
    return metrics


def test_table_and_plot(tmp_path):
    def result(pa, transl):
        return dict(minutes=1.5, metrics=_metrics(pa, transl))
    results = {'cliff': result(90.0, 400.0), 'rois_2': result(85.0, 380.0),
               'mroi': result(80.0, 350.0)}
    table = ablation.format_table(results)
    lines = table.splitlines()
    assert lines[2] == '| CLIFF (1 RoI) | 1 | - | 140.0 | 90.0 | 150.0 | 400.0 | 300.0 | 1.5 |'
    assert lines[-3:] == [
        '| mean pose of the training set (floor) | - | - | 300.0 | 110.0 | 280.0 | - | - | - |',
        # The constant cameras keep the model's body: the full model's row is printed.
        '| constant camera: training-set mean (RoI 0) | - | - | - | - | - | 438.0 | - | - |',
        '| constant camera: per-RoI training-set means, fused | - | - | - | - | - | 410.0 | - '
        '| - |']
    log_lines = ablation.format_log_scale_table(results).splitlines()
    assert log_lines[0] == '| variant | RoI 0 | RoI 1 |'
    assert log_lines[2] == '| CLIFF (1 RoI) | +0.100 ± 0.300 | -0.200 ± 0.300 |'
    assert log_lines[-1] == ('| constant camera: training-set mean (RoI 0) | +0.010 ± 0.250 '
                             '| +0.010 ± 0.250 |')
    path = ablation.plot_rois(results, str(tmp_path / 'rois.png'))
    assert path and osp.getsize(path) > 1000
    assert ablation.plot_rois({'cliff': results['cliff']}, str(tmp_path / 'none.png')) is None


def _runs():
    return [dict(variant=name, seed=seed, minutes=2.0 + seed,
                 metrics=_metrics(pa + 4 * seed, transl - 20 * seed))
            for seed in (0, 1) for name, pa, transl in (('cliff', 90.0, 400.0),
                                                        ('mroi', 80.0, 350.0))]


def test_several_seeds_give_mean_and_half_range():
    summary = ablation.summarize(_runs())
    assert list(summary) == ['cliff', 'mroi'] and summary['mroi']['seeds'] == [0, 1]
    # PA-MPJPE 80 and 84: mean 82, half-range 2; translation 350 and 330: 340 +- 10.
    assert summary['mroi']['metrics']['hmr/pa_mpjpe'] == 82.0
    assert summary['mroi']['spread']['hmr/transl_error'] == 10.0
    assert summary['mroi']['minutes'] == 2.5
    lines = ablation.format_table(summary).splitlines()
    assert lines[3] == ('| Multi-RoI, full (5 RoIs) | 5 | 0, 1 | 132.0 ± 2.0 | 82.0 ± 2.0 | '
                        '142.0 ± 2.0 | 340.0 ± 10.0 | 240.0 ± 10.0 | 2.5 |')
    # Constant camera of the full model's runs: 430 + 80 / 10 and 430 + 84 / 10.
    assert lines[-2] == ('| constant camera: training-set mean (RoI 0) | - | 0, 1 | - | - | - '
                         '| 438.2 ± 0.2 | - | - |')


def test_records_one_per_run_and_per_seed_baseline():
    records = ablation.make_records(_runs())
    assert [(r['variant'], r['seed']) for r in records] == [
        ('cliff', 0), ('mroi', 0), ('cliff', 1), ('mroi', 1),
        ('mean_pose', 0), ('constant_camera', 0), ('roi_constant_camera', 0),
        ('mean_pose', 1), ('constant_camera', 1), ('roi_constant_camera', 1)]
    mroi1 = records[3]
    assert mroi1 == dict(variant='mroi', seed=1, mpjpe=134.0, pa_mpjpe=84.0, pve=144.0,
                         transl_error=330.0, transl_error_fit=230.0, log_s_bias=[0.1, -0.2],
                         log_s_std=[0.3, 0.3], minutes=3.0)
    assert records[4] == dict(variant='mean_pose', seed=0, mpjpe=300.0, pa_mpjpe=110.0,
                              pve=280.0, transl_error=None, transl_error_fit=None,
                              log_s_bias=[], log_s_std=[], minutes=None)
    constant = records[8]
    assert constant['transl_error'] == pytest.approx(438.4)  # the full model's body, seed 1
    assert constant['mpjpe'] is None and constant['log_s_bias'] == [0.01, 0.01]


def test_seed_arguments():
    assert ablation.parse_args([]).seeds == [0]
    assert ablation.parse_args(['--seed', '4']).seeds == [4]
    args = ablation.parse_args(['--seeds', '0', '1', '--out-json', 'r.json'])
    assert args.seeds == [0, 1] and args.out_json == 'r.json'
    for bad in (['--seeds', '1', '1'], ['--seed', '1', '--seeds', '2', '3']):
        with pytest.raises(SystemExit):
            ablation.parse_args(bad)
    seeded = [ablation.base_config(args, seed).randomness for seed in args.seeds]
    assert seeded == [dict(seed=0), dict(seed=1)]


def test_base_config_adds_the_constant_camera_baselines(base):
    evaluators = {(e.type, e.get('per_roi')): e for e in base.val_evaluator}
    mean_pose = evaluators[('MeanPoseBaselineMetric', None)]
    for per_roi in (False, True):
        metric = evaluators[('ConstantCameraBaselineMetric', per_roi)]
        assert metric.ann_file == mean_pose.ann_file
        assert metric.body_model_dir == mean_pose.body_model_dir
        assert metric.scale_param == base.model.head.camera_decoder.scale_param
        assert metric.camera == base.model.test_cfg.camera
        # the crop box the training data were cut with (GetBBoxCenterScale, then the crop)
        assert metric.pipeline == base.train_dataloader.dataset.pipeline
        assert 'crop_aspect' not in metric and 'bbox_scale_factor' not in metric
    assert [e.type for e in base.test_evaluator] == [e.type for e in base.val_evaluator]
    again = Config(base.to_dict())
    ablation.add_camera_baselines(again)
    assert len(again.val_evaluator) == len(base.val_evaluator)


def test_main_writes_tables_and_json_records(tmp_path, monkeypatch, capsys):
    """The whole driver with training replaced by canned metrics: 2 variants x 2 seeds."""
    # The module, not the function of the same name that mroi_plugin.apis exports.
    prepare = importlib.import_module('mroi_plugin.apis.prepare_data')
    monkeypatch.setattr(prepare, 'prepare_data', lambda cfg: None)
    canned = {(r['variant'], r['seed']): r for r in _runs()}
    trained = []

    def fake_run(name, cfg, work_dir, seed):
        trained.append((name, seed, cfg.randomness.seed, cfg.model.type))
        return dict(canned[(name, seed)])

    monkeypatch.setattr(ablation, 'run_variant', fake_run)
    out_json = tmp_path / 'out' / 'records.json'
    runs = ablation.main(['--variants', 'cliff', 'mroi', '--seeds', '0', '1', '--work-dir',
                          str(tmp_path / 'abl'), '--out-json', str(out_json),
                          '--plot', 'none'])
    assert sorted(trained) == [('cliff', 0, 0, 'CLIFF'), ('cliff', 1, 1, 'CLIFF'),
                               ('mroi', 0, 0, 'MultiRoIHMR'), ('mroi', 1, 1, 'MultiRoIHMR')]
    assert len(runs) == 4
    records = json.loads(out_json.read_text())
    assert records == ablation.make_records(_runs())
    out = capsys.readouterr().out
    assert 'seeds 0, 1' in out and '| CLIFF (1 RoI) | 1 | 0, 1 | 142.0 ± 2.0 |' in out
    assert '| variant | RoI 0 | RoI 1 |' in out
    saved = json.loads((tmp_path / 'abl' / 'ablation.json').read_text())
    assert saved['records'] == records
    assert (tmp_path / 'abl' / 'ablation.md').read_text().count('| variant |') == 2


@pytest.mark.slow
def test_end_to_end_two_variants(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = ablation.main([
        '--variants', 'cliff', 'wo_lcon', '--epochs', '1', '--num-train', '8', '--num-test', '4',
        '--batch-size', '4', '--work-dir', str(tmp_path / 'abl'), '--out-json',
        str(tmp_path / 'records.json'), '--cfg-options',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'
    ])
    out = capsys.readouterr().out
    assert [(r['variant'], r['seed']) for r in runs] == [('cliff', 0), ('wo_lcon', 0)]
    for run in runs:
        assert 0 < run['metrics']['hmr/pa_mpjpe'] < 1000
        # The same constant camera, placed with each model's body: within centimetres.
        assert 0 < run['metrics']['constant_camera/transl_error'] < 5000
    assert (runs[0]['metrics']['roi_constant_camera/transl_error']
            == runs[0]['metrics']['constant_camera/transl_error'])  # test_cfg.camera = roi0
    assert '| CLIFF (1 RoI) | 1 | 0 |' in out and '| w/o contrastive loss | 5 | 0 |' in out
    assert '| constant camera: training-set mean (RoI 0) | - | 0 | - | - | - |' in out
    assert (tmp_path / 'abl' / 'ablation.md').read_text().startswith('| variant |')
    records = json.loads((tmp_path / 'records.json').read_text())
    assert [r['variant'] for r in records] == ['cliff', 'wo_lcon', 'mean_pose',
                                               'constant_camera', 'roi_constant_camera']
    assert len(records[1]['log_s_bias']) == 5 and len(records[0]['log_s_bias']) == 1
    # Only one point on the RoI axis: no plot.
    assert not (tmp_path / 'abl' / 'ablation_rois.png').exists()
    # --eval-only: the same checkpoints, evaluated again by tools/test.py, give the same
    # numbers (the quickstart's test camera reports the box-fitted one too).
    again = ablation.main([
        '--variants', 'cliff', 'wo_lcon', '--epochs', '1', '--num-train', '8', '--num-test', '4',
        '--work-dir', str(tmp_path / 'abl'), '--eval-only', '--plot', 'none', '--cfg-options',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'
    ])
    for run, evaluated in zip(runs, again):
        for key in ('hmr/mpjpe', 'hmr/pa_mpjpe', 'hmr/transl_error', 'hmr/transl_error_fit',
                    'constant_camera/transl_error'):
            assert evaluated['metrics'][key] == pytest.approx(run['metrics'][key], rel=1e-6)
        assert evaluated['minutes'] == pytest.approx(run['minutes'], abs=0.5)


def test_records_round_trip_through_runs_from_records():
    records = ablation.make_records(_runs())
    rebuilt = ablation.runs_from_records(records)
    assert [(r['variant'], r['seed']) for r in rebuilt] == [
        ('cliff', 0), ('mroi', 0), ('cliff', 1), ('mroi', 1)]
    assert ablation.make_records(rebuilt) == records
    # The tables of the rebuilt runs are those of the trained ones.
    assert (ablation.format_table(ablation.summarize(rebuilt))
            == ablation.format_table(ablation.summarize(_runs())))
    assert (ablation.format_log_scale_table(ablation.summarize(rebuilt))
            == ablation.format_log_scale_table(ablation.summarize(_runs())))


def test_from_json_joins_runs_made_at_different_times(tmp_path, capsys):
    records = ablation.make_records(_runs())
    # Seed 0 in one file, seed 1 in another: as two sessions would write them.
    paths = []
    for seed in (0, 1):
        path = tmp_path / f'seed{seed}.json'
        path.write_text(json.dumps([r for r in records if r['seed'] == seed]))
        paths.append(str(path))
    out_json = tmp_path / 'joined.json'
    runs = ablation.main(['--from-json', *paths, '--work-dir', str(tmp_path / 'abl'),
                          '--out-json', str(out_json), '--plot', 'none'])
    assert len(runs) == 4
    assert sorted(json.loads(out_json.read_text()), key=lambda r: (r['seed'], r['variant'])) \
        == sorted(records, key=lambda r: (r['seed'], r['variant']))
    out = capsys.readouterr().out
    assert 'seeds 0, 1' in out and '| CLIFF (1 RoI) | 1 | 0, 1 | 142.0 ± 2.0 |' in out
    # Files given in any order (here the full model's first): rows in the table's order.
    mroi_first = tmp_path / 'a_mroi.json'
    mroi_first.write_text(json.dumps([r for r in records if r['variant'] != 'cliff']))
    cliff_last = tmp_path / 'b_cliff.json'
    cliff_last.write_text(json.dumps([r for r in records if r['variant'] == 'cliff']))
    runs = ablation.main(['--from-json', str(mroi_first), str(cliff_last), '--work-dir',
                          str(tmp_path / 'abl2'), '--plot', 'none'])
    assert [(r['variant'], r['seed']) for r in runs] == [
        ('cliff', 0), ('cliff', 1), ('mroi', 0), ('mroi', 1)]


def test_from_json_baselines_come_from_the_full_models_file(tmp_path):
    runs = _runs()
    cliff_only = ablation.make_records([r for r in runs if r['variant'] == 'cliff'])
    mroi_only = ablation.make_records([r for r in runs if r['variant'] == 'mroi'])
    tagged = ([dict(r, _source=0) for r in cliff_only]
              + [dict(r, _source=1) for r in mroi_only])
    rebuilt = ablation.runs_from_records(tagged)
    # The full model's constant-camera number (430 + 80 / 10), not CLIFF's (430 + 90 / 10).
    cliff0 = next(r for r in rebuilt if (r['variant'], r['seed']) == ('cliff', 0))
    assert cliff0['metrics']['constant_camera/transl_error'] == pytest.approx(438.0)


def test_from_json_refuses_bad_records(tmp_path):
    records = ablation.make_records(_runs())
    with pytest.raises(ValueError, match="'mroi' seed 0 appears twice"):
        ablation.runs_from_records(records + [records[1]])
    with pytest.raises(ValueError, match="unknown variant 'mroi_v2'"):
        ablation.runs_from_records([dict(records[1], variant='mroi_v2')])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"variant": "mroi"}')
    with pytest.raises(SystemExit, match='not a list of records'):
        ablation.main(['--from-json', str(bad), '--work-dir', str(tmp_path / 'abl')])
    with pytest.raises(SystemExit, match='cannot read'):
        ablation.main(['--from-json', str(tmp_path / 'missing.json')])


def test_eval_only_needs_a_trained_run_and_reads_its_training_minutes(tmp_path):
    with pytest.raises(RuntimeError, match=r'mroi \(seed 3\) has no checkpoint in .*seed3 '
                       r'.*train it first, without --eval-only'):
        ablation.evaluate_variant('mroi', None, str(tmp_path), 3)
    log = tmp_path / 'train.log'
    log.write_text('Loads data\n'
                   '2026/12/06 04:05:30 - mmengine - INFO - Epoch(train) [1][20/100]\n'
                   'a traceback line\n'
                   '2026/12/06 04:13:00 - mmengine - INFO - Epoch(val) [16][7/7]\n')
    assert ablation._log_minutes(str(log)) == pytest.approx(7.5)
    log.write_text('12/06 01:14:02 - mmengine - INFO - \n'  # the console's form
                   '12/06 02:05:50 - mmengine - INFO - Epoch(val) [16][7/7]\n')
    assert ablation._log_minutes(str(log)) == pytest.approx(51.8)
    log.write_text('no timestamps\n')
    assert ablation._log_minutes(str(log)) is None
