"""The paper's ablation table, reproduced on the synthetic data with exact cameras.

Example::

    python tools/benchmark_ablation.py                        # 2 CPU cores, about an hour
    python tools/benchmark_ablation.py --variants cliff mroi  # a subset
    python tools/benchmark_ablation.py --epochs 30 --num-train 20000 --jobs 4   # GPU machine

Method. Every variant is the quickstart config (``configs/quickstart/mroi_synthetic.py``:
``TinyConvNet``, 96x72 crops, stand-in body model) with one change, as the paper's Tables 3-6
change one thing of the full model:

============  ==============================================================================
cliff         CLIFF: 1 RoI, ``CliffHead`` (one regressor for mesh and camera), no neck, no
              camera-consistency or contrastive loss
mroi          Multi-RoI HMR, full: 5 RoIs, RoI-aware fusion, LocalCamera, L_cam and L_con
wo_raf        without RoI-aware fusion (``RoIAwareFusion(fusion=False)``)
wo_lcam       without the camera-consistency loss
wo_lcon       without the contrastive loss
rois_N        Multi-RoI HMR with N = 1..4 RoIs (N = 5 is ``mroi``); with 1 RoI neither
              L_cam nor L_con has a pair to compare, so this isolates the split mesh/camera
              head from CLIFF's single regressor
============  ==============================================================================

All variants train on the same synthetic split (``--num-train`` samples, rendered once with a
fixed seed), with the same seed (``randomness.seed``), schedule (``--epochs``, the quickstart's
learning rate and step), batch size and evaluation set, one after another (``--jobs`` at a
time, sharing the cores as torch threads), each in its own ``tools/train.py`` process under
``WORK_DIR/<variant>/``. With the default ``--jobs 1`` on the quickstart's 2 cores every
variant runs on the quickstart's 2 threads, so the full model's row is the quickstart's result
to the last digit (a different thread count changes the order of float sums, and so the
trajectory). The printed
table (also written to ``WORK_DIR/ablation.md`` and ``ablation.json``) holds MPJPE, PA-MPJPE,
PVE and the **full-camera translation error** (distance between predicted and true pelvis
positions in the camera frame, from ``test_cfg.camera``; the synthetic data have exact
ground-truth cameras, which the paper's real datasets lack), all in mm on the test split,
and the training time. The constant "mean pose of the training set" prediction is printed as
the floor every variant must beat. ``--plot`` draws the errors against the RoI count.

Numbers are on the licence-free stand-in body model and a tiny backbone trained for minutes:
they show whether each component helps *in this regime*, not SMPL results.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Optional, Sequence

from mmengine.config import Config

from mroi_plugin.utils import register_all_modules
from mroi_plugin.utils.cfg_options import CfgOptionsAction
from mroi_plugin.utils.config_rois import set_num_rois

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'quickstart', 'mroi_synthetic.py')
METRICS = ('mpjpe', 'pa_mpjpe', 'pve', 'transl_error')
METRIC_TITLES = ('MPJPE', 'PA-MPJPE', 'PVE', 'transl. error')
MAX_ROIS = 5


def to_cliff(cfg: Config) -> None:
    """CLIFF on the same backbone, crops and data: 1 RoI, one regressor, no Multi-RoI parts."""
    head = cfg.model.head
    camera = head.get('camera_decoder') or {}
    cfg.model.type = 'CLIFF'
    cfg.model.neck = None
    cfg.model.head = dict(
        type='CliffHead',
        in_channels=head.in_channels,
        hidden_channels=head.get('hidden_channels', 1024),
        mean_params=head.get('mean_params'),
        scale_param=camera.get('scale_param', 'linear'))
    cfg.model.loss_camera_consistency = None
    cfg.model.loss_contrastive = None
    cfg.model.contrastive_pooling = None
    set_num_rois(cfg, 1)


def _with_rois(num_rois: int) -> Callable[[Config], None]:

    def apply(cfg: Config) -> None:
        set_num_rois(cfg, num_rois)
        if num_rois == 1:
            # No pair of RoIs: both terms would be constant zeros.
            cfg.model.loss_camera_consistency = None
            cfg.model.loss_contrastive = None

    return apply


def _set_model(**changes) -> Callable[[Config], None]:

    def apply(cfg: Config) -> None:
        cfg.merge_from_dict({f'model.{k}': v for k, v in changes.items()})

    return apply


# name -> (label in the table, number of RoIs, change applied to the base config)
VARIANTS: Dict[str, tuple] = {
    'cliff': ('CLIFF (1 RoI)', 1, to_cliff),
    'mroi': ('Multi-RoI, full (5 RoIs)', 5, lambda cfg: None),
    'wo_raf': ('w/o RoI-aware fusion', 5, _set_model(**{'neck.fusion': False})),
    'wo_lcam': ('w/o camera-consistency loss', 5, _set_model(loss_camera_consistency=None)),
    'wo_lcon': ('w/o contrastive loss', 5, _set_model(loss_contrastive=None)),
}
for _n in range(1, MAX_ROIS):
    VARIANTS[f'rois_{_n}'] = (f'Multi-RoI, {_n} RoI{"s" if _n > 1 else ""}', _n, _with_rois(_n))


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
    parser.add_argument('--seed', type=int, default=0, help='training seed of every variant')
    parser.add_argument('--jobs', type=int, default=1,
                        help='variants trained at once (default 1); each gets an equal share '
                        'of the CPU cores as torch threads (TorchThreadsHook)')
    parser.add_argument('--plot', default='', help='PNG of errors vs RoI count (default: '
                        'WORK_DIR/ablation_rois.png; "none" to skip)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='extra key=value overrides for every variant (tools/train.py form)')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be >= 1')
    return args


def base_config(args: argparse.Namespace) -> Config:
    """The base config with the run's data size, schedule and seed applied."""
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
    cfg.randomness = dict(seed=args.seed)
    # Parallel runs with the config's own thread count would oversubscribe the cores.
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'TorchThreadsHook':
            hook.num_threads = threads
    return cfg


def variant_config(base: Config, name: str) -> Config:
    """``base`` with the change of variant ``name``."""
    cfg = Config(base.to_dict())
    VARIANTS[name][2](cfg)
    return cfg


def _read_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation metrics mmengine wrote under ``work_dir/<timestamp>/vis_data``."""
    found = []
    for root, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
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


def run_variant(name: str, cfg: Config, work_dir: str) -> Dict[str, object]:
    """Train + evaluate one variant with ``tools/train.py`` in its own process."""
    out_dir = osp.join(work_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, f'{name}.py')
    cfg.dump(cfg_path)
    log_path = osp.join(out_dir, 'train.log')
    start = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.run(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg_path, '--work-dir', out_dir],
            stdout=log, stderr=subprocess.STDOUT)
    minutes = (time.time() - start) / 60
    if proc.returncode:
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-15:])
        raise RuntimeError(f'Variant {name!r} failed (exit {proc.returncode}); the end of '
                           f'{log_path}:\n{tail}')
    metrics = _read_metrics(out_dir)
    print(f'  {name}: PA-MPJPE {metrics["hmr/pa_mpjpe"]:.1f} mm in {minutes:.1f} min',
          flush=True)
    return dict(metrics=metrics, minutes=minutes)


def format_table(results: Dict[str, Dict[str, object]]) -> str:
    """Markdown table of the variants (and the mean-pose floor), errors in mm."""
    header = '| variant | RoIs | ' + ' | '.join(METRIC_TITLES) + ' | train min |'
    lines = [header, '|' + '---|' * (len(METRIC_TITLES) + 3)]
    baseline = None
    for name, result in results.items():
        label, num_rois, _ = VARIANTS[name]
        metrics = result['metrics']
        values = ' | '.join(f'{metrics[f"hmr/{m}"]:.1f}' if f'hmr/{m}' in metrics else '-'
                            for m in METRICS)
        lines.append(f'| {label} | {num_rois} | {values} | {result["minutes"]:.1f} |')
        if any(k.startswith('mean_pose/') for k in metrics):
            baseline = metrics
    if baseline is not None:
        values = ' | '.join(f'{baseline[f"mean_pose/{m}"]:.1f}'
                            if f'mean_pose/{m}' in baseline else '-' for m in METRICS)
        lines.append(f'| mean pose of the training set (floor) | - | {values} | - |')
    return '\n'.join(lines)


def plot_rois(results: Dict[str, Dict[str, object]], path: str) -> Optional[str]:
    """Errors against the number of RoIs (Multi-RoI N = 1..5; CLIFF marked at N = 1)."""
    by_rois = {VARIANTS[n][1]: r for n, r in results.items() if n.startswith('rois_')}
    if 'mroi' in results:
        by_rois[MAX_ROIS] = results['mroi']
    if len(by_rois) < 2:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    counts = sorted(by_rois)
    fig, (ax_pose, ax_transl) = plt.subplots(1, 2, figsize=(10, 4))
    for metric, title in zip(METRICS[:3], METRIC_TITLES[:3]):
        line, = ax_pose.plot(counts, [by_rois[n]['metrics'][f'hmr/{metric}'] for n in counts],
                             'o-', label=f'Multi-RoI {title}')
        if 'cliff' in results:
            ax_pose.plot([1], [results['cliff']['metrics'][f'hmr/{metric}']], 's',
                         color=line.get_color(), mfc='none', ms=9, label=f'CLIFF {title}')
    ax_transl.plot(counts, [by_rois[n]['metrics']['hmr/transl_error'] for n in counts], 'o-',
                   color='tab:red', label='Multi-RoI')
    if 'cliff' in results:
        ax_transl.plot([1], [results['cliff']['metrics']['hmr/transl_error']], 's',
                       color='tab:red', mfc='none', ms=9, label='CLIFF')
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


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, object]]:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    base = base_config(args)
    if args.cfg_options:
        base.merge_from_dict(args.cfg_options)
    os.makedirs(args.work_dir, exist_ok=True)
    # Render the data once, before the variants race to do it.
    from mroi_plugin.apis.prepare_data import prepare_data
    prepare_data(base)
    configs = {name: variant_config(base, name) for name in args.variants}
    print(f'Training {len(configs)} variants ({args.jobs} at a time) in {args.work_dir}: '
          f'{base.train_cfg.max_epochs} epochs each', flush=True)
    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {name: pool.submit(run_variant, name, cfg, args.work_dir)
                   for name, cfg in configs.items()}
        results = {name: future.result() for name, future in futures.items()}
    table = format_table(results)
    total = (time.time() - start) / 60
    print(f'\nAblation on synthetic data ({total:.0f} min; errors in mm on the test split):\n')
    print(table)
    with open(osp.join(args.work_dir, 'ablation.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'ablation.json'), 'w') as f:
        json.dump(dict(args=vars(args), results=results), f, indent=1)
    if args.plot != 'none':
        plot = plot_rois(results, args.plot or osp.join(args.work_dir, 'ablation_rois.png'))
        if plot:
            print(f'\nPlot: {plot}')
    return results


if __name__ == '__main__':
    main()
