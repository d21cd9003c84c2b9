"""Benchmark inference: people/s of CLIFF and of Multi-RoI HMR with N = 1..5 RoIs, in one run.

Example::

    python tools/benchmark_speed.py                          # CPU, B=4, 256x192, 1 thread
    python tools/benchmark_speed.py --device cuda --batch-size 1
    python tools/benchmark_speed.py --num-rois 1 5 --iters 10 --batch-size 8
    python tools/benchmark_speed.py --num-rois 5 --modes crop feature \
        --context-sizes 256x192 320x256 384x288 --out-json speed.json

``--modes feature`` adds feature-level RoIs (docs/feature_rois.md): the Multi-RoI config turned
into feature mode (``to_feature_rois``: one ``MultiRoIContextCrop`` of each ``--context-sizes``
per person, RoI features sampled from its map), one variant per RoI count and context size,
timed in the same interleaved run as CLIFF and the crop-mode variants. ``--out-json FILE``
writes one record per variant: ``{variant, mode, num_rois, context_size, people_per_s,
ratio_vs_cliff}`` (``mode`` is ``'cliff'``, ``'crop'`` or ``'feature'``; ``context_size`` is
``[h, w]`` or null).

The paper's Table 4 form: inference speed against the number of RoIs. The paper reports 76.3
fps (1 RoI) -> 55.6 fps (5 RoIs) on an RTX 3090, a ratio of 0.73; this tool prints each
variant's throughput relative to CLIFF, measured side by side in the same run, with the paper's
ratio beside it.

Method. The variants are CLIFF (the CLIFF config, 1 RoI) and Multi-RoI HMR built from the
Multi-RoI config with ``num_rois`` overridden to each ``--num-rois`` value, as the ablation
configs ``configs/mroi/ablations/mroi_r50_{2,3,4}rois.py`` do (``set_num_rois``: every
``MultiRoICrop`` of the config gets the new ``num_rois``). Every model is built as
``tools/benchmark_model.py`` builds it: no checkpoint (timings do not depend on weights), the
licence-free stand-in body model written to a temporary directory, then switched to eval mode.
Every variant gets the same ``B`` random people (same seed) through the real
``MultiRoICrop(N) -> PackHMRInputs`` pipeline and the data preprocessor
(``benchmark_model.make_batch``): ``(B*N, 3, H, W)`` crops, made once, not timed.

Inference is the model's predict path, ``model(inputs, data_samples, mode='predict')`` under
``torch.no_grad()``: backbone, pooling, RoI-aware fusion (Multi-RoI), heads, SMPL forward,
cameras, axis-angle conversion. Three regions are timed per variant:

- **full**: the predict path above; throughput = ``B`` / its median, in people/s;
- **backbone**: ``model.backbone(inputs)`` alone;
- **rest**: the predict path with the backbone *replaced by its recorded outputs*
  (``benchmark_model.replayed_backbone``), so exactly the code after the backbone runs.

The share outside the backbone is ``rest / (backbone + rest)``, as in benchmark_model.py;
``(backbone + rest) / full`` is printed as a check that the split adds up. Timing is
interleaved: every iteration runs all variants, in an order rotated by one per iteration (the
three regions of a variant rotate too), so machine load, cache and allocator state hit all
variants alike; ``--warmup`` untimed iterations come first and medians over ``--iters`` are
reported. The clock is ``benchmark_model.clock``: on CPU the CPU time of the process with one
torch thread by default (other processes on a shared machine then neither stretch the numbers
nor stall a thread; on an idle machine it equals the wall time); on CUDA the wall clock with
``torch.cuda.synchronize`` around every region. Ratios are of the median throughputs.

Peak memory is measured once per variant after the timing, in a separate untimed predict call,
as the peak of what the predict path allocates on top of what is resident before it (the
model's parameters and buffers, and the input crops; printed next to it):

- CUDA: ``torch.cuda.max_memory_allocated`` after ``torch.cuda.reset_peak_memory_stats``,
  minus ``torch.cuda.memory_allocated`` before the call (the caching allocator's live tensors;
  reserved-but-free cache is not counted);
- CPU: torch has no allocator statistics for the CPU, and ``tracemalloc`` or the process RSS
  do not see or cannot isolate torch's allocations. ``torch.profiler`` with
  ``profile_memory=True`` records every CPU tensor allocation and free (size and time); the
  peak of their running sum over the call is the peak of torch's CPU allocations above the
  state before it. Memory outside torch's allocator (oneDNN/BLAS scratch buffers, Python
  objects) is not included.
"""
import argparse
import copy
import itertools
import json
import os.path as osp
import platform
import sys
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config

# tools/ is not a package: the shared helpers live in the sibling benchmark_model.py.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark_model as bm  # noqa: E402

from mroi_plugin.utils import register_all_modules  # noqa: E402
from mroi_plugin.utils.config_rois import set_num_rois, to_feature_rois  # noqa: E402

DEFAULT_CONFIGS = (bm.DEFAULT_CONFIG, bm.DEFAULT_CLIFF_CONFIG)
DEFAULT_NUM_ROIS = (1, 2, 3, 4, 5)
DEFAULT_BATCH_SIZE = 4
# (iters, warmup) per device: CPU steps of ResNet-50 take seconds, CUDA ones milliseconds.
DEFAULT_ITERS = dict(cpu=(5, 1), cuda=(50, 10))
# Multi-RoI paper, Table 4 "Inferring speed" (fps, RTX 3090) by number of RoIs; the 1-RoI
# column is the baseline the issue calls CLIFF (76.3 -> 55.6 fps, ratio 0.73).
PAPER_FPS = {1: 76.3, 2: 63.5, 3: 61.7, 4: 57.3, 5: 55.6}
CLIFF_LABEL = 'CLIFF'
REGIONS = ('full', 'backbone', 'rest')
MODES = ('crop', 'feature')
MIB = 2**20
LABEL_WIDTH = 21


class Variant(NamedTuple):
    """One model timed: its label, config, RoIs per person, mode and context crop size."""
    label: str
    cfg: Config
    num_rois: int
    mode: str = 'crop'
    context_size: Optional[Tuple[int, int]] = None


def parse_size(text: str) -> Tuple[int, int]:
    """``'HxW'`` -> ``(H, W)``, positive integers."""
    try:
        height, width = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'context size {text!r}: expected HxW, e.g. 256x192') from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f'context size {text!r}: sides must be >= 1')
    return height, width


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Inference people/s of CLIFF vs Multi-RoI HMR with N RoIs (Table 4 form)')
    parser.add_argument('--configs', nargs='+', default=list(DEFAULT_CONFIGS),
                        metavar='CONFIG',
                        help='MROI_CONFIG [CLIFF_CONFIG]: the Multi-RoI config whose num_rois '
                        'is overridden, and the CLIFF baseline (1 RoI; leave it out to skip '
                        'it) (default: %(default)s)')
    parser.add_argument('--num-rois', type=int, nargs='+', default=list(DEFAULT_NUM_ROIS),
                        help='RoI counts of the Multi-RoI variants (default: %(default)s)')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=['crop'],
                        help='Multi-RoI modes: crop (a backbone pass per RoI crop) and/or '
                        'feature (one pass per person over a context crop) (default: crop)')
    parser.add_argument('--context-sizes', nargs='+', type=parse_size, default=None,
                        metavar='HxW',
                        help='context crop sizes of the feature mode (default: the crop size, '
                        "CLIFF's cost per person)")
    parser.add_argument('--out-json', default=None, metavar='FILE',
                        help='write {variant, mode, num_rois, context_size, people_per_s, '
                        'ratio_vs_cliff} records to FILE')
    parser.add_argument('--batch-size', type=int, default=DEFAULT_BATCH_SIZE,
                        help='people per predict call (default: %(default)s)')
    parser.add_argument('--iters', type=int, default=None,
                        help='timed iterations, medians reported (default: '
                        f'{DEFAULT_ITERS["cpu"][0]} on CPU, {DEFAULT_ITERS["cuda"][0]} on CUDA)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed iterations first (default: '
                        f'{DEFAULT_ITERS["cpu"][1]} on CPU, {DEFAULT_ITERS["cuda"][1]} on CUDA)')
    bm.add_device_args(parser)
    args = parser.parse_args(argv)
    if len(args.configs) > 2:
        parser.error('--configs takes MROI_CONFIG and optionally CLIFF_CONFIG')
    if min(args.num_rois) < 1 or len(set(args.num_rois)) != len(args.num_rois):
        parser.error('--num-rois: distinct values >= 1')
    for name in ('batch_size', 'iters'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup is not None and args.warmup < 0:
        parser.error('--warmup must be >= 0')
    bm.check_device_args(parser, args)
    iters, warmup = DEFAULT_ITERS[args.device]
    args.iters = iters if args.iters is None else args.iters
    args.warmup = warmup if args.warmup is None else args.warmup
    return args


def build_variants(configs: Sequence[str], num_rois: Sequence[int],
                   modes: Sequence[str] = ('crop', ),
                   context_sizes: Optional[Sequence[Tuple[int, int]]] = None,
                   crop_size: Optional[Sequence[int]] = None) -> List[Variant]:
    """CLIFF (if a second config is given) first, then Multi-RoI with each RoI count: crop mode
    (``'Multi-RoI N=k'``) and/or feature mode at each context size (``'Feature N=k HxW'``;
    default context: ``crop_size``, else the config's crop size)."""
    mroi_cfg = bm.load_config(configs[0])
    variants = []
    if len(configs) > 1:
        variants.append(Variant(CLIFF_LABEL, bm.load_config(configs[1]), 1, 'cliff'))
    if not context_sizes:
        context_sizes = [tuple(crop_size) if crop_size else bm.config_crop_size(mroi_cfg)]
    for count in sorted(num_rois):
        cfg = set_num_rois(copy.deepcopy(mroi_cfg), count)
        if 'crop' in modes:
            variants.append(Variant(f'Multi-RoI N={count}', cfg, count))
        if 'feature' in modes:
            for size in context_sizes:
                size = tuple(int(s) for s in size)
                variants.append(Variant(f'Feature N={count} {size[0]}x{size[1]}',
                                        to_feature_rois(copy.deepcopy(cfg), size), count,
                                        'feature', size))
    return variants


def device_line(device: torch.device) -> str:
    """The processor or GPU the numbers were measured on, and the torch build."""
    if device.type == 'cuda':
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:
            with open('/proc/cpuinfo') as f:
                name = next(line.split(':', 1)[1].strip() for line in f
                            if line.startswith('model name'))
        except (OSError, StopIteration):
            pass
    return (f'device: {device.type} ({name}), torch {torch.__version__}, '
            f'{torch.get_num_threads()} torch thread(s)')


def tensor_bytes(tensors: Sequence[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def cpu_peak_bytes(step: Callable[[], None]) -> Optional[int]:
    """Peak of torch's CPU allocations during ``step`` above the state before it.

    The running sum of every allocation and free ``torch.profiler`` records with
    ``profile_memory=True``, in time order; None where this torch's profiler does not expose
    its event tree.
    """
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                profile_memory=True) as prof:
        step()
    try:
        roots = prof.profiler.kineto_results.experimental_event_tree()
    except AttributeError:
        return None
    allocations, stack = [], list(roots)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if str(node.tag).endswith('Allocation') and node.extra_fields.device.type == 'cpu':
            allocations.append((node.start_time_ns, node.extra_fields.alloc_size))
    allocations.sort()
    running = itertools.accumulate(size for _, size in allocations)
    return max(0, max(running, default=0))


def peak_bytes(step: Callable[[], None], device: torch.device) -> Optional[int]:
    """Peak bytes ``step`` allocates on ``device`` above what is allocated before it."""
    if device.type != 'cuda':
        return cpu_peak_bytes(step)
    bm.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    bm.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


class _Setup(NamedTuple):
    variant: Variant
    model: nn.Module
    inputs: torch.Tensor
    data_samples: list
    backbone_outputs: tuple
    crop_size: tuple


def prepare(variant: Variant, args: argparse.Namespace, body_model_dir: str,
            device: torch.device) -> _Setup:
    """Build the model in eval mode, its batch and its recorded backbone outputs."""
    torch.manual_seed(args.seed)
    crop_size = tuple(args.crop_size) if args.crop_size else bm.config_crop_size(variant.cfg)
    model = bm.build_model(variant.cfg, body_model_dir, device).eval()
    inputs, data_samples = bm.make_batch(model, args.batch_size, variant.num_rois, crop_size,
                                         device, args.seed, variant.context_size)
    with torch.no_grad():
        outputs = model.backbone(inputs)
    outputs = (outputs, ) if isinstance(outputs, torch.Tensor) else tuple(outputs)
    return _Setup(variant, model, inputs, data_samples, outputs, crop_size)


def region_steps(setup: _Setup) -> Dict[str, Callable[[], None]]:
    """The three timed regions of one variant (see the module docstring)."""
    model, inputs, samples = setup.model, setup.inputs, setup.data_samples

    @torch.no_grad()
    def full() -> None:
        model(inputs, samples, mode='predict')

    @torch.no_grad()
    def backbone() -> None:
        model.backbone(inputs)

    @torch.no_grad()
    def rest() -> None:
        with bm.replayed_backbone(model, inputs, setup.backbone_outputs):
            model(inputs, samples, mode='predict')

    return dict(full=full, backbone=backbone, rest=rest)


def format_table(results: Dict[str, Dict[str, object]], reference: str) -> List[str]:
    """The report's table, one row per variant (``reference`` has ratio 1)."""
    header = (f'{"variant":<{LABEL_WIDTH}} {"N":>2} {"crops":>5} {"people/s":>10} {"ratio":>6} '
              f'{"paper":>6} {"paper fps":>9} {"full ms":>9} {"backbone":>9} {"rest":>8} '
              f'{"outside bb":>10} {"peak MiB":>9} {"resident":>9}')
    lines = [header, '-' * len(header)]
    for label, r in results.items():
        paper_ratio, paper_fps, peak = r['paper_ratio'], r['paper_fps'], r['peak_mib']
        lines.append(
            f'{label:<{LABEL_WIDTH}} {r["num_rois"]:>2} {r["crops"]:>5} {r["people_per_s"]:>10.3f} '
            f'{r["ratio"]:>6.3f} '
            f'{"-" if paper_ratio is None else f"{paper_ratio:.3f}":>6} '
            f'{"-" if paper_fps is None else f"{paper_fps:.1f}":>9} '
            f'{r["ms"]["full"]:>9.1f} {r["ms"]["backbone"]:>9.1f} {r["ms"]["rest"]:>8.1f} '
            f'{r["share"]:>9.1f}% {"n/a" if peak is None else f"{peak:.1f}":>9} '
            f'{r["resident_mib"]:>9.1f}')
    lines.append(f'ratio: people/s relative to {reference} in this run; paper: the same ratio '
                 'from Table 4 (RTX 3090), paper fps: Table 4 (CLIFF: its 1-RoI column); ms: '
                 'medians per batch; outside bb: rest / (backbone + rest); peak MiB: peak '
                 'allocated by one predict call above the resident model parameters/buffers '
                 'and input crops (resident MiB)')
    return lines


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, object]]:
    """Run the benchmark and print the report; returns the numbers per variant label."""
    args = parse_args(argv)
    register_all_modules()
    device = torch.device(args.device)
    bm.set_threads(args.threads, device)
    variants = build_variants(args.configs, args.num_rois, args.modes, args.context_sizes,
                              args.crop_size)
    reference = variants[0].label
    print(f'before: {bm.load_line()}')
    print(device_line(device))
    from mroi_plugin.synthetic import temporary_standin_dir
    with temporary_standin_dir() as body_model_dir:
        setups = [prepare(variant, args, body_model_dir, device) for variant in variants]
    for setup in setups:
        v = setup.variant
        images = (f'{setup.inputs.shape[0]} crops {setup.crop_size[0]}x{setup.crop_size[1]}'
                  if v.context_size is None else
                  f'{setup.inputs.shape[0]} context crops {v.context_size[0]}x'
                  f'{v.context_size[1]} (RoIs sampled as {setup.crop_size[0]}x'
                  f'{setup.crop_size[1]} crops)')
        source = v.cfg.filename + (' in feature mode' if v.mode == 'feature' else '')
        print(f'{v.label}: {v.cfg.model.type} ({source}), backbone '
              f'{v.cfg.model.backbone.type}, B={args.batch_size} people x N={v.num_rois}: '
              f'{images}')
    print(f'timing: {args.iters} iterations (+{args.warmup} warm-up), variants interleaved, '
          f'clock: {"wall" if device.type == "cuda" else "CPU time of the process"}')

    steps = [region_steps(setup) for setup in setups]
    times = [{region: [] for region in REGIONS} for _ in setups]
    for iteration in range(args.warmup + args.iters):
        # Rotate the variants and, within each, the regions: no variant always runs first.
        shift = iteration % len(setups)
        regions = REGIONS[iteration % len(REGIONS):] + REGIONS[:iteration % len(REGIONS)]
        for index in list(range(len(setups)))[shift:] + list(range(len(setups)))[:shift]:
            for region in regions:
                seconds = bm.timed(steps[index][region], device)
                if iteration >= args.warmup:
                    times[index][region].append(seconds)

    results: Dict[str, Dict[str, object]] = {}
    for setup, step, timing in zip(setups, steps, times):
        v = setup.variant
        ms = {region: float(np.median(values)) * bm.MS_PER_S for region, values in timing.items()}
        peak = peak_bytes(step['full'], device)
        resident = tensor_bytes(list(setup.model.parameters()) + list(setup.model.buffers())
                                + [setup.inputs])
        # Table 4 times crop-level RoIs only.
        paper_fps = None if v.mode == 'feature' else PAPER_FPS.get(v.num_rois)
        results[v.label] = dict(
            num_rois=v.num_rois, mode=v.mode, context_size=v.context_size,
            crops=int(setup.inputs.shape[0]), ms=ms,
            people_per_s=args.batch_size / ms['full'] * bm.MS_PER_S,
            share=ms['rest'] / (ms['backbone'] + ms['rest']) * 100,
            split_check=(ms['backbone'] + ms['rest']) / ms['full'],
            peak_mib=None if peak is None else peak / MIB, resident_mib=resident / MIB,
            paper_fps=paper_fps)
    reference_rate = results[reference]['people_per_s']
    reference_fps = PAPER_FPS.get(results[reference]['num_rois'])
    for r in results.values():
        r['ratio'] = r['people_per_s'] / reference_rate
        r['paper_ratio'] = (None if r['paper_fps'] is None or reference_fps is None
                            else r['paper_fps'] / reference_fps)

    print()
    print('\n'.join(format_table(results, reference)))
    print('check (backbone + rest) / full: ' + ', '.join(
        f'{label} {r["split_check"]:.2f}' for label, r in results.items()))
    print(f'summary: people/s relative to {reference} (paper): ' + '; '.join(
        f'{label} {r["ratio"]:.2f}'
        + ('' if r['paper_ratio'] is None else f' ({r["paper_ratio"]:.2f})')
        for label, r in results.items() if label != reference))
    print(f'after: {bm.load_line()}')
    if args.out_json:
        records = [dict(variant=label, mode=r['mode'], num_rois=r['num_rois'],
                        context_size=None if r['context_size'] is None else list(r['context_size']),
                        people_per_s=r['people_per_s'],
                        ratio_vs_cliff=r['ratio'] if reference == CLIFF_LABEL else None)
                   for label, r in results.items()]
        with open(args.out_json, 'w') as f:
            json.dump(records, f, indent=1)
        print(f'wrote {len(records)} records to {args.out_json}')
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
