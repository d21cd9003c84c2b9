"""Smoke tests of tools/benchmark_{data,model,speed}.py at the tiniest settings.

The benchmarks print timings, which no test can pin down; these tests check that each runs end
to end, prints the fields the issues ask for, that the printed numbers are the arithmetic the
docstrings promise (shares, ratios, PASS/FAIL against the target), and that the model
benchmark's method holds: its synthetic batch has exactly consistent targets and the "rest"
region runs without touching the backbone.
"""
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / 'configs' / 'quickstart' / 'mroi_synthetic.py'
TRANSFORM_STAGES = ['dataset.get_data_info', 'LoadImage', 'GetBBoxCenterScale', 'RandomFlipHMR',
                    'RandomScaleRotation', 'RandomColorScale', 'MultiRoICrop', 'PackHMRInputs']
TINY_WIDTHS = (8, 16, 32, 64)
TINY_CHANNELS = TINY_WIDTHS[-1]


def _load_tool(name: str):
    """Import ``tools/<name>.py`` (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f'_mroi_tool_{name}',
                                                  REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def benchmark_data():
    return _load_tool('benchmark_data')


@pytest.fixture(scope='module')
def benchmark_model():
    return _load_tool('benchmark_model')


@pytest.fixture(scope='module')
def benchmark_speed():
    return _load_tool('benchmark_speed')


@pytest.fixture(scope='module')
def tiny_configs(tmp_path_factory):
    """The quickstart model shrunk (4-stage tiny net, 64 channels), as Multi-RoI and CLIFF."""
    root = tmp_path_factory.mktemp('bench_configs')
    common = (f"_base_ = ['{QUICKSTART.as_posix()}']\n"
              f'model = dict(backbone=dict(widths={TINY_WIDTHS}),\n'
              f'    feature_pooling=dict(in_channels={TINY_CHANNELS}, '
              f'out_channels={TINY_CHANNELS}),\n')
    mroi = root / 'mroi_tiny.py'
    mroi.write_text(
        common + f'    neck=dict(in_channels={TINY_CHANNELS}),\n'
        f'    head=dict(in_channels={TINY_CHANNELS}, hidden_channels=32),\n'
        f'    loss_contrastive=dict(in_channels={TINY_CHANNELS}))\n')
    cliff = root / 'cliff_tiny.py'
    cliff.write_text(
        common + '    type=\'CLIFF\', neck=None,\n'
        f"    head=dict(_delete_=True, type='CliffHead', in_channels={TINY_CHANNELS}, "
        'hidden_channels=32),\n'
        '    loss_camera_consistency=None, loss_contrastive=None)\n')
    return str(mroi), str(cliff)


def test_data_benchmark_prints_rates_ratio_and_verdict(benchmark_data, capsys):
    result = benchmark_data.main([
        '--num-samples', '4', '--image-size', '160', '120', '--repeats', '1', '--warmup', '0',
        '--render-workers', '1', '--target', '1e9'
    ])
    out = capsys.readouterr().out
    for stage in TRANSFORM_STAGES:
        assert stage in out
    for field in ('samples/s per core (CPU time), pipeline: N=5:', 'N=1:',
                  'with dataset indexing', 'samples/s wall clock', 'ratio N=5 / N=1',
                  'bottleneck (N=5):', 'load average', 'target >= 1e+09 samples/s/core'):
        assert field in out, field
    assert 'FAIL' in out and not result['passed']

    runs = result['runs']
    assert set(runs) == {5, 1}
    for run in runs.values():
        for clock in ('cpu', 'wall'):
            timing = run[clock]
            assert list(timing['stage_ms']) == TRANSFORM_STAGES
            assert all(v > 0 and math.isfinite(v) for v in timing['stage_ms'].values())
            # One timed pass: its pipeline total is exactly the sum of its transform rows.
            transforms_ms = sum(timing['stage_ms'][s] for s in TRANSFORM_STAGES[1:])
            assert timing['pipeline_ms'] == pytest.approx(transforms_ms)
            assert timing['total_ms'] == pytest.approx(
                transforms_ms + timing['stage_ms']['dataset.get_data_info'])
            assert timing['samples_per_s'] == pytest.approx(1e3 / timing['pipeline_ms'])
    assert result['ratio'] == pytest.approx(
        runs[5]['cpu']['samples_per_s'] / runs[1]['cpu']['samples_per_s'])
    assert f"ratio N=5 / N=1 (samples/s, CPU time): {result['ratio']:.2f}" in out
    # The verdict follows the target.
    assert 'target >= 0 samples/s/core at N=5: PASS' in benchmark_data.format_report(
        runs, 5, 0.0)


def test_data_benchmark_names_missing_annotation_file(benchmark_data, tmp_path):
    with pytest.raises(FileNotFoundError, match='train.npz'):
        benchmark_data.main(['--data-root', str(tmp_path), '--config', str(QUICKSTART)])


def test_model_benchmark_tiny_configs(benchmark_model, tiny_configs, capsys):
    mroi, cliff = tiny_configs
    result = benchmark_model.main([
        mroi, '--cliff-config', cliff, '--num-rois', '3', '--batch-size', '2', '--iters', '1',
        '--warmup', '0', '--crop-size', '32', '24', '--profile-top', '3', '--target', '100'
    ])
    out = capsys.readouterr().out
    assert set(result) == {'Multi-RoI', 'CLIFF'}
    for field in ('backbone fwd+bwd', 'rest fwd+bwd (backbone outputs replayed)',
                  'full step fwd+bwd', 'Adam update', 'share outside the backbone',
                  'by subtraction', 'rest forward', 'top 3 operators', 'summary:',
                  'load average'):
        assert field in out, field
    assert out.count('target <= 100% outside the backbone: PASS') == 2
    assert 'Multi-RoI N=3' in out and 'CLIFF N=1' in out
    for label, run in result.items():
        ms = run['ms']
        assert all(ms[k] > 0 for k in ('backbone', 'rest', 'full', 'optimizer'))
        assert run['share'] == pytest.approx(100 * ms['rest'] / (ms['backbone'] + ms['rest']))
        assert run['share_by_subtraction'] == pytest.approx(
            100 * (1 - ms['backbone'] / ms['full']))
        assert run['passed']
        assert f"{label} N={run['num_rois']}: {run['share']:.1f}% PASS" in out
    # What runs after the backbone: the neck and the contrastive loss only in Multi-RoI.
    assert {'neck', 'head', 'body_model', 'loss_contrastive'} <= set(
        result['Multi-RoI']['module_forward_ms'])
    assert 'neck' not in result['CLIFF']['module_forward_ms']
    assert result['Multi-RoI']['num_rois'] == 3 and result['CLIFF']['num_rois'] == 1


@pytest.fixture(scope='module')
def tiny_model(benchmark_model, tiny_configs, tmp_path_factory):
    from mroi_plugin.synthetic.standin import write_standin_smpl
    from mroi_plugin.utils import register_all_modules
    register_all_modules()
    body_dir = tmp_path_factory.mktemp('bench_body_model')
    write_standin_smpl(str(body_dir), seed=0)
    cfg = benchmark_model.load_config(tiny_configs[0])
    return benchmark_model.build_model(cfg, str(body_dir), torch.device('cpu'))


def test_model_benchmark_batch_has_consistent_targets(benchmark_model, tiny_model):
    from mroi_plugin.geometry import image_to_normalized_crop, perspective_projection
    num_people, num_rois = 3, 5
    inputs, samples = benchmark_model.make_batch(tiny_model, num_people, num_rois, (32, 24),
                                                 torch.device('cpu'), seed=1)
    assert inputs.shape == (num_people * num_rois, 3, 32, 24)
    for sample in samples:
        keypoints3d = sample.keypoints3d[:, :3].double()
        projected = perspective_projection(
            keypoints3d, torch.zeros(3, dtype=torch.float64), sample.focal_length.double(),
            sample.principal_point.double())
        expected = image_to_normalized_crop(
            projected.expand(num_rois, -1, -1), sample.roi_centers.double(),
            sample.roi_sizes.double())
        np.testing.assert_allclose(sample.keypoints2d_crop[..., :2].numpy(),
                                   expected.numpy(), atol=1e-4)
        # The box holds every keypoint: RoI 0 sees all of them inside [-1, 1] vertically.
        assert sample.keypoints2d_crop[0, :, 1].abs().max() < 1
        assert sample.roi_sizes[0] > 0


def test_model_benchmark_rest_region_skips_the_backbone(benchmark_model, tiny_model):
    device = torch.device('cpu')
    inputs, samples = benchmark_model.make_batch(tiny_model, 2, 5, (32, 24), device, seed=0)
    backbone = tiny_model.backbone
    with benchmark_model.replayed_backbone(tiny_model, inputs):
        assert tiny_model.backbone is not backbone
        benchmark_model.loss_step(tiny_model, inputs, samples)
        leaves = tiny_model.backbone.outputs
    assert tiny_model.backbone is backbone
    assert all(p.grad is None for p in backbone.parameters())
    assert all(leaf.grad is not None and leaf.grad.abs().sum() > 0 for leaf in leaves)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny_model.head.parameters())
    # The full step reaches the backbone.
    benchmark_model.loss_step(tiny_model, inputs, samples)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


@pytest.mark.slow
def test_model_benchmark_default_configs(benchmark_model, capsys):
    """The real ResNet-50 configs (Multi-RoI N=5 and CLIFF), 5 crops of 64x48."""
    result = benchmark_model.main(['--batch-size', '1', '--iters', '1', '--warmup', '0',
                                   '--crop-size', '64', '48', '--profile-top', '0'])
    out = capsys.readouterr().out
    assert 'MultiRoIHMR (configs/mroi/mroi_r50.py)' in out.replace(str(REPO) + '/', '')
    assert result['Multi-RoI']['num_rois'] == 5 and result['CLIFF']['num_rois'] == 1
    assert result['Multi-RoI']['params']['backbone'] == result['CLIFF']['params']['backbone']


SPEED_VARIANTS = ['CLIFF'] + [f'Multi-RoI N={n}' for n in range(1, 6)]
# Multi-RoI paper, Table 4: fps with 5 RoIs / fps with 1 RoI.
PAPER_RATIO_N5 = 55.6 / 76.3


def _speed_rows(out: str) -> dict:
    """``{label: [N, crops, people/s, ratio, paper ratio, ...]}`` from the printed table."""
    rows = {}
    for line in out.splitlines():
        for label in SPEED_VARIANTS:
            if line.startswith(label + ' '):
                rows[label] = line[len(label):].split()
    return rows


def test_speed_benchmark_tiny_configs(benchmark_speed, tiny_configs, capsys):
    mroi, cliff = tiny_configs
    batch = 2
    result = benchmark_speed.main([
        '--configs', mroi, cliff, '--batch-size', str(batch), '--iters', '1', '--warmup', '0',
        '--crop-size', '32', '24'
    ])
    out = capsys.readouterr().out
    assert list(result) == SPEED_VARIANTS
    rows = _speed_rows(out)
    assert list(rows) == SPEED_VARIANTS, out
    reference_rate = float(rows['CLIFF'][2])
    for label, row in rows.items():
        num_rois, crops, rate, ratio = int(row[0]), int(row[1]), float(row[2]), float(row[3])
        assert num_rois == (1 if label == 'CLIFF' else int(label[-1]))
        assert crops == batch * num_rois
        assert rate > 0 and ratio > 0
        # The printed ratio is the printed throughput relative to CLIFF's.
        assert ratio == pytest.approx(rate / reference_rate, abs=2e-3)
        run = result[label]
        assert run['people_per_s'] == pytest.approx(batch * 1e3 / run['ms']['full'])
        assert run['share'] == pytest.approx(
            100 * run['ms']['rest'] / (run['ms']['backbone'] + run['ms']['rest']))
        assert 0 < run['share'] < 100
        assert run['peak_mib'] > 0 and run['resident_mib'] > 0
    assert rows['CLIFF'][3] == '1.000' and rows['CLIFF'][4] == '1.000'
    assert rows['Multi-RoI N=5'][4] == f'{PAPER_RATIO_N5:.3f}'
    n5 = result['Multi-RoI N=5']
    assert f"Multi-RoI N=5 {n5['ratio']:.2f} ({PAPER_RATIO_N5:.2f})" in out
    for field in ('summary: people/s relative to CLIFF', 'check (backbone + rest) / full',
                  'load average', 'device: cpu', 'interleaved'):
        assert field in out, field


@pytest.mark.parametrize('num_rois', [2, 3, 4])
def test_speed_benchmark_variants_match_ablation_configs(benchmark_speed, num_rois):
    """The N-RoI variants override num_rois exactly as the ablation configs do."""
    ablation = benchmark_speed.bm.load_config(
        f'configs/mroi/ablations/mroi_r50_{num_rois}rois.py')
    variant, = (v.cfg for v in benchmark_speed.build_variants(['configs/mroi/mroi_r50.py'],
                                                              [num_rois]))
    assert variant.num_rois == num_rois
    for key in ('train_pipeline', 'test_pipeline'):
        assert variant[key] == ablation[key]
    assert variant.model == ablation.model


def test_speed_benchmark_cpu_peak_memory(benchmark_speed):
    """The profiler-based CPU peak sees a 1 MiB tensor made and freed inside the step."""
    peak = benchmark_speed.peak_bytes(lambda: torch.ones(2**18), torch.device('cpu'))
    assert 2**20 <= peak < 1.5 * 2**20


def test_speed_benchmark_crop_and_feature_modes(benchmark_speed, tiny_configs, tmp_path,
                                                capsys):
    """``--modes crop feature``: both modes of each N and every context size in one run, and
    the JSON records are the printed numbers."""
    mroi, cliff = tiny_configs
    out_json = tmp_path / 'speed.json'
    batch = 2
    result = benchmark_speed.main([
        '--configs', mroi, cliff, '--num-rois', '5', '--modes', 'crop', 'feature',
        '--context-sizes', '32x32', '64x48', '--batch-size', str(batch), '--iters', '1',
        '--warmup', '0', '--crop-size', '32', '32', '--out-json', str(out_json)
    ])
    out = capsys.readouterr().out
    labels = ['CLIFF', 'Multi-RoI N=5', 'Feature N=5 32x32', 'Feature N=5 64x48']
    assert list(result) == labels
    # One context crop per person in feature mode, a crop per RoI in crop mode.
    assert [result[label]['crops'] for label in labels] == [batch, 5 * batch, batch, batch]
    assert 'context crops 64x48 (RoIs sampled as 32x32 crops)' in out
    records = json.loads(out_json.read_text())
    assert [r['variant'] for r in records] == labels
    assert [r['mode'] for r in records] == ['cliff', 'crop', 'feature', 'feature']
    assert [r['context_size'] for r in records] == [None, None, [32, 32], [64, 48]]
    for record in records:
        run = result[record['variant']]
        assert record['num_rois'] == run['num_rois']
        assert record['people_per_s'] == pytest.approx(run['people_per_s'])
        assert record['ratio_vs_cliff'] == pytest.approx(
            run['people_per_s'] / result['CLIFF']['people_per_s'])
    # Table 4 times crop-level RoIs: no paper ratio beside the feature rows.
    assert result['Feature N=5 32x32']['paper_ratio'] is None


def test_speed_benchmark_refuses_a_bad_context_size(benchmark_speed):
    with pytest.raises(SystemExit):
        benchmark_speed.parse_args(['--modes', 'feature', '--context-sizes', '256by192'])
