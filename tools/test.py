"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Same conventions as mmdetection/mmpose ``tools/test.py``: the config's
``test_dataloader``, ``test_evaluator`` (e.g. ``HMRMetric``) and ``test_cfg``
run through mmengine's ``Runner.test()``; ``--out`` also dumps every data
sample with its predictions (``pred_vertices``, ``pred_cam_full``, ...) to a
pickle with mmengine's ``DumpResults``. Distributed runs go through
``tools/dist_test.sh`` (torchrun), on GPU (NCCL) or CPU (gloo).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config
from mmengine.evaluator import DumpResults

from mroi_plugin.apis import add_launch_args, build_runner, default_work_dir, load_config
from mroi_plugin.utils import destroy_distributed, register_all_modules

# Checkpoints mmengine can read from somewhere other than the local disk.
_REMOTE_PREFIXES = ('http://', 'https://', 's3://', 'petrel://', 'open-mmlab://', 'torchvision://',
                    'modelzoo://', 'mmcls://', 'pavi://')
_TEST_KEYS = ('test_dataloader', 'test_evaluator', 'test_cfg')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a mesh recovery model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the dir to save logs and metrics (default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--out',
        type=str,
        help='dump the predictions of every sample to this pickle file (.pkl / .pickle) '
        'for offline evaluation')
    add_launch_args(
        parser, 'test_dataloader.batch_size=8 test_evaluator.outfile_prefix=work_dirs/pw3d')
    args = parser.parse_args()
    return args


def check_checkpoint(checkpoint: str) -> None:
    """Fail before any model or data is built if a local checkpoint is missing.

    Raises:
        FileNotFoundError: ``checkpoint`` is a local path that is not a file.
    """
    if checkpoint.startswith(_REMOTE_PREFIXES):
        return
    if not osp.isfile(checkpoint):
        hint = ' (it is a directory; give the .pth file inside it)' if osp.isdir(
            checkpoint) else ''
        raise FileNotFoundError(
            f'Checkpoint not found: {checkpoint}{hint}. Give the .pth file written by '
            'tools/train.py, e.g. work_dirs/<config name>/epoch_25.pth, or its '
            'best_*.pth / last_checkpoint entry.')


def build_config(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line options to it."""
    check_checkpoint(args.checkpoint)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl or .pickle file, got {args.out}')
    cfg = load_config(args)
    missing = [key for key in _TEST_KEYS if cfg.get(key) is None]
    if missing:
        raise KeyError(f'Config {args.config} has no {missing}; tools/test.py needs '
                       'test_dataloader, test_evaluator (e.g. HMRMetric) and test_cfg.')
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    else:
        default_work_dir(cfg, args.config)
    cfg.load_from = args.checkpoint
    # Testing never resumes a training state; it only loads the weights.
    cfg.resume = False
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = build_config(args)
    runner = build_runner(cfg, args.launcher, mode='test')
    if args.out is not None:
        out_dir = osp.dirname(osp.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    try:
        runner.test()
    finally:
        destroy_distributed()


if __name__ == '__main__':
    main()
