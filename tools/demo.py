"""Recover and draw the meshes of the people in images or a video (headless).

A thin command line over :class:`mroi_plugin.apis.MeshInferencer`; docs/inference.md has the
details (box-file formats, detectors, outputs)::

    python tools/demo.py INPUT CONFIG CHECKPOINT --out-dir DIR [--bboxes FILE.json]
        [--detector hog|DET.onnx] [--det-config DET_CFG --det-checkpoint DET_CKPT]
        [--device cpu] [--focal-length F] [--score-thr 0.5] [--batch-size 1]
        [--no-track] [--smooth] [--no-obj] [--cfg-options KEY=VALUE ...]

``INPUT`` is an image, a folder of images or a video. People come from ``--bboxes``, else the
detector (``--detector`` or the mmdet ``--det-config``), else OpenCV's HOG detector.

Outputs in ``--out-dir``, per frame ``NAME`` (image stem, or ``{video stem}_{index:06d}``):
``NAME_mesh.jpg`` (meshes and boxes over the image, side view next to it; for a video
``{stem}_mesh.mp4`` instead), ``NAME.json`` (per person: box, score, pose, betas, cameras; for
a video one ``{stem}.json`` with every frame and track ids) and ``NAME_personKK.obj``.

Exit status: 0 when every input ran; 1 when some inputs failed (reported, the run goes on);
2 when the run cannot start (bad arguments, box file, detector, config or checkpoint).
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np

from mroi_plugin.apis import CheckpointMismatchError, MeshInferencer
from mroi_plugin.apis.detectors import load_bbox_file
from mroi_plugin.utils.cfg_options import CfgOptionsAction

DEFAULT_SCORE_THR = 0.5
EXIT_OK, EXIT_FAILED_INPUTS, EXIT_SETUP_ERROR = 0, 1, 2


class SetupError(Exception):
    """The run cannot start (bad arguments, box file, detector, config or checkpoint)."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Multi-RoI HMR demo: meshes of the people in images or a video',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='See docs/inference.md for the box-file formats and the detectors.')
    parser.add_argument('input', help='an image, a folder of images, or a video')
    parser.add_argument(
        'config', help='model config file, or mroi_plugin::REL for a packaged config')
    parser.add_argument('checkpoint', help='model checkpoint (.pth)')
    parser.add_argument('--out-dir', required=True, help='where the outputs are written')
    parser.add_argument('--bboxes', help='JSON file of person boxes (docs/inference.md)')
    parser.add_argument('--detector',
                        help="person detector: 'hog' or an ONNX file (RTMDet/YOLOX layouts)")
    parser.add_argument('--det-config', help='mmdet detector config (needs mmdet + mmcv ops)')
    parser.add_argument('--det-checkpoint', help='mmdet detector checkpoint')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--focal-length', type=float, default=None,
                        help='focal length in pixels (default: sqrt(W^2 + H^2), as CLIFF)')
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help='drop boxes with a lower score (detectors and scored boxes)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='frames whose people run in one forward pass')
    parser.add_argument('--no-track', action='store_true',
                        help='video: no tracking (person colours follow the box order)')
    parser.add_argument('--smooth', action='store_true',
                        help='video: One-Euro smoothing of pose, shape and camera per track')
    parser.add_argument('--smooth-min-cutoff', type=float, default=1.0,
                        help='One-Euro cut-off at rest, Hz (lower is smoother)')
    parser.add_argument('--smooth-beta', type=float, default=0.0,
                        help='One-Euro speed coefficient (higher lags less in fast motion)')
    parser.add_argument('--video-codec', default='auto', choices=['auto', 'h264', 'mp4v'],
                        help='auto: H.264 when PyAV or imageio-ffmpeg is installed, else mp4v')
    parser.add_argument('--no-obj', action='store_true', help='do not write .obj meshes')
    parser.add_argument('--no-side-view', action='store_true', help='overlay only')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings of the model config, key=value pairs')
    return parser.parse_args(argv)


def _check_args(args: argparse.Namespace) -> None:
    if not osp.exists(args.input):
        raise SetupError(f'Input not found: {args.input} (give an image, a folder of images or '
                         'a video).')
    if args.focal_length is not None and not (np.isfinite(args.focal_length)
                                              and args.focal_length > 0):
        raise SetupError(f'--focal-length must be positive pixels, got {args.focal_length}.')
    if args.batch_size < 1:
        raise SetupError(f'--batch-size must be >= 1, got {args.batch_size}.')
    if args.bboxes and (args.detector or args.det_config or args.det_checkpoint):
        raise SetupError('Give either --bboxes or a detector (--detector, --det-config), '
                         'not both.')
    if args.detector and args.det_config:
        raise SetupError('Give either --detector or --det-config/--det-checkpoint, not both.')
    if bool(args.det_config) != bool(args.det_checkpoint):
        raise SetupError('--det-config and --det-checkpoint go together.')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; returns the exit code (0 ok, 1 some inputs failed, 2 cannot start)."""
    args = parse_args(argv)
    try:
        _check_args(args)
        boxes = load_bbox_file(args.bboxes) if args.bboxes else None
        detector = args.detector or args.det_config
        if boxes is None and detector is None:
            detector = 'hog'
        inferencer = MeshInferencer(args.config, args.checkpoint, device=args.device,
                                    detector=detector, det_weights=args.det_checkpoint,
                                    cfg_options=args.cfg_options)
    except (SetupError, CheckpointMismatchError, FileNotFoundError, ImportError, KeyError,
            ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR
    try:
        result = inferencer(
            args.input, batch_size=args.batch_size, bboxes=boxes, bbox_thr=args.score_thr,
            focal_length=args.focal_length, vis_out_dir=args.out_dir,
            pred_out_dir=args.out_dir, save_obj=not args.no_obj,
            side_view=not args.no_side_view, track=not args.no_track, smooth=args.smooth,
            smooth_min_cutoff=args.smooth_min_cutoff, smooth_beta=args.smooth_beta,
            video_codec=args.video_codec)
    except (ValueError, ImportError) as error:  # e.g. an empty folder, no H.264 encoder
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR
    for video in result['videos']:
        hint = (' (browsers do not play mp4v: `pip install av` or `pip install imageio-ffmpeg` '
                'for H.264)' if video['codec'] == 'mp4v' else '')
        print(f'Video written to {video["path"]}: {video["frames"]} frames, '
              f'{video["codec"]}{hint}')
    print(f'{len(result["names"])} frame(s) processed; outputs in {args.out_dir}')
    if result['failures']:
        print(f'{len(result["failures"])} input(s) failed:', file=sys.stderr)
        for failure in result['failures']:
            print(f'  {failure}', file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
