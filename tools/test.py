"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Same conventions as mmdetection/mmpose ``tools/test.py``: the config's
``test_dataloader``, ``test_evaluator`` (e.g. ``HMRMetric``) and ``test_cfg``
run through mmengine's ``Runner.test()``; ``--out`` also dumps every data
sample with its predictions (``pred_vertices``, ``pred_cam_full``, ...) to a
pickle with mmengine's ``DumpResults``. Distributed runs go through
``tools/dist_test.sh`` (torchrun), on GPU (NCCL) or CPU (gloo).

No silent wrong results, nothing lost:

* The checkpoint is loaded **strictly**. mmengine's ``load_from`` loads with
  ``strict=False``, so an unrelated checkpoint would evaluate random weights with
  exit status 0. After the Runner has built the model, and before it builds the test
  data, the checkpoint is checked against the model with the demo's
  :func:`~mroi_plugin.apis.load_model_checkpoint`: missing, unexpected and
  shape-mismatched keys end the run with one error (exit status 1). ``--non-strict``
  turns that error into a warning for deliberate partial loads. ``load_from`` itself is
  kept, so mmengine still loads the weights inside ``Runner.test()`` and its hooks
  (``after_load_checkpoint``, e.g. ``EMAHook``) run in mmengine's order.
* ``--out`` is checked for writability before anything is built, and the metrics are
  logged even if writing it fails at the end (exit status 1, naming the file).
"""
import argparse
import logging
import os.path as osp
import sys
import tempfile
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.evaluator import DumpResults
from mmengine.fileio import dump
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from mroi_plugin.apis import (
    CheckpointMismatchError,
    add_launch_args,
    build_runner,
    default_work_dir,
    load_config,
    load_model_checkpoint,
)
from mroi_plugin.utils import (
    destroy_distributed,
    extract_state_dict,
    register_all_modules,
    report_collective_failures,
)
from mroi_plugin.utils.output_files import OutputPathError, atomic_output, check_output_file
from mroi_plugin.utils.vis_options import enable_tensorboard, enable_visualization

# Checkpoints mmengine can read from somewhere other than the local disk.
_REMOTE_PREFIXES = ('http://', 'https://', 's3://', 'petrel://', 'open-mmlab://', 'torchvision://',
                    'modelzoo://', 'mmcls://', 'pavi://')
_TEST_KEYS = ('test_dataloader', 'test_evaluator', 'test_cfg')

#: Exit statuses: evaluated (and ``--out`` written); refused before evaluating, or
#: evaluated but ``--out`` could not be written (the metrics were logged).
EXIT_OK = 0
EXIT_ERROR = 1


class GuardedDumpResults(DumpResults):
    """mmengine's ``DumpResults`` that never costs the other metrics, nor half a file.

    ``DumpResults`` raises from inside ``Evaluator.evaluate()`` when the file cannot be
    written, after the whole test loop, so the metrics computed next to it are never
    logged. This one writes to a temporary file next to ``out_file_path`` and renames it
    when complete; on failure it logs an error, records it in :attr:`error` and returns no
    metric, so ``Runner.test()`` logs the others as usual.

    Args:
        out_file_path (str): ``.pkl`` / ``.pickle`` file.
        **kwargs: ``collect_device`` / ``collect_dir`` of ``DumpResults``.
    """

    def __init__(self, out_file_path: str, **kwargs: Any) -> None:
        super().__init__(out_file_path=out_file_path, **kwargs)
        self.error: Optional[str] = None

    def compute_metrics(self, results: list) -> Dict[str, float]:
        try:
            with atomic_output(self.out_file_path) as tmp:
                dump(results, tmp, file_format='pkl')
        except OSError as error:
            self.error = (f'--out {self.out_file_path} could not be written '
                          f'({type(error).__name__}: {error}); the predictions are lost, the '
                          'metrics are logged.')
            print_log(f'error: {self.error}', logger='current', level=logging.ERROR)
            return {}
        print_log(f'Results have been saved to {self.out_file_path}.', logger='current')
        return {}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a mesh recovery model')
    parser.add_argument(
        'config', help='test config file path, or mroi_plugin::REL for a packaged config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the dir to save logs and metrics (default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--out',
        type=str,
        help='dump the predictions of every sample to this pickle file (.pkl / .pickle) '
        'for offline evaluation; checked for writability before anything is built')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='evaluate even if the checkpoint does not fit the model (missing, unexpected '
        'or shape-mismatched keys): the report becomes a warning and the parameters not in '
        'the checkpoint keep their initialisation. Without it such a checkpoint is refused')
    parser.add_argument(
        '--show-dir',
        help='draw every test sample (GT and predicted mesh, keypoints, boxes) into this '
        'folder, one image per person; a relative path goes under {work_dir}/{timestamp}/')
    parser.add_argument(
        '--show', action='store_true', help='show each drawn test sample in a window')
    parser.add_argument(
        '--wait-time', type=float, default=2.0, help='seconds each --show image stays up')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also log to TensorBoard (needs the tensorboard package; docs/visualization.md)')
    add_launch_args(
        parser, 'test_dataloader.batch_size=8 test_evaluator.outfile_prefix=work_dirs/pw3d')
    args = parser.parse_args(argv)
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
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl or .pickle file, got {args.out}')
        # Before the config, the model and the data: a path that cannot be written would
        # otherwise only fail after the whole evaluation.
        check_output_file(args.out, what='--out')
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
    enable_visualization(cfg, show_dir=args.show_dir, show=args.show, wait_time=args.wait_time)
    if args.tensorboard:
        enable_tensorboard(cfg)
    return cfg


def _check_checkpoint_fits(model: nn.Module, checkpoint: str) -> None:
    """Load ``checkpoint`` strictly into ``model``; raise with the key report if it does not fit.

    Remote checkpoints are read with mmengine's ``CheckpointLoader`` (the loader
    ``load_from`` uses; http(s) downloads are cached, so they are fetched once) and checked
    through a temporary local copy of their state dict; errors name the URL.

    Raises:
        CheckpointMismatchError: Missing / unexpected / shape-mismatched keys.
        ValueError: The file cannot be read or holds no state dict.
    """
    if not checkpoint.startswith(_REMOTE_PREFIXES):
        load_model_checkpoint(model, checkpoint)
        return
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    with tempfile.TemporaryDirectory() as tmp:
        local = osp.join(tmp, 'checkpoint.pth')
        try:
            torch.save(extract_state_dict(loaded, source=checkpoint), local)
            load_model_checkpoint(model, local)
        except CheckpointMismatchError as error:
            raise CheckpointMismatchError(str(error).replace(local, checkpoint)) from None


def check_checkpoint_fits(runner: Runner, checkpoint: str, strict: bool = True) -> bool:
    """Check the checkpoint against the Runner's model before any test data is built.

    Args:
        runner (Runner): Built from the test config, with ``load_from = checkpoint``.
        checkpoint (str): Local path or mmengine URL.
        strict (bool): Raise on a mismatch; otherwise log the report as a warning.

    Returns:
        bool: Whether the checkpoint fits the model exactly.

    Raises:
        CheckpointMismatchError: ``strict`` and the keys or shapes differ.
        ValueError: The checkpoint cannot be read.
    """
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    try:
        _check_checkpoint_fits(model, checkpoint)
    except CheckpointMismatchError as error:
        if strict:
            raise CheckpointMismatchError(
                f'{error} Nothing was evaluated. To evaluate the parameters that do fit, '
                'with the others at their initialisation, pass --non-strict.') from None
        print_log(f'--non-strict: {error} Evaluating anyway: parameters missing from the '
                  'checkpoint or of another shape keep their initialisation.',
                  logger='current', level=logging.WARNING)
        return False
    return True


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Evaluate; returns the exit status (see :data:`EXIT_OK`, :data:`EXIT_ERROR`)."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    try:
        cfg = build_config(args)
    except (FileNotFoundError, ImportError, KeyError, OutputPathError, ValueError) as error:
        print(f'error: {error.args[0] if error.args else error}', file=sys.stderr)
        return EXIT_ERROR
    runner = build_runner(cfg, args.launcher, mode='test')
    try:
        try:
            check_checkpoint_fits(runner, args.checkpoint, strict=not args.non_strict)
        except (CheckpointMismatchError, ValueError) as error:
            print(f'error: {error}', file=sys.stderr)
            return EXIT_ERROR
        dumper = None
        if args.out is not None:
            dumper = GuardedDumpResults(out_file_path=args.out)
            runner.test_evaluator.metrics.append(dumper)
        # A timed-out collective or a lost peer: one message naming the rank, exit 1.
        with report_collective_failures(cfg):
            runner.test()
        if dumper is not None and dumper.error is not None:
            print(f'error: {dumper.error}', file=sys.stderr)
            return EXIT_ERROR
        return EXIT_OK
    finally:
        destroy_distributed()


if __name__ == '__main__':
    sys.exit(main())
