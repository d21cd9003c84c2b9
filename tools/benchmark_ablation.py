"""The paper's ablation table, reproduced on the synthetic data with exact cameras.

Example::

    python tools/benchmark_ablation.py                        # 2 CPU cores, about an hour
    python tools/benchmark_ablation.py --variants cliff mroi  # a subset
    python tools/benchmark_ablation.py --variants cliff mroi --seeds 0 1 --out-json runs.json
    python tools/benchmark_ablation.py --epochs 30 --num-train 20000 --jobs 4   # GPU machine
    python tools/benchmark_ablation.py --from-json a.json b.json  # tables of earlier runs

Method. Every variant is the quickstart config (``configs/quickstart/mroi_synthetic.py``:
``TinyConvNet``, 96x72 crops, stand-in body model) with one change, as the paper's Tables 3-6
change one thing of the full model. Each is a config file of a few lines in
``configs/quickstart/ablations/`` (``--variants`` takes the file names; its ``ablation`` entry
gives the row's place and label; see that folder's README for the list): ``cliff`` (CLIFF's
single regressor, 1 RoI), ``mroi`` (the full model), ``wo_raf``, ``wo_lcam``, ``wo_lcon``,
``camera_released``, ``fusion_unbounded``, ``lcam_bs``, ``mroi_feature`` (the full model
with feature-level RoIs, docs/feature_rois.md) and ``rois_1`` .. ``rois_4``.

All variants train on the same synthetic split (``--num-train`` samples, rendered once with a
fixed seed), with the same seeds (``randomness.seed``; ``--seeds`` runs every variant once per
seed), schedule (``--epochs``, the quickstart's
learning rate and step), batch size and evaluation set, one after another (``--jobs`` at a
time, sharing the cores as torch threads), each in its own ``tools/train.py`` process under
``WORK_DIR/<variant>/seed<S>/``. With the default ``--jobs 1`` on the quickstart's 2 cores every
variant runs on the quickstart's 2 threads, so the full model's row is the quickstart's result
to the last digit (a different thread count changes the order of float sums, and so the
trajectory). The printed
table (also written to ``WORK_DIR/ablation.md`` and ``ablation.json``) holds MPJPE, PA-MPJPE,
PVE and the **full-camera translation error** (distance between predicted and true pelvis
positions in the camera frame, from ``test_cfg.camera``; the synthetic data have exact
ground-truth cameras, which the paper's real datasets lack), all in mm on the test split,
and the training time; with several seeds each value is the mean over the seeds +- half their
range. Printed under it as the floors every variant must beat: the constant "mean pose of the
training set" prediction, and two constant cameras with the full model's body
(``ConstantCameraBaselineMetric``): the training set's mean crop camera of the original box, and
each RoI's own mean camera fused as the model fuses at test time (``test_cfg.camera``; with
``'roi0'`` the two are the same camera). A camera no better than these constants is not an
estimate. A second table gives each RoI's crop-scale error ``log s_pred - log s_gt``: its bias
(mean) and spread (std) over the test split, for every variant and the constant camera.
``--plot`` draws the errors against the RoI count. ``--out-json FILE`` writes one record per
run, ``{variant, seed, mpjpe, pa_mpjpe, pve, transl_error, log_s_bias, log_s_std, minutes}``
(mm; per-RoI lists for log s), plus per seed the records of variants ``mean_pose``,
``constant_camera`` and ``roi_constant_camera`` (``None`` for what a baseline does not
predict).

Numbers are on the licence-free stand-in body model and a tiny backbone trained for minutes:
they show whether each component helps *in this regime*, not SMPL results.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional, Sequence

from mmengine.config import Config

from mroi_plugin.utils import register_all_modules
from mroi_plugin.utils.cfg_options import CfgOptionsAction
from mroi_plugin.utils.config_rois import apply_num_rois, to_feature_rois

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'quickstart', 'mroi_synthetic.py')
METRICS = ('mpjpe', 'pa_mpjpe', 'pve', 'transl_error', 'transl_error_fit')
METRIC_TITLES = ('MPJPE', 'PA-MPJPE', 'PVE', 'transl. error', 'transl. error, box fit')
MAX_ROIS = 5
# One config file per variant (a few lines on the quickstart config); ``--variants`` takes
# their file names.
VARIANT_DIR = osp.join(REPO, 'configs', 'quickstart', 'ablations')
# Constant baselines: metric prefix -> label in the tables. Each run's evaluator holds them.
BASELINES = {
    'mean_pose': 'mean pose of the training set (floor)',
    'constant_camera': 'constant camera: training-set mean (RoI 0)',
    'roi_constant_camera': 'constant camera: per-RoI training-set means, fused',
}
LOG_S_BIAS = 'log_s_bias_roi{}'
LOG_S_STD = 'log_s_std_roi{}'


def _variant_files() -> Dict[str, str]:
    """name -> path of every variant config, in table order (each file's ``ablation.row``)."""
    rows = []
    for path in glob.glob(osp.join(VARIANT_DIR, '*.py')):
        row = Config.fromfile(path).get('ablation') or {}
        if 'row' not in row or 'label' not in row:
            raise ValueError(f'{path} needs a top-level ablation = dict(row=..., label=...): '
                             'its place and label in the table.')
        rows.append((row['row'], osp.splitext(osp.basename(path))[0], path))
    return {name: path for _, name, path in sorted(rows)}


def _describe_variant(path: str) -> tuple:
    cfg = Config.fromfile(path)
    return cfg.ablation.label, cfg.num_rois, path


# name -> (label in the table, number of RoIs, config file): the files under VARIANT_DIR.
VARIANTS: Dict[str, tuple] = {
    name: _describe_variant(path) for name, path in _variant_files().items()}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train the ablation variants on synthetic data and print the table.')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='base config (the full model)')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS),
                        help='variants to train (default: all)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_ablation')
    parser.add_argument('--epochs', type=int, help='training epochs (default: the config\'s)')
    parser.add_argument('--num-train', type=int, help='synthetic training samples')
    parser.add_argument('--num-test', type=int, help='synthetic test samples')
    parser.add_argument('--batch-size', type=int, help='training batch size')
    parser.add_argument('--seed', type=int,
                        help='training seed of every variant (default 0; one run, see --seeds)')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='training seeds: every variant is trained once per seed')
    parser.add_argument('--out-json', default='',
                        help='write the runs (and baselines) as a JSON list of records')
    parser.add_argument('--jobs', type=int, default=1,
                        help='variants trained at once (default 1); each gets an equal share '
                        'of the CPU cores as torch threads (TorchThreadsHook)')
    parser.add_argument('--plot', default='', help='PNG of errors vs RoI count (default: '
                        'WORK_DIR/ablation_rois.png; "none" to skip)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='extra key=value overrides for every variant (tools/train.py form)')
    parser.add_argument('--eval-only', action='store_true',
                        help='train nothing: evaluate each (variant, seed) checkpoint already in '
                        'WORK_DIR with the current code and config (e.g. a new test-time '
                        'camera); records as if trained, with the training minutes of its log')
    parser.add_argument('--from-json', nargs='+', metavar='FILE',
                        help='train nothing: print the tables (and plot) of the records in '
                        'these --out-json files, e.g. runs made at different times')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be >= 1')
    if args.seeds is None:
        args.seeds = [0 if args.seed is None else args.seed]
    elif args.seed is not None:
        parser.error('give either --seed or --seeds, not both')
    elif len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds must be distinct, got {args.seeds}')
    return args


def base_config(args: argparse.Namespace, seed: Optional[int] = None) -> Config:
    """The base config with the run's data size, schedule, seed and baselines applied.

    Args:
        args (argparse.Namespace): Parsed arguments.
        seed (int, optional): Training seed; defaults to the first of ``args.seeds``.
    """
    cfg = Config.fromfile(args.config)
    synthetic = (cfg.get('prepare_data') or {}).get('synthetic_dataset')
    if (args.num_train or args.num_test) and not synthetic:
        raise ValueError(f'{args.config} has no prepare_data.synthetic_dataset entry, so '
                         '--num-train/--num-test cannot change its data.')
    if args.num_train:
        synthetic.num_train = args.num_train
    if args.num_test:
        synthetic.num_test = args.num_test
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size
    if args.epochs:
        epochs = args.epochs
        cfg.train_cfg.max_epochs = epochs
        cfg.train_cfg.val_interval = epochs
        cfg.default_hooks.checkpoint.interval = epochs
        # Keep the quickstart's shape of schedule: decay once for the last fifth.
        for scheduler in cfg.get('param_scheduler') or []:
            if scheduler.get('type') == 'MultiStepLR' and scheduler.get('by_epoch', True):
                scheduler.milestones = [max(1, round(epochs * 0.8))]
    cfg.randomness = dict(seed=args.seeds[0] if seed is None else seed)
    add_camera_baselines(cfg)
    # Parallel runs with the config's own thread count would oversubscribe the cores.
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'TorchThreadsHook':
            hook.num_threads = threads
    return cfg


def add_camera_baselines(cfg: Config) -> None:
    """Add the constant-camera baselines next to the config's ``MeanPoseBaselineMetric``.

    Both use the mean-pose baseline's training file and body model, the model's crop-scale
    parameterisation and test-time camera, and the training dataset's crop box, in place of
    any the config has. Configs without a mean-pose baseline are left as they are.
    """
    model = cfg.model
    head = model.get('head') or {}
    scale_param = (head.get('camera_decoder') or {}).get('scale_param',
                                                         head.get('scale_param', 'linear'))
    camera = (model.get('test_cfg') or {}).get('camera', 'roi0')
    # The crop box (padding, crop size) is the training pipeline's: GetBBoxCenterScale and the
    # crop step (docs/CONVENTIONS.md#the-crop-box).
    box = dict(pipeline=cfg.train_dataloader.dataset.pipeline)
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        if not isinstance(evaluators, (list, tuple)):
            continue
        # The variant's own constants replace the config's (its scale parameterisation and
        # test-time camera may differ from the base config's).
        evaluators = [e for e in evaluators if e.get('type') != 'ConstantCameraBaselineMetric']
        types = [e.get('type') for e in evaluators]
        if 'MeanPoseBaselineMetric' not in types:
            continue
        mean_pose = dict(evaluators[types.index('MeanPoseBaselineMetric')])
        mean_pose.pop('type')
        mean_pose.pop('prefix', None)
        cfg[key] = list(evaluators) + [
            dict(type='ConstantCameraBaselineMetric', per_roi=per_roi, camera=camera,
                 scale_param=scale_param, **box, **mean_pose) for per_roi in (False, True)]


def variant_config(base: Config, name: str) -> Config:
    """``base`` with the change of variant ``name`` (its config file).

    The variant file is read on top of ``base`` (in place of the quickstart config it
    inherits), so the run's settings in ``base`` (data size, schedule, seed, baselines,
    ``--cfg-options``) hold for every variant. A variant's top-level ``num_rois`` is applied
    to every crop step (:func:`apply_num_rois`): mmengine evaluates the base's pipelines before
    a child config can change it. Likewise a top-level ``context_size`` turns the crop-mode
    model into feature-level RoIs (:func:`to_feature_rois`, docs/feature_rois.md).
    """
    with tempfile.TemporaryDirectory() as tmp:
        base_path = osp.join(tmp, 'base.py')
        base.dump(base_path)
        with open(VARIANTS[name][2]) as f:
            text = f.read()
        rebased, count = re.subn(r"^_base_ = .*$", f'_base_ = {base_path!r}', text, flags=re.M)
        if count != 1:
            raise ValueError(f'{VARIANTS[name][2]} must have one top-level `_base_ = ...` line.')
        variant_path = osp.join(tmp, f'{name}.py')
        with open(variant_path, 'w') as f:
            f.write(rebased)
        cfg = Config.fromfile(variant_path)
    apply_num_rois(cfg)
    if 'context_size' in cfg and cfg.model.get('roi_sampler') is None:
        # Feature-level RoIs (mroi_feature): the crop steps become context crops of that size.
        to_feature_rois(cfg, cfg.context_size)
    return cfg


def _read_metrics(work_dir: str, test: bool = False) -> Dict[str, float]:
    """The last metrics mmengine wrote under ``work_dir/<timestamp>/``.

    Validation during training goes to ``vis_data/scalars.json``; ``tools/test.py`` writes
    its metrics to ``<timestamp>.json`` beside the log (``test=True``).
    """
    found = []
    for root, _, files in os.walk(work_dir):
        if test:
            found += [osp.join(root, f) for f in files
                      if f == f'{osp.basename(root)}.json']
        elif 'scalars.json' in files:
            found.append(osp.join(root, 'scalars.json'))
    metrics: Dict[str, float] = {}
    for path in sorted(found, key=osp.getmtime):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'hmr/mpjpe' in record:
                    metrics = record
    if not metrics:
        raise RuntimeError(f'No validation metrics under {work_dir}: see its train.log.')
    return metrics


def _run_tool(tool: str, cfg: Config, out_dir: str, cfg_name: str, log_name: str,
              extra_args: Sequence[str], what: str) -> None:
    """Dump ``cfg`` into ``out_dir`` and run ``tools/<tool>`` on it in its own process.

    ``extra_args`` go right after the config path (``test.py``'s checkpoint, or flags); the
    output goes to ``out_dir/log_name``, whose end a failure quotes.
    """
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, cfg_name)
    cfg.dump(cfg_path)
    log_path = osp.join(out_dir, log_name)
    with open(log_path, 'w') as log:
        proc = subprocess.run(
            [sys.executable, osp.join(REPO, 'tools', tool), cfg_path, *extra_args, '--work-dir',
             out_dir], stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-15:])
        raise RuntimeError(f'{what} failed (exit {proc.returncode}); the end of '
                           f'{log_path}:\n{tail}')


def run_variant(name: str, cfg: Config, work_dir: str, seed: int) -> Dict[str, Any]:
    """Train + evaluate one variant with ``tools/train.py`` in its own process.

    Returns:
        dict: ``variant``, ``seed``, ``metrics`` (the last validation) and ``minutes``.
    """
    out_dir = osp.join(work_dir, name, f'seed{seed}')
    start = time.time()
    # The benchmark owns its work dirs: a rerun trains the variant again.
    _run_tool('train.py', cfg, out_dir, f'{name}.py', 'train.log', ['--overwrite'],
              f'Variant {name!r}')
    minutes = (time.time() - start) / 60
    metrics = _read_metrics(out_dir)
    print(f'  {name} (seed {seed}): PA-MPJPE {metrics["hmr/pa_mpjpe"]:.1f} mm in '
          f'{minutes:.1f} min', flush=True)
    return dict(variant=name, seed=seed, metrics=metrics, minutes=minutes)


def _log_minutes(log_path: str) -> Optional[float]:
    """Minutes between the first and last timestamped mmengine lines of a training log.

    The console (``train.log`` here) stamps ``MM/DD HH:MM:SS``, the log file adds the year.
    """
    stamps = []
    with open(log_path) as f:
        for line in f:
            match = re.match(r'(?:\d{4}/)?(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine', line)
            if match:
                # A leap-year base so that a run over 29 February parses.
                stamps.append(time.mktime(
                    time.strptime(f'2024/{match.group(1)}', '%Y/%m/%d %H:%M:%S')))
    return (stamps[-1] - stamps[0]) / 60 if len(stamps) > 1 else None


def evaluate_variant(name: str, cfg: Config, work_dir: str, seed: int) -> Dict[str, Any]:
    """``--eval-only``: evaluate a trained (variant, seed) again with ``tools/test.py``.

    The checkpoint is the run's last (``WORK_DIR/<variant>/seed<S>/last_checkpoint``); the
    config is the variant's as the current code builds it, so a test-time change (say, a
    camera added to ``test_cfg.extra_cameras``) is measured without training again.

    Returns:
        dict: as :func:`run_variant`; ``minutes`` is the training time of the run's log.
    """
    out_dir = osp.join(work_dir, name, f'seed{seed}')
    last = osp.join(out_dir, 'last_checkpoint')
    if not osp.isfile(last):
        raise RuntimeError(f'--eval-only: {name} (seed {seed}) has no checkpoint in {out_dir} '
                           '(no last_checkpoint file); train it first, without --eval-only.')
    with open(last) as f:
        checkpoint = f.read().strip()
    eval_dir = osp.join(out_dir, 'eval')
    _run_tool('test.py', cfg, eval_dir, f'{name}.py', 'test.log', [checkpoint],
              f'Evaluating {name!r}')
    metrics = _read_metrics(eval_dir, test=True)
    train_log = osp.join(out_dir, 'train.log')
    minutes = _log_minutes(train_log) if osp.isfile(train_log) else None
    print(f'  {name} (seed {seed}, evaluated again): PA-MPJPE {metrics["hmr/pa_mpjpe"]:.1f} mm',
          flush=True)
    return dict(variant=name, seed=seed, metrics=metrics, minutes=minutes)


def summarize(runs: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Each variant's runs in one entry: metrics averaged over its seeds.

    Args:
        runs (Sequence[dict]): :func:`run_variant` results.

    Returns:
        dict: variant -> ``metrics`` (mean over seeds), ``spread`` (half the range over
        seeds), ``minutes`` (mean) and ``seeds``, in the order the variants first appear.
    """
    grouped: Dict[str, list] = {}
    for run in runs:
        grouped.setdefault(run['variant'], []).append(run)
    summary = {}
    for name, group in grouped.items():
        keys = [k for k in group[0]['metrics'] if all(k in r['metrics'] for r in group)]
        values = {k: [float(r['metrics'][k]) for r in group] for k in keys
                  if all(isinstance(r['metrics'][k], (int, float)) for r in group)}
        summary[name] = dict(
            metrics={k: sum(v) / len(v) for k, v in values.items()},
            spread={k: (max(v) - min(v)) / 2 for k, v in values.items()},
            minutes=(None if any(r['minutes'] is None for r in group)
                     else sum(r['minutes'] for r in group) / len(group)),
            seeds=[r['seed'] for r in group])
    return summary


def _cell(result: Dict[str, Any], key: str) -> str:
    """``mean`` (one seed) or ``mean ± half-range`` (several) of a metric, or ``-``."""
    if key not in result['metrics']:
        return '-'
    text = f'{result["metrics"][key]:.1f}'
    if len(result.get('seeds', ())) > 1:
        text += f' ± {result["spread"][key]:.1f}'
    return text


def _reference(results: Dict[str, Dict[str, Any]], prefix: str) -> Optional[Dict[str, Any]]:
    """The entry whose evaluator reported baseline ``prefix``: the full model's if it ran.

    The constant cameras keep the model's body, so their numbers differ between variants by
    a few mm; the full model's are the ones printed.
    """
    names = sorted(results, key=lambda n: n != 'mroi')
    for name in names:
        if any(k.startswith(f'{prefix}/') for k in results[name]['metrics']):
            return results[name]
    return None


def format_table(results: Dict[str, Dict[str, Any]]) -> str:
    """Markdown table of the variants (and the constant baselines), errors in mm.

    Args:
        results (dict): variant -> ``metrics`` and ``minutes`` (one run), or a
            :func:`summarize` entry (several seeds: cells show mean ± half-range).
    """
    def seeds(result: Dict[str, Any]) -> str:
        # Tables joined from records of several sessions may hold rows of different seeds.
        return ', '.join(str(s) for s in result.get('seeds', ())) or '-'

    header = '| variant | RoIs | seeds | ' + ' | '.join(METRIC_TITLES) + ' | train min |'
    lines = [header, '|' + '---|' * (len(METRIC_TITLES) + 4)]
    for name, result in results.items():
        label, num_rois, _ = VARIANTS[name]
        values = ' | '.join(_cell(result, f'hmr/{m}') for m in METRICS)
        minutes = '-' if result['minutes'] is None else f'{result["minutes"]:.1f}'
        lines.append(f'| {label} | {num_rois} | {seeds(result)} | {values} | {minutes} |')
    for prefix, label in BASELINES.items():
        reference = _reference(results, prefix)
        if reference is not None:
            values = ' | '.join(_cell(reference, f'{prefix}/{m}') for m in METRICS)
            lines.append(f'| {label} | - | {seeds(reference)} | {values} | - |')
    return '\n'.join(lines)


def _num_rois_logged(metrics: Dict[str, Any], prefix: str) -> int:
    count = 0
    while f'{prefix}/{LOG_S_BIAS.format(count)}' in metrics:
        count += 1
    return count


def format_log_scale_table(results: Dict[str, Dict[str, Any]]) -> str:
    """Per-RoI bias ± spread of ``log s_pred - log s_gt`` (means over seeds); '' if none."""
    rows = [(VARIANTS[name][0], result, 'hmr') for name, result in results.items()]
    for prefix in ('constant_camera', 'roi_constant_camera'):
        reference = _reference(results, prefix)
        if reference is not None and _num_rois_logged(reference['metrics'], prefix):
            rows.append((BASELINES[prefix], reference, prefix))
    num_rois = max((_num_rois_logged(r['metrics'], p) for _, r, p in rows), default=0)
    if not num_rois:
        return ''
    lines = ['| variant | ' + ' | '.join(f'RoI {k}' for k in range(num_rois)) + ' |',
             '|' + '---|' * (num_rois + 1)]
    for label, result, prefix in rows:
        metrics = result['metrics']
        cells = []
        for k in range(num_rois):
            bias = metrics.get(f'{prefix}/{LOG_S_BIAS.format(k)}')
            std = metrics.get(f'{prefix}/{LOG_S_STD.format(k)}')
            cells.append('-' if bias is None or std is None else f'{bias:+.3f} ± {std:.3f}')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _record(variant: str, seed: int, metrics: Dict[str, Any], prefix: str,
            minutes: Optional[float] = None) -> Dict[str, Any]:
    record: Dict[str, Any] = dict(variant=variant, seed=seed)
    for metric in METRICS:
        value = metrics.get(f'{prefix}/{metric}')
        record[metric] = None if value is None else float(value)
    num_rois = _num_rois_logged(metrics, prefix)
    record['log_s_bias'] = [float(metrics[f'{prefix}/{LOG_S_BIAS.format(k)}'])
                            for k in range(num_rois)]
    record['log_s_std'] = [float(metrics[f'{prefix}/{LOG_S_STD.format(k)}'])
                           for k in range(num_rois)]
    record['minutes'] = minutes
    return record


def make_records(runs: Sequence[Dict[str, Any]]) -> list:
    """One JSON record per run, then per seed one per constant baseline.

    Args:
        runs (Sequence[dict]): :func:`run_variant` results.

    Returns:
        list[dict]: ``{variant, seed, mpjpe, pa_mpjpe, pve, transl_error, log_s_bias,
        log_s_std, minutes}``; errors in mm, ``None`` where not measured. A baseline's
        record of a seed comes from the full model's run of that seed when there is one.
    """
    records = [_record(r['variant'], r['seed'], r['metrics'], 'hmr', r['minutes'])
               for r in runs]
    for seed in dict.fromkeys(r['seed'] for r in runs):
        of_seed = {r['variant']: r for r in runs if r['seed'] == seed}
        for prefix in BASELINES:
            reference = _reference(of_seed, prefix)
            if reference is not None:
                records.append(_record(prefix, seed, reference['metrics'], prefix))
    return records


def runs_from_records(records: Sequence[Dict[str, Any]]) -> list:
    """The runs that :func:`make_records` wrote, rebuilt (the inverse of it).

    Records may come from several ``--out-json`` files (runs made at different times, on
    other machines); every variant record becomes one run whose metrics carry its seed's
    baseline records, so :func:`summarize` and the tables treat them as if trained together.
    A baseline's record of a seed is taken from a file holding the full model's run of that
    seed when there is one (that is the run the tables print the baselines of).

    Args:
        records (Sequence[dict]): :func:`make_records` output, concatenated; each record
            may carry ``_source`` (an index naming the file it came from).

    Returns:
        list[dict]: ``variant``, ``seed``, ``metrics``, ``minutes`` per run, in file order.

    Raises:
        ValueError: a variant is unknown, or one (variant, seed) appears twice.
    """
    def metrics_of(record: Dict[str, Any], prefix: str) -> Dict[str, float]:
        metrics = {f'{prefix}/{m}': record[m] for m in METRICS if record.get(m) is not None}
        for k, (bias, std) in enumerate(zip(record.get('log_s_bias', ()),
                                            record.get('log_s_std', ()))):
            metrics[f'{prefix}/{LOG_S_BIAS.format(k)}'] = bias
            metrics[f'{prefix}/{LOG_S_STD.format(k)}'] = std
        return metrics

    full_model_sources = {(r['seed'], r.get('_source')) for r in records
                          if r['variant'] == 'mroi'}
    baselines: Dict[tuple, Dict[str, Any]] = {}
    runs: Dict[tuple, Dict[str, Any]] = {}
    for record in records:
        key = (record['variant'], record['seed'])
        if record['variant'] in BASELINES:
            preferred = (record['seed'], record.get('_source')) in full_model_sources
            if key not in baselines or preferred:
                baselines[key] = record
            continue
        if record['variant'] not in VARIANTS:
            raise ValueError(f'Record of unknown variant {record["variant"]!r}; the variants '
                             f'are the files in {VARIANT_DIR}: {", ".join(VARIANTS)}.')
        if key in runs:
            raise ValueError(f'Variant {key[0]!r} seed {key[1]} appears twice in the records; '
                             'keep one of the files that hold it.')
        runs[key] = dict(variant=record['variant'], seed=record['seed'],
                         metrics=metrics_of(record, 'hmr'), minutes=record.get('minutes') or 0.0)
    for (prefix, seed), record in baselines.items():
        for run in runs.values():
            if run['seed'] == seed:
                run['metrics'].update(metrics_of(record, prefix))
    return list(runs.values())


def plot_rois(results: Dict[str, Dict[str, Any]], path: str) -> Optional[str]:
    """Errors against the number of RoIs (Multi-RoI N = 1..5; CLIFF marked at N = 1).

    ``results`` as for :func:`format_table` (means over seeds; with several seeds the error
    bars are the half-ranges). The translation panel has the models' own cameras, their
    box-fitted cameras where measured, and the constant camera as a floor to beat.
    """
    by_rois = {VARIANTS[n][1]: r for n, r in results.items() if n.startswith('rois_')}
    if 'mroi' in results:
        by_rois[MAX_ROIS] = results['mroi']
    if len(by_rois) < 2:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    counts = sorted(by_rois)

    def series(key: str) -> tuple:
        shown = [n for n in counts if key in by_rois[n]['metrics']]
        return (shown, [by_rois[n]['metrics'][key] for n in shown],
                [by_rois[n].get('spread', {}).get(key, 0.0) for n in shown])

    def cliff_point(ax: Any, key: str, color: str, label: str) -> None:
        if 'cliff' in results and key in results['cliff']['metrics']:
            ax.errorbar([1], [results['cliff']['metrics'][key]],
                        [results['cliff'].get('spread', {}).get(key, 0.0)], fmt='s',
                        color=color, mfc='none', ms=9, capsize=3, label=label)

    fig, (ax_pose, ax_transl) = plt.subplots(1, 2, figsize=(10, 4))
    for metric, title in zip(METRICS[:3], METRIC_TITLES[:3]):
        line = ax_pose.errorbar(*series(f'hmr/{metric}'), fmt='o-', capsize=3,
                                label=f'Multi-RoI {title}')
        cliff_point(ax_pose, f'hmr/{metric}', line.lines[0].get_color(), f'CLIFF {title}')
    for key, color, label in (('hmr/transl_error', 'tab:red', 'own camera'),
                              ('hmr/transl_error_fit', 'tab:purple', 'box-fitted camera')):
        shown, values, spread = series(key)
        if shown:
            ax_transl.errorbar(shown, values, spread, fmt='o-', capsize=3, color=color,
                               label=f'Multi-RoI, {label}')
            cliff_point(ax_transl, key, color, f'CLIFF, {label}')
    constant = _reference(results, 'constant_camera')
    if constant is not None:
        ax_transl.axhline(constant['metrics']['constant_camera/transl_error'], color='grey',
                          ls='--', label='constant camera (training-set mean)')
    ax_pose.set(xlabel='RoIs per person', ylabel='error (mm)', title='Mesh and joint errors',
                xticks=counts)
    ax_transl.set(xlabel='RoIs per person', ylabel='error (mm)',
                  title='Full-camera translation error', xticks=counts)
    ax_pose.legend(fontsize=7)
    ax_transl.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report(args: argparse.Namespace, runs: Sequence[Dict[str, Any]],
           total: Optional[float]) -> None:
    """Print and write the tables, records and plot of ``runs`` (see :func:`run_variant`)."""
    os.makedirs(args.work_dir, exist_ok=True)
    results = summarize(runs)
    table = format_table(results)
    log_table = format_log_scale_table(results)
    seed_list = list(dict.fromkeys(r['seed'] for r in runs))
    seeds = ', '.join(str(s) for s in seed_list)
    spread = ' (mean ± half-range over seeds)' if len(seed_list) > 1 else ''
    took = f'{total:.0f} min; ' if total is not None else ''
    print(f'\nAblation on synthetic data ({took}seeds {seeds}; errors in mm on the '
          f'test split{spread}):\n')
    print(table)
    if log_table:
        print('\nCrop-scale error log s_pred - log s_gt per RoI, bias ± spread (std) over the '
              'test split:\n')
        print(log_table)
    with open(osp.join(args.work_dir, 'ablation.md'), 'w') as f:
        f.write(table + '\n' + (f'\n{log_table}\n' if log_table else ''))
    records = make_records(runs)
    with open(osp.join(args.work_dir, 'ablation.json'), 'w') as f:
        json.dump(dict(args=vars(args), results=results, records=records), f, indent=1)
    if args.out_json:
        if osp.dirname(osp.abspath(args.out_json)):
            os.makedirs(osp.dirname(osp.abspath(args.out_json)), exist_ok=True)
        with open(args.out_json, 'w') as f:
            json.dump(records, f, indent=1)
        print(f'\nRecords: {args.out_json}')
    if args.plot != 'none':
        plot = plot_rois(results, args.plot or osp.join(args.work_dir, 'ablation_rois.png'))
        if plot:
            print(f'\nPlot: {plot}')


def report_from_json(args: argparse.Namespace) -> list:
    """``--from-json``: the tables of earlier runs' records; returns the rebuilt runs."""
    records = []
    for index, path in enumerate(args.from_json):
        try:
            with open(path) as f:
                loaded = json.load(f)
        except (OSError, ValueError) as err:
            raise SystemExit(f'--from-json: cannot read {path!r} ({err}); give files written '
                             'by --out-json.') from None
        if not isinstance(loaded, list) or not all(
                isinstance(r, dict) and 'variant' in r and 'seed' in r for r in loaded):
            raise SystemExit(f'--from-json: {path!r} is not a list of records with "variant" '
                             'and "seed"; give files written by --out-json.')
        records += [dict(r, _source=index) for r in loaded]
    try:
        runs = runs_from_records(records)
    except ValueError as err:
        raise SystemExit(f'--from-json: {err}') from None
    if not runs:
        raise SystemExit('--from-json: the files hold only baseline records; no variant ran.')
    # Files come in any order (a shell glob sorts them by name): the rows in the table's order.
    order = list(VARIANTS)
    runs.sort(key=lambda run: (order.index(run['variant']), run['seed']))
    report(args, runs, None)
    return runs


def main(argv: Optional[Sequence[str]] = None) -> list:
    """Train every (variant, seed), print the tables; returns the runs (see run_variant)."""
    args = parse_args(argv)
    if args.from_json:
        return report_from_json(args)
    register_all_modules(init_default_scope=False)
    bases = {seed: base_config(args, seed) for seed in args.seeds}
    for base in bases.values():
        if args.cfg_options:
            base.merge_from_dict(args.cfg_options)
    os.makedirs(args.work_dir, exist_ok=True)
    # Render the data once, before the variants race to do it.
    from mroi_plugin.apis.prepare_data import prepare_data
    prepare_data(bases[args.seeds[0]])
    jobs = [(name, seed, variant_config(bases[seed], name))
            for seed in args.seeds for name in args.variants]
    print(f'{"Evaluating" if args.eval_only else "Training"} {len(args.variants)} variants x '
          f'{len(args.seeds)} seeds ({args.jobs} at a '
          f'time) in {args.work_dir}: {bases[args.seeds[0]].train_cfg.max_epochs} epochs each',
          flush=True)
    start = time.time()
    step = evaluate_variant if args.eval_only else run_variant
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(step, name, cfg, args.work_dir, seed)
                   for name, seed, cfg in jobs]
        runs = [future.result() for future in futures]
    report(args, runs, (time.time() - start) / 60)
    return runs


if __name__ == '__main__':
    main()
