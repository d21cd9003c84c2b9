"""Export a CLIFF / Multi-RoI model to ONNX: ``pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx``.

The graph takes what the test pipeline makes (``crops`` (B, N, 3, H, W) BGR 0-255,
``bbox_info`` (B, N, 3), and for Multi-RoI ``roi_centers`` (B, N, 2) and ``roi_sizes``
(B, N)) and returns ``pred_rotmat`` (B, 24, 3, 3), ``pred_betas`` (B, 10) and
``pred_cam_crop`` (B, N, 3); ``--with-body-model`` adds ``vertices`` and ``keypoints3d``.
The batch axis is dynamic; N and the crop size are the config's. After writing the file
the tool runs onnxruntime and PyTorch on the same random inputs at two batch sizes, prints
the largest difference of every output, fails (exit 1) above ``--tolerance``, and prints
both runtimes' CPU speed in people per second. docs/deployment.md has the details::

    python tools/deployment/pytorch2onnx.py configs/cliff/cliff_r50.py \\
        work_dirs/cliff_r50_official.pth work_dirs/cliff_r50.onnx --with-body-model
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch

from mroi_plugin.utils.cfg_options import CfgOptionsAction
from mroi_plugin.utils.output_files import OutputPathError, atomic_output, check_output_file

#: Exit status: exported and verified; verification failed; refused before exporting.
EXIT_OK, EXIT_MISMATCH, EXIT_SETUP_ERROR = 0, 1, 2


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a CLIFF / Multi-RoI model to ONNX')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (.pth) of that config')
    parser.add_argument('out', help='ONNX file to write')
    parser.add_argument('--with-body-model', action='store_true',
                        help='include the SMPL body model: also output vertices and '
                        'keypoints3d (body frame, metres)')
    parser.add_argument('--num-rois', type=int, help='RoIs per person (default: the config\'s '
                        'MultiRoICrop)')
    parser.add_argument('--crop-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='crop height and width (default: the config\'s MultiRoICrop)')
    parser.add_argument('--opset', type=int, default=None, help='ONNX opset (default 17)')
    parser.add_argument('--verify-batch-sizes', type=int, nargs='+', default=[1, 3],
                        help='batch sizes at which onnxruntime is compared with PyTorch')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='largest allowed |onnxruntime - PyTorch| of any output')
    parser.add_argument('--speed-batch-size', type=int, default=8,
                        help='people per run of the speed test (0 skips it)')
    parser.add_argument('--speed-repeats', type=int, default=5,
                        help='timed runs of the speed test (the best counts)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of both runtimes in the speed test (default: theirs)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Export, verify and time; returns the exit status."""
    args = parse_args(argv)
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        print(f'error: {error.name} is not installed; ONNX export needs the optional '
              'packages: pip install "mroi_plugin[onnx]" (or pip install onnx onnxruntime).',
              file=sys.stderr)
        return EXIT_SETUP_ERROR
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            print(f'error: {what} {path} does not exist.', file=sys.stderr)
            return EXIT_SETUP_ERROR
    try:
        out = check_output_file(args.out, 'OUT')
    except OutputPathError as error:
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR

    from mroi_plugin.apis import init_model
    from mroi_plugin.deployment import (
        DEFAULT_OPSET,
        HMRExportModule,
        compare_with_pytorch,
        crop_layout_from_config,
        export_onnx,
        people_per_second,
    )
    try:
        model = init_model(args.config, args.checkpoint, device='cpu',
                           cfg_options=args.cfg_options)
    except (FileNotFoundError, KeyError, ValueError) as error:
        # A checkpoint of another model (CheckpointMismatchError), a config without a model.
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR
    try:
        num_rois, crop_size = (None, None)
        if args.num_rois is None or args.crop_size is None:
            num_rois, crop_size = crop_layout_from_config(model.cfg)
        num_rois = args.num_rois or num_rois
        crop_size = tuple(args.crop_size or crop_size)
        module = HMRExportModule(model, num_rois, crop_size,
                                 with_body_model=args.with_body_model)
    except (TypeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR
    opset = args.opset or DEFAULT_OPSET

    with atomic_output(out) as tmp:
        inputs = export_onnx(module, tmp, opset=opset)
    size_mb = os.path.getsize(out) / 2**20
    print(f'Wrote {out} ({size_mb:.1f} MB, opset {opset}): inputs {inputs}, outputs '
          f'{list(module.output_names)}; N = {num_rois} RoIs, crops {crop_size[0]}x'
          f'{crop_size[1]}, dynamic batch.')

    diffs = compare_with_pytorch(module, out, args.verify_batch_sizes)
    worst = max(diffs.values())
    print(f'onnxruntime vs PyTorch, max |diff| at batch sizes {args.verify_batch_sizes}: ' +
          ', '.join(f'{name} {value:.2e}' for name, value in diffs.items()))
    if args.speed_batch_size > 0:
        speed = people_per_second(module, out, args.speed_batch_size,
                                  repeats=args.speed_repeats, threads=args.threads)
        threads = args.threads or f'default ({torch.get_num_threads()} torch threads)'
        print(f'CPU speed, batch {args.speed_batch_size}, threads {threads}: PyTorch '
              f'{speed["pytorch"]:.1f} people/s, onnxruntime {speed["onnxruntime"]:.1f} '
              'people/s')
    if worst > args.tolerance:
        print(f'error: onnxruntime differs from PyTorch by {worst:.2e} > --tolerance '
              f'{args.tolerance:g}; the file {out} is kept for inspection.', file=sys.stderr)
        return EXIT_MISMATCH
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
