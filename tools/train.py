"""Train an mroi model: ``python tools/train.py CONFIG [options]``.

Same conventions as mmdetection/mmpose ``tools/train.py``; distributed runs go
through ``tools/dist_train.sh`` (torchrun) or ``tools/slurm_train.sh``, on GPU
(NCCL) or CPU (gloo).
"""
import argparse
import sys
from typing import Optional, Tuple

from mmengine.config import Config

from mroi_plugin.apis import add_launch_args, build_runner, default_work_dir, load_config
from mroi_plugin.apis.resume import (
    CheckpointSummary,
    check_amp_device,
    check_resume_compatible,
    prepare_resume,
)
from mroi_plugin.utils import (
    destroy_distributed,
    register_all_modules,
    report_collective_failures,
)
from mroi_plugin.utils.vis_options import enable_tensorboard


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a mesh recovery model')
    parser.add_argument(
        'config', help='train config file path, or mroi_plugin::REL for a packaged config')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a value, from the '
        'latest checkpoint in the work dir (the file named by its last_checkpoint, '
        'looked up in this work dir even if the dir was copied or moved)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='start a new run in a work dir that already holds checkpoints, '
        'overwriting them (without it such a work dir is refused)')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also log losses, metrics and drawn validation samples to TensorBoard '
        '(needs the tensorboard package; docs/visualization.md)')
    add_launch_args(parser, 'train_cfg.max_epochs=2 optim_wrapper.optimizer.lr=1e-5')
    args = parser.parse_args()
    return args


def build_config(args: argparse.Namespace) -> Tuple[Config, Optional[CheckpointSummary]]:
    """Load the config, apply the command-line options and check the work dir.

    Nothing is built: a work dir whose checkpoints a new run would overwrite, a
    damaged checkpoint to resume from or ``--amp`` without a GPU fail here.

    Returns:
        tuple: The config and, when resuming, the checkpoint's summary for
        :func:`~mroi_plugin.apis.resume.check_resume_compatible`.
    """
    cfg = load_config(args)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    else:
        default_work_dir(cfg, args.config)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            pass
        elif optim_wrapper not in ('OptimWrapper', 'FiniteGradOptimWrapper'):
            raise ValueError(
                f'--amp needs optim_wrapper.type OptimWrapper, got {optim_wrapper}.')
        else:
            # GradScaler skips non-finite steps itself: the guard's options go.
            for key in ('nonfinite_grad', 'max_consecutive_skips'):
                cfg.optim_wrapper.pop(key, None)
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.tensorboard:
        enable_tensorboard(cfg)
    check_amp_device(cfg)
    resume = args.resume
    if resume is None and cfg.get('resume'):
        # ``resume = True`` in the config: mmengine's auto-resume, done the checked way.
        resume = 'auto' if cfg.get('load_from') is None else cfg.load_from
    summary = prepare_resume(cfg, resume, args.overwrite)
    return cfg, summary


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    try:
        cfg, resume_from = build_config(args)
    except ImportError as error:  # --tensorboard without the package
        sys.exit(f'error: {error}')
    runner = build_runner(cfg, args.launcher)
    try:
        # A timed-out collective or a lost peer: one message naming the rank, exit 1.
        with report_collective_failures(cfg):
            check_resume_compatible(runner, resume_from)
            runner.train()
    finally:
        destroy_distributed()


if __name__ == '__main__':
    main()
