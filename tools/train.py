"""Train an mroi model: ``python tools/train.py CONFIG [options]``.

Same conventions as mmdetection/mmpose ``tools/train.py``; distributed runs go
through ``tools/dist_train.sh`` (torchrun) or ``tools/slurm_train.sh``, on GPU
(NCCL) or CPU (gloo).
"""
import argparse
import os.path as osp

from mmengine.config import Config

from mroi_plugin.apis import add_launch_args, build_runner, default_work_dir, load_config
from mroi_plugin.utils import destroy_distributed, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a mesh recovery model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a value, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision training')
    add_launch_args(parser, 'train_cfg.max_epochs=2 optim_wrapper.optimizer.lr=1e-5')
    args = parser.parse_args()
    return args


def build_config(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line options to it."""
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
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    runner = build_runner(cfg, args.launcher)
    try:
        runner.train()
    finally:
        destroy_distributed()


if __name__ == '__main__':
    main()
