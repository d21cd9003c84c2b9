"""Benchmark the training data pipeline: samples/s per worker (= per CPU core).

Example::

    python tools/benchmark_data.py                      # 200 synthetic 640x480 JPEGs
    python tools/benchmark_data.py --data-root data/synthetic --ann-file train.npz

Method. One process, one thread (``torch.set_num_threads(1)``, ``cv2.setNumThreads(0)`` as
the runtime's ``env_cfg.mp_cfg.opencv_num_threads``), no DataLoader: what one DataLoader
worker does on one core. The pipeline is the config's ``train_pipeline`` (default
``configs/mroi/mroi_r50.py``: LoadImage -> RandomFlipHMR -> RandomScaleRotation ->
RandomColorScale -> MultiRoICrop -> PackHMRInputs), run once with ``MultiRoICrop(num_rois=N)``
and once with ``num_rois=1`` on the same samples and the same random draws (numpy's global
generator is re-seeded before each pass). Every transform is timed with two clocks: the CPU
time of this process (``time.process_time``: what one core spends on a sample, unaffected by
other processes sharing the core; the per-core rate and the PASS/FAIL use it) and the wall
clock (``time.perf_counter``; equal to CPU time on an idle machine). The dataset's
``get_data_info`` (reading the HumanData arrays) is timed too and shown on its own row,
outside the pipeline total. After ``--warmup`` passes (they fill the page cache and the
allocators), ``--repeats`` passes are timed and the **median** pass is reported. Without
``--data-root`` the licence-free stand-in body model and ``--num-samples`` synthetic images
are rendered into a temporary directory first (not timed).

Printed: a per-stage table (mean ms per sample, CPU and wall, for N and for 1 RoI), samples/s
of the pipeline and of pipeline + dataset indexing, the ratio N / 1, the machine load
(``os.getloadavg``) before and after, and PASS/FAIL against ``--target`` samples/s/core for
the N-RoI pipeline. A loaded machine inflates even CPU time (shared caches, SMT siblings):
check the load lines.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch

from mroi_plugin.registry import TRANSFORMS
from mroi_plugin.utils import register_all_modules

# tools/ is not a package: the shared helpers live in the sibling benchmark_model.py.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark_model as bm  # noqa: E402

DEFAULT_CONFIG = 'configs/mroi/mroi_r50.py'
# The data pipeline's speed target: at least this many samples/s per worker (core) with 5 RoIs.
TARGET_SAMPLES_PER_S = 200.0
DEFAULT_NUM_SAMPLES = 200
DEFAULT_IMAGE_SIZE = (640, 480)  # (W, H) of the synthetic images
DEFAULT_REPEATS = 5
DEFAULT_WARMUP = 1
# OpenCV without its own thread pool, as default_runtime.py sets it in DataLoader workers.
OPENCV_NUM_THREADS = 0
DATASET_STAGE = 'dataset.get_data_info'
CROP_TRANSFORM = 'MultiRoICrop'
KEYPOINT_CONVENTION = 'smpl_24'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Samples/s per worker of the training data pipeline (single process)')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='config whose train_pipeline is timed (default: %(default)s)')
    parser.add_argument('--data-root', default=None,
                        help='HumanData dataset folder; default: render a synthetic one into '
                        'a temporary directory')
    parser.add_argument('--ann-file', default='train.npz',
                        help='annotation file inside --data-root (default: %(default)s)')
    parser.add_argument('--num-samples', type=int, default=DEFAULT_NUM_SAMPLES,
                        help='samples per pass (rendered, or the first ones of --data-root)')
    parser.add_argument('--image-size', type=int, nargs=2, default=DEFAULT_IMAGE_SIZE,
                        metavar=('W', 'H'), help='size of the rendered images')
    parser.add_argument('--num-rois', type=int, default=5, help='RoIs of the main pipeline')
    parser.add_argument('--crop-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help="crop size (default: the config's MultiRoICrop crop_size)")
    parser.add_argument('--repeats', type=int, default=DEFAULT_REPEATS,
                        help='timed passes; the median is reported')
    parser.add_argument('--warmup', type=int, default=DEFAULT_WARMUP, help='untimed passes')
    parser.add_argument('--target', type=float, default=TARGET_SAMPLES_PER_S,
                        help='PASS threshold, samples/s per core with --num-rois RoIs')
    parser.add_argument('--seed', type=int, default=0, help='seed of data and augmentation')
    parser.add_argument('--render-workers', type=int, default=None,
                        help='processes that render the synthetic images (not timed)')
    args = parser.parse_args(argv)
    for name in ('num_samples', 'num_rois', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    return args


def render_dataset(out_dir: str, num_samples: int, image_size: Sequence[int], seed: int,
                   workers: Optional[int]) -> str:
    """Write the stand-in body model and ``num_samples`` synthetic images; return the root."""
    from mroi_plugin.synthetic import generate_synthetic_dataset
    from mroi_plugin.synthetic.standin import write_standin_smpl
    body_dir = osp.join(out_dir, 'body_models')
    data_root = osp.join(out_dir, 'synthetic')
    write_standin_smpl(body_dir, seed=seed)
    generate_synthetic_dataset(
        data_root, num_train=num_samples, num_val=0, num_test=0,
        image_size=tuple(image_size), seed=seed, body_model_dir=body_dir, workers=workers)
    return data_root


def pipeline_configs(config: str, num_rois: int,
                     crop_size: Optional[Sequence[int]]) -> List[dict]:
    """The config's ``train_pipeline`` with ``MultiRoICrop(num_rois, crop_size)``."""
    pipeline = bm.load_config(config).get('train_pipeline')
    if not pipeline:
        raise ValueError(f'benchmark_data: {config} has no train_pipeline to time.')
    steps = []
    for step in pipeline:
        step = dict(step)
        if step['type'] == CROP_TRANSFORM:
            step['num_rois'] = num_rois
            if crop_size is not None:
                step['crop_size'] = tuple(crop_size)
        steps.append(step)
    if not any(step['type'] == CROP_TRANSFORM for step in steps):
        raise ValueError(f'benchmark_data: the train_pipeline of {config} has no '
                         f'{CROP_TRANSFORM}.')
    return steps


def crop_size_of(steps: Sequence[dict]) -> tuple:
    """``(crop_h, crop_w)`` of the pipeline's crop step."""
    from mroi_plugin.datasets.transforms import pipeline_crop_box
    return pipeline_crop_box(steps)[1]


def time_passes(dataset, steps: Sequence[dict], num_samples: int, repeats: int, warmup: int,
                seed: int) -> Dict[str, object]:
    """Run the pipeline over the samples ``warmup + repeats`` times and time every stage.

    Each stage is timed with two clocks: CPU time of this process (``time.process_time``),
    which is what one core spends and does not grow when other processes share the core,
    and wall-clock time (``time.perf_counter``).

    Returns:
        dict: per clock ``'cpu'`` / ``'wall'``: ``stage_ms`` (stage name -> median over passes
        of the mean ms per sample, ``DATASET_STAGE`` first), ``pipeline_ms`` and ``total_ms``
        (median per-sample time of the pipeline alone and with dataset indexing),
        ``samples_per_s`` and ``samples_per_s_with_dataset`` (from those medians).
    """
    transforms = [TRANSFORMS.build(step) for step in steps]
    names = [DATASET_STAGE] + [type(t).__name__ for t in transforms]
    stages = [dataset.get_data_info] + transforms
    clocks = ('cpu', 'wall')
    per_pass = {clock: [] for clock in clocks}
    for pass_index in range(warmup + repeats):
        np.random.seed(seed)  # same augmentation draws in every pass and for every N
        stage_s = {clock: np.zeros(len(names)) for clock in clocks}
        for index in range(num_samples):
            results = index  # the first stage turns the index into the results dict
            wall, cpu = time.perf_counter(), time.process_time()
            for k, stage in enumerate(stages):
                results = stage(results)
                wall_end, cpu_end = time.perf_counter(), time.process_time()
                stage_s['wall'][k] += wall_end - wall
                stage_s['cpu'][k] += cpu_end - cpu
                wall, cpu = wall_end, cpu_end
                if results is None:
                    raise RuntimeError(f'benchmark_data: {names[k]} dropped sample {index}.')
        if pass_index >= warmup:
            for clock in clocks:
                per_pass[clock].append(stage_s[clock] / num_samples * 1e3)
    timings = {}
    for clock, passes in per_pass.items():
        passes = np.asarray(passes)  # (repeats, stages), ms per sample
        pipeline_ms = float(np.median(passes[:, 1:].sum(axis=1)))
        total_ms = float(np.median(passes.sum(axis=1)))
        timings[clock] = dict(
            stage_ms=dict(zip(names, np.median(passes, axis=0).tolist())),
            pipeline_ms=pipeline_ms,
            total_ms=total_ms,
            samples_per_s=1e3 / pipeline_ms,
            samples_per_s_with_dataset=1e3 / total_ms)
    return timings


def format_report(runs: Dict[int, Dict[str, dict]], num_rois: int, target: float) -> str:
    """The per-stage table and the summary lines (verdict on CPU time per core)."""
    many, one = runs[num_rois], runs[1]
    columns = [(f'N={num_rois}', many), ('N=1', one)]
    header = ''.join(f'{f"{label} {clock}":>12s}' for label, _ in columns
                     for clock in ('cpu', 'wall'))
    lines = [f'{"stage (mean ms / sample)":28s}{header}']

    def row(name: str, key: str) -> str:
        cells = ''
        for _, run in columns:
            for clock in ('cpu', 'wall'):
                value = run[clock]['stage_ms'][key] if name else run[clock][key]
                cells += f'{value:12.3f}'
        return f'{name or key:28s}{cells}'

    for name in many['cpu']['stage_ms']:
        lines.append(row(name, name))
    lines.append(f'{"pipeline total":28s}' + ''.join(
        f'{run[clock]["pipeline_ms"]:12.3f}' for _, run in columns for clock in ('cpu', 'wall')))
    cpu = many['cpu']
    slowest = max((n for n in cpu['stage_ms'] if n != DATASET_STAGE),
                  key=lambda n: cpu['stage_ms'][n])
    share = cpu['stage_ms'][slowest] / cpu['pipeline_ms']
    ratio = cpu['samples_per_s'] / one['cpu']['samples_per_s']
    verdict = 'PASS' if cpu['samples_per_s'] >= target else 'FAIL'
    lines += [
        f'bottleneck (N={num_rois}): {slowest} ({share:.0%} of the pipeline CPU time)',
        f'samples/s per core (CPU time), pipeline: N={num_rois}: {cpu["samples_per_s"]:.1f}'
        f'   N=1: {one["cpu"]["samples_per_s"]:.1f}',
        f'samples/s per core (CPU time), with dataset indexing: N={num_rois}: '
        f'{cpu["samples_per_s_with_dataset"]:.1f}'
        f'   N=1: {one["cpu"]["samples_per_s_with_dataset"]:.1f}',
        f'samples/s wall clock, pipeline: N={num_rois}: {many["wall"]["samples_per_s"]:.1f}'
        f'   N=1: {one["wall"]["samples_per_s"]:.1f}',
        f'ratio N={num_rois} / N=1 (samples/s, CPU time): {ratio:.2f}',
        f'target >= {target:g} samples/s/core at N={num_rois}: {verdict} '
        f'({cpu["samples_per_s"]:.1f} samples/s)',
    ]
    return '\n'.join(lines)


def run_benchmark(args: argparse.Namespace, data_root: str) -> Dict[str, object]:
    """Build the dataset and time both pipelines; returns the numbers per RoI count."""
    from mroi_plugin.datasets import HumanDataDataset
    ann_file = osp.join(data_root, args.ann_file)
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'benchmark_data: annotation file not found: {ann_file}; pass --data-root and '
            '--ann-file of a HumanData dataset, or leave --data-root out to render one.')
    steps = {n: pipeline_configs(args.config, n, args.crop_size)
             for n in dict.fromkeys((args.num_rois, 1))}
    crop_h, crop_w = crop_size_of(steps[args.num_rois])
    # The crop box is the pipeline's (GetBBoxCenterScale, then the crop's crop_size).
    dataset = HumanDataDataset(
        ann_file=args.ann_file, data_root=data_root, keypoint_convention=KEYPOINT_CONVENTION)
    num_samples = min(args.num_samples, len(dataset))
    first = dataset.get_data_info(0)
    print(f'data: {num_samples} samples of {ann_file} (first image {first["img_path"]}); '
          f'crops {crop_h}x{crop_w}; pipeline: '
          + ' -> '.join(s['type'] for s in steps[args.num_rois]))
    runs = {}
    for num_rois, pipeline in steps.items():
        runs[num_rois] = time_passes(dataset, pipeline, num_samples, args.repeats, args.warmup,
                                     args.seed)
    return runs


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Run the benchmark and print the report; returns the measured numbers."""
    args = parse_args(argv)
    register_all_modules()
    torch.set_num_threads(1)
    cv2.setNumThreads(OPENCV_NUM_THREADS)
    print(f'before: {bm.load_line()}')
    with tempfile.TemporaryDirectory(prefix='mroi_bench_data_') as tmp:
        data_root = args.data_root
        if data_root is None:
            start = time.perf_counter()
            data_root = render_dataset(tmp, args.num_samples, args.image_size, args.seed,
                                       args.render_workers)
            print(f'rendered {args.num_samples} synthetic {args.image_size[0]}x'
                  f'{args.image_size[1]} images in {time.perf_counter() - start:.1f} s '
                  '(not timed)')
        runs = run_benchmark(args, data_root)
    print(f'single process, 1 thread, {args.warmup} warm-up + {args.repeats} timed passes '
          '(median pass)')
    print(format_report(runs, args.num_rois, args.target))
    print(f'after: {bm.load_line()}')
    many, one = runs[args.num_rois]['cpu'], runs[1]['cpu']
    return dict(runs=runs,
                ratio=many['samples_per_s'] / one['samples_per_s'],
                passed=many['samples_per_s'] >= args.target)


if __name__ == '__main__':
    main(sys.argv[1:])
