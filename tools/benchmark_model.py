"""Benchmark a train step: time in the backbone vs everything after it.

Example::

    python tools/benchmark_model.py                          # mroi_r50, N=5, and CLIFF
    python tools/benchmark_model.py configs/mroi/mroi_r50.py --batch-size 4 --iters 5
    python tools/benchmark_model.py --device cuda            # the config's batch size

Method. The model is built from the config (backbone ``init_cfg`` dropped: no checkpoint is
loaded, timings do not depend on weights) with the licence-free stand-in body model written
to a temporary directory. One batch of ``B`` people is made once: every person is posed and
shaped at random with that body model, placed in front of a 640x480 pinhole camera, and given
exactly consistent targets (3D keypoints, their projections, SMPL parameters, a box around
the keypoints); the real ``MultiRoICrop(N) -> PackHMRInputs`` pipeline and the model's data
preprocessor turn it into ``(B*N, 3, H, W)`` crops and data samples. Then, every iteration
(so all three see the same machine load; the order rotates between iterations), three regions
are timed. On CPU the clock is the CPU time of the process (``time.process_time``) with one
torch thread by default (``--threads``): other processes sharing the machine then neither
stretch the numbers nor stall a multi-threaded region waiting for a descheduled thread, and
on an idle machine it equals the wall time. On CUDA it is the wall clock
(``time.perf_counter``) with ``torch.cuda.synchronize`` before and after each region.

- **backbone**: ``model.backbone(inputs)`` forward + backward (a fixed random gradient on its
  outputs);
- **rest**: the model's full ``loss`` forward + backward with the backbone *replaced by its
  recorded outputs* (leaf tensors that require grad), so exactly the code after the backbone
  runs: pooling, neck (RoI-aware fusion), heads, SMPL, camera and projection, every loss,
  ``parse_losses`` and their backward down to the backbone features;
- **full**: the real step, ``loss`` forward + backward through everything.

The share outside the backbone is ``rest / (backbone + rest)`` (medians over ``--iters`` after
``--warmup`` untimed iterations); ``(backbone + rest) / full`` is printed as a check that the
split adds up, and ``1 - backbone / full`` as the same share measured by subtraction. On CPU
the full step can cost ~10 % more than backbone + rest: its higher peak memory makes glibc
hand large freed blocks back to the kernel and fault them in again every step (tens of
thousands of minor page faults, counted as system CPU time), which belongs to neither part;
the subtraction share then overstates the rest, the direct share does not. The
optimiser update (Adam over all parameters) is timed on its own and counted in neither part.
The forward time of each module after the backbone (forward hooks) and the top operators of
one ``rest`` step (``torch.profiler``, forward + backward) show what dominates the rest.

The same is printed for CLIFF (``--cliff-config``, 1 RoI) with the same number of people.
PASS/FAIL compares each share with ``--target`` percent (the
project's target: at most 5 % outside the backbone at N = 5).
"""
import argparse
import os
import os.path as osp
import sys
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mroi_plugin.geometry import backproject_pixel, default_intrinsics, perspective_projection
from mroi_plugin.registry import MODELS, TRANSFORMS
from mroi_plugin.utils import register_all_modules
from mroi_plugin.utils.config_rois import apply_num_rois

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/mroi/mroi_r50.py'
DEFAULT_CLIFF_CONFIG = 'configs/cliff/cliff_r50.py'
# The project's speed target: at most this share (%) of a train step outside the
# backbone with 5 RoIs.
TARGET_SHARE_PERCENT = 5.0
DEFAULT_CPU_BATCH_SIZE = 2
DEFAULT_CPU_THREADS = 1
DEFAULT_ITERS = 5
DEFAULT_WARMUP = 1
DEFAULT_PROFILE_TOP = 10
DEFAULT_CROP_SIZE = (256, 192)
CROP_TRANSFORM = 'MultiRoICrop'
CONTEXT_TRANSFORM = 'MultiRoIContextCrop'

# The synthetic people: image size (W, H) of CLIFF's default camera, pelvis depth range
# (metres), where the pelvis projects (fraction of the image), shape and pose spread.
IMAGE_SIZE = (640, 480)
DEPTH_RANGE = (4.0, 8.0)
PELVIS_IMAGE_RANGE = (0.35, 0.65)
BETAS_STD = 0.5
BODY_POSE_STD = 0.2  # radians, per axis-angle component
ORIENT_STD = 0.1  # radians, around upright
# SMPL's rest pose has y up; the camera's y points down: a half turn about x stands it upright.
UPRIGHT_ORIENT = (np.pi, 0.0, 0.0)
NUM_BETAS = 10
NUM_BODY_JOINTS = 23
MS_PER_S = 1e3


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Share of a train step spent outside the backbone (Multi-RoI HMR, CLIFF)')
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG,
                        help='model config (default: %(default)s)')
    parser.add_argument('--num-rois', type=int, default=5, help='RoIs per person for CONFIG')
    parser.add_argument('--cliff-config', default=DEFAULT_CLIFF_CONFIG,
                        help="CLIFF config timed with 1 RoI for comparison; 'none' skips it")
    parser.add_argument('--batch-size', type=int, default=None,
                        help=f'people per step (default: {DEFAULT_CPU_BATCH_SIZE} on CPU, the '
                        "config's train batch size on CUDA)")
    parser.add_argument('--iters', type=int, default=DEFAULT_ITERS,
                        help='timed iterations; medians are reported')
    parser.add_argument('--warmup', type=int, default=DEFAULT_WARMUP,
                        help='untimed iterations first')
    parser.add_argument('--target', type=float, default=TARGET_SHARE_PERCENT,
                        help='PASS threshold: largest share (%%) outside the backbone')
    parser.add_argument('--profile-top', type=int, default=DEFAULT_PROFILE_TOP,
                        help='operators listed from torch.profiler for the rest (0: none)')
    add_device_args(parser)
    args = parser.parse_args(argv)
    for name in ('num_rois', 'iters'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.warmup < 0 or args.profile_top < 0:
        parser.error('--warmup and --profile-top must be >= 0')
    check_device_args(parser, args)
    return args


def add_device_args(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--threads``, ``--crop-size`` and ``--seed``, shared by the benchmarks."""
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help=f'torch CPU threads (default: {DEFAULT_CPU_THREADS} with --device '
                        "cpu, torch's default with cuda)")
    parser.add_argument('--crop-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help="crop size (default: the config's MultiRoICrop crop_size)")
    parser.add_argument('--seed', type=int, default=0, help='seed of weights and data')


def check_device_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--threads`` below 1 and ``--device cuda`` without CUDA."""
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: torch.cuda.is_available() is False on this machine; use '
                     '--device cpu or a CUDA build of torch.')


def load_line() -> str:
    """Machine load as ``uptime`` shows it, and the CPUs this process may use."""
    try:
        load = ', '.join(f'{v:.2f}' for v in os.getloadavg())
    except OSError:
        load = 'n/a'
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return f'load average (1/5/15 min): {load}; CPUs: {cpus}'


def load_config(path: str) -> Config:
    """Read a config, relative to the working directory or the repository root.

    Its top-level ``num_rois`` reaches every crop step, as in the other tools.
    """
    candidates = [path] if osp.isabs(path) else [path, osp.join(REPO_ROOT, path)]
    for candidate in candidates:
        if osp.isfile(candidate):
            return apply_num_rois(Config.fromfile(candidate))
    raise FileNotFoundError(f'benchmark_model: config not found: {path}')


def config_crop_size(cfg: Config) -> Tuple[int, int]:
    """``(crop_h, crop_w)`` of the config's training ``MultiRoICrop`` (default 256x192)."""
    for step in cfg.get('train_pipeline') or []:
        if step.get('type') == CROP_TRANSFORM:
            return tuple(step.get('crop_size', DEFAULT_CROP_SIZE))
    return DEFAULT_CROP_SIZE


def build_model(cfg: Config, body_model_dir: str, device: torch.device) -> nn.Module:
    """The config's model with the stand-in body model and no checkpoint, in train mode."""
    model_cfg = cfg.model.copy()
    model_cfg.body_model = dict(model_cfg.body_model, model_path=body_model_dir)
    model_cfg.backbone = dict(model_cfg.backbone)
    model_cfg.backbone.pop('init_cfg', None)
    mean_params = model_cfg.head.get('mean_params')
    if mean_params is not None and not osp.exists(mean_params):
        # Start values do not change the timing; the file may not be generated yet.
        model_cfg.head = dict(model_cfg.head, mean_params=None)
    model_cfg.pop('init_cfg', None)
    model = MODELS.build(model_cfg).to(device)
    return model.train()


@torch.no_grad()
def make_batch(model: nn.Module, num_people: int, num_rois: int, crop_size: Sequence[int],
               device: torch.device, seed: int,
               context_size: Optional[Sequence[int]] = None) -> Tuple[torch.Tensor, list]:
    """Random people with exactly consistent targets, through the real crop pipeline.

    ``context_size`` ``(h, w)`` makes feature-level RoIs: ``MultiRoIContextCrop`` instead of
    ``MultiRoICrop``, one context crop per person (docs/feature_rois.md).

    Returns:
        tuple: ``inputs (B*N, 3, crop_h, crop_w)`` normalised float crops (``(B, 3, h, w)``
        context crops with ``context_size``) on ``device`` and ``B`` data samples (the model's
        data preprocessor output).
    """
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    focal, principal = default_intrinsics(width, height)
    betas = np.clip(rng.normal(0.0, BETAS_STD, (num_people, NUM_BETAS)), -2.0, 2.0)
    body_pose = rng.normal(0.0, BODY_POSE_STD, (num_people, NUM_BODY_JOINTS, 3))
    orient = np.asarray(UPRIGHT_ORIENT) + rng.normal(0.0, ORIENT_STD, (num_people, 3))
    depth = rng.uniform(*DEPTH_RANGE, num_people)
    pelvis_px = rng.uniform(*PELVIS_IMAGE_RANGE, (num_people, 2)) * (width, height)
    transl = backproject_pixel(pelvis_px, depth, focal, principal)
    as_tensor = dict(dtype=torch.float32, device=device)
    body_model = model.body_model
    body = body_model(betas=torch.as_tensor(betas, **as_tensor),
                      body_pose=torch.as_tensor(body_pose, **as_tensor),
                      global_orient=torch.as_tensor(orient, **as_tensor),
                      transl=torch.as_tensor(transl, **as_tensor))
    keypoints3d = body['keypoints'].double().cpu().numpy()  # (B, K, 3) camera frame, metres
    keypoints2d = perspective_projection(
        keypoints3d, np.zeros((num_people, 3)), np.full(num_people, focal),
        np.broadcast_to(principal, (num_people, 2)))
    crop_h, crop_w = crop_size
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    crop = dict(type=CROP_TRANSFORM, num_rois=num_rois, crop_size=(crop_h, crop_w))
    if context_size is not None:
        crop.update(type=CONTEXT_TRANSFORM, context_size=tuple(context_size))
    # The person box becomes the RoI as in the datasets' pipelines: padding, then the crop.
    pipeline = [TRANSFORMS.build(dict(type='GetBBoxCenterScale')), TRANSFORMS.build(crop),
                TRANSFORMS.build(dict(type='PackHMRInputs'))]
    packed = []
    for index in range(num_people):
        low, high = keypoints2d[index].min(0), keypoints2d[index].max(0)
        ones = np.ones((keypoints3d.shape[1], 1))
        results = dict(
            img=image,
            img_shape=(height, width),
            bbox_xyxy=np.concatenate([low, high]),
            focal_length=focal,
            principal_point=principal.astype(np.float32),
            keypoints2d=np.concatenate([keypoints2d[index], ones], 1).astype(np.float32),
            keypoints3d=np.concatenate([keypoints3d[index], ones], 1).astype(np.float32),
            smpl_global_orient=orient[index].astype(np.float32),
            smpl_body_pose=body_pose[index].astype(np.float32),
            smpl_betas=betas[index].astype(np.float32),
            smpl_transl=transl[index].astype(np.float32),
            has_keypoints2d=1.0, has_keypoints3d=1.0, has_smpl=1.0, has_transl=1.0,
            gender='neutral', sample_idx=index, dataset_name='benchmark')
        for transform in pipeline:
            results = transform(results)
        packed.append(results)
    data = model.data_preprocessor(pseudo_collate(packed), training=True)
    return data['inputs'], data['data_samples']


class _ReplayBackbone(nn.Module):
    """Stands in for the backbone: returns recorded outputs (leaves that require grad)."""

    def __init__(self, outputs: Tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.outputs = outputs

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        for output in self.outputs:
            output.grad = None
        return self.outputs


@contextmanager
def replayed_backbone(model: nn.Module, inputs: torch.Tensor,
                      outputs: Optional[Sequence[torch.Tensor]] = None) -> Iterator[None]:
    """Swap ``model.backbone`` for its recorded outputs on ``inputs`` for the duration.

    Args:
        model (nn.Module): The estimator; its ``backbone`` is restored on exit.
        inputs (Tensor): ``(B*N, 3, H, W)`` crops the backbone is replayed for.
        outputs (Sequence[Tensor], optional): The backbone's outputs on ``inputs``, recorded
            earlier (saves a backbone forward per call); default: recorded here.
    """
    if outputs is None:
        with torch.no_grad():
            outputs = model.backbone(inputs)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs, )
    leaves = tuple(out.detach().requires_grad_(True) for out in outputs)
    backbone = model.backbone
    model.backbone = _ReplayBackbone(leaves)
    try:
        yield
    finally:
        model.backbone = backbone


def set_threads(threads: Optional[int], device: torch.device) -> None:
    """Torch CPU threads: ``threads``, else 1 on CPU (see the module docstring), else as is."""
    if threads is None and device.type == 'cpu':
        threads = DEFAULT_CPU_THREADS
    if threads is not None:
        torch.set_num_threads(threads)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> Callable[[], float]:
    """CPU time of the process on CPU, wall clock on CUDA (see the module docstring)."""
    return time.perf_counter if device.type == 'cuda' else time.process_time


def timed(step: Callable[[], None], device: torch.device) -> float:
    """Seconds of one call of ``step``, synchronised on CUDA."""
    now = clock(device)
    synchronize(device)
    start = now()
    step()
    synchronize(device)
    return now() - start


def loss_step(model: nn.Module, inputs: torch.Tensor, data_samples: list) -> None:
    """Forward ``mode='loss'``, sum as mmengine does, backward."""
    model.zero_grad(set_to_none=True)
    loss, _ = model.parse_losses(model(inputs, data_samples, mode='loss'))
    loss.backward()


def backbone_step(model: nn.Module, inputs: torch.Tensor,
                  grads: Sequence[torch.Tensor]) -> None:
    """Backbone forward + backward with the given output gradients."""
    model.zero_grad(set_to_none=True)
    outputs = model.backbone(inputs)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs, )
    torch.autograd.backward(list(outputs), list(grads))


def module_forward_times(model: nn.Module, step: Callable[[], None], device: torch.device,
                         names: Sequence[str]) -> Tuple[float, Dict[str, float], Dict[str, int]]:
    """Seconds of one ``step`` and of the forward of each named child module within it.

    Returns:
        tuple: total seconds, ``{name: seconds}``, ``{name: number of calls}``.
    """
    now = clock(device)
    spent = {name: 0.0 for name in names}
    calls = {name: 0 for name in names}
    starts: Dict[str, List[float]] = {name: [] for name in names}
    handles = []
    for name in names:
        module = getattr(model, name)

        def pre_hook(_module, _args, name=name):
            synchronize(device)
            starts[name].append(now())

        def post_hook(_module, _args, _output, name=name):
            synchronize(device)
            spent[name] += now() - starts[name].pop()
            calls[name] += 1

        handles += [module.register_forward_pre_hook(pre_hook),
                    module.register_forward_hook(post_hook)]
    try:
        total = timed(step, device)
    finally:
        for handle in handles:
            handle.remove()
    return total, spent, calls


def profile_table(step: Callable[[], None], device: torch.device, top: int) -> str:
    """``torch.profiler`` table of the ``top`` operators of one ``step`` by self time."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    sort_by = 'self_cpu_time_total'
    if device.type == 'cuda':
        activities.append(torch.profiler.ProfilerActivity.CUDA)
        sort_by = 'self_cuda_time_total'
    with torch.profiler.profile(activities=activities) as prof:
        step()
        synchronize(device)
    return prof.key_averages().table(sort_by=sort_by, row_limit=top, max_name_column_width=48)


def benchmark_model(label: str, cfg: Config, num_rois: int, args: argparse.Namespace,
                    body_model_dir: str, device: torch.device, num_people: int
                    ) -> Dict[str, object]:
    """Time backbone, rest and full step of one model; print and return the numbers."""
    torch.manual_seed(args.seed)
    crop_size = tuple(args.crop_size) if args.crop_size else config_crop_size(cfg)
    model = build_model(cfg, body_model_dir, device)
    inputs, data_samples = make_batch(model, num_people, num_rois, crop_size, device,
                                      args.seed)
    with torch.no_grad():
        outputs = model.backbone(inputs)
    outputs = (outputs, ) if isinstance(outputs, torch.Tensor) else outputs
    grads = [torch.randn_like(out) for out in outputs]
    optimizer = torch.optim.Adam(model.parameters())
    print(f'\n== {label}: {cfg.model.type} ({cfg.filename}), backbone '
          f'{cfg.model.backbone.type}: B={num_people} people x N={num_rois} RoIs = '
          f'{inputs.shape[0]} crops {crop_size[0]}x{crop_size[1]}, {device.type}, '
          f'{torch.get_num_threads()} thread(s), clock: '
          f'{"wall" if device.type == "cuda" else "CPU time of the process"}')

    times: Dict[str, List[float]] = dict(backbone=[], rest=[], full=[], optimizer=[])
    def time_backbone(sample: Dict[str, float]) -> None:
        sample['backbone'] = timed(lambda: backbone_step(model, inputs, grads), device)

    def time_rest(sample: Dict[str, float]) -> None:
        with replayed_backbone(model, inputs):
            sample['rest'] = timed(lambda: loss_step(model, inputs, data_samples), device)

    def time_full(sample: Dict[str, float]) -> None:
        sample['full'] = timed(lambda: loss_step(model, inputs, data_samples), device)
        sample['optimizer'] = timed(optimizer.step, device)  # needs the full step's gradients

    regions = [time_backbone, time_rest, time_full]
    for iteration in range(args.warmup + args.iters):
        sample: Dict[str, float] = {}
        # Rotate the order so that no region always runs first (cold caches, allocator state).
        shift = iteration % len(regions)
        for region in regions[shift:] + regions[:shift]:
            region(sample)
        if iteration >= args.warmup:
            for key, value in sample.items():
                times[key].append(value)
    ms = {key: float(np.median(values)) * MS_PER_S for key, values in times.items()}
    share = ms['rest'] / (ms['backbone'] + ms['rest']) * 100
    share_by_subtraction = (1 - ms['backbone'] / ms['full']) * 100
    passed = share <= args.target
    print(f'  median of {args.iters} iterations (+{args.warmup} warm-up), ms:')
    print(f'    backbone fwd+bwd                          {ms["backbone"]:10.1f}')
    print(f'    rest fwd+bwd (backbone outputs replayed)  {ms["rest"]:10.1f}')
    print(f'    full step fwd+bwd                         {ms["full"]:10.1f}   '
          f'(backbone + rest) / full = {(ms["backbone"] + ms["rest"]) / ms["full"]:.2f}')
    print(f'    Adam update (in neither part)             {ms["optimizer"]:10.1f}')
    backbone_params = sum(p.numel() for p in model.backbone.parameters())
    rest_params = sum(p.numel() for p in model.parameters()) - backbone_params
    print(f'    parameters: backbone {backbone_params / 1e6:.1f}M, rest {rest_params / 1e6:.1f}M '
          '(the Adam update scales with them)')
    print(f'  share outside the backbone: {share:.1f}% (rest / (backbone + rest)); by '
          f'subtraction 1 - backbone / full: {share_by_subtraction:.1f}%')
    print(f'  target <= {args.target:g}% outside the backbone: {"PASS" if passed else "FAIL"}')

    names = [name for name, child in model.named_children()
             if name not in ('backbone', 'data_preprocessor') and child is not None]
    with replayed_backbone(model, inputs):

        def forward_only() -> None:
            with torch.no_grad():
                model.parse_losses(model(inputs, data_samples, mode='loss'))

        forward_only()  # the first no-grad run allocates differently from the timed ones
        rest_forward, spent, calls = module_forward_times(model, forward_only, device, names)
        rest_forward *= MS_PER_S
        parts = [f'{name}{f" (x{calls[name]})" if calls[name] > 1 else ""} '
                 f'{spent[name] * MS_PER_S:.1f}' for name in names if calls[name]]
        other = rest_forward - sum(spent.values()) * MS_PER_S
        print(f'  rest forward {rest_forward:.1f} ms (one no-grad run), by module: '
              + ', '.join(parts) + f', other (camera, projection, stacking) {other:.1f}; '
              f'rest backward ~{max(ms["rest"] - rest_forward, 0.0):.1f} ms')
        if args.profile_top:
            print(f'  top {args.profile_top} operators of one rest step (fwd+bwd):')
            print(profile_table(lambda: loss_step(model, inputs, data_samples), device,
                                args.profile_top))
    return dict(ms=ms, share=share, share_by_subtraction=share_by_subtraction, passed=passed,
                params=dict(backbone=backbone_params, rest=rest_params),
                module_forward_ms={n: spent[n] * MS_PER_S for n in names if calls[n]},
                num_people=num_people, num_rois=num_rois, crop_size=crop_size)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, object]]:
    """Run the benchmark(s) and print the report; returns the numbers per model."""
    args = parse_args(argv)
    register_all_modules()
    device = torch.device(args.device)
    set_threads(args.threads, device)
    cfg = load_config(args.config)
    num_people = args.batch_size
    if num_people is None:
        num_people = (DEFAULT_CPU_BATCH_SIZE if device.type == 'cpu' else
                      int(cfg.get('train_dataloader', {}).get('batch_size',
                                                                DEFAULT_CPU_BATCH_SIZE)))
    runs = [('Multi-RoI', cfg, args.num_rois)]
    if args.cliff_config.lower() != 'none':
        runs.append(('CLIFF', load_config(args.cliff_config), 1))
    print(f'before: {load_line()}')
    results = {}
    from mroi_plugin.synthetic import temporary_standin_dir
    with temporary_standin_dir() as body_model_dir:
        for label, run_cfg, num_rois in runs:
            results[label] = benchmark_model(label, run_cfg, num_rois, args, body_model_dir,
                                             device, num_people)
    print('\nsummary: share of the train step outside the backbone (target <= '
          f'{args.target:g}%): ' + '; '.join(
              f'{label} N={r["num_rois"]}: {r["share"]:.1f}% '
              f'{"PASS" if r["passed"] else "FAIL"}' for label, r in results.items()))
    print(f'after: {load_line()}')
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
