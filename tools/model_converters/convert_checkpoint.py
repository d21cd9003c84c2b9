"""Convert a released checkpoint to mroi_plugin names.

``python tools/model_converters/convert_checkpoint.py SRC DST`` (``tools/convert_checkpoint.py``
forwards here). Sources: CLIFF (``cliff_r50``, ``cliff_hrnet48``), Multi-RoI HMR (``mroi_r50``,
``mroi_hrnet48``), mmpose / official HRNet pose backbones (``mmpose_r50``,
``mmpose_hrnet48``) and HRNet's ImageNet classifier (``hrnet_imagenet``); ``--format auto``
(default) guesses from the key names. The output is an mmengine checkpoint
``{'state_dict': ..., 'meta': {...}}`` for ``init_model``, ``load_from`` or
``tools/test.py CONFIG DST``. With ``--config`` the names and shapes are checked against the
model that config builds, and the summary lists the model keys left unfilled.

The mapping and what cannot be mapped (and why) are documented in
``mroi_plugin/utils/checkpoint_conversion.py``; what reproduces CLIFF's released models in
docs/released_checkpoints.md. Example::

    python tools/model_converters/convert_checkpoint.py \\
        ckpt/hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt work_dirs/cliff_hr48_official.pth \\
        --config configs/cliff/cliff_hrnet48.py
"""
import argparse
import sys
from typing import List, Optional

from mroi_plugin.utils.cfg_options import CfgOptionsAction
from mroi_plugin.utils.checkpoint_conversion import (
    AUTO,
    DEFAULT_SUMMARY_KEYS,
    SOURCE_FORMATS,
    convert_checkpoint,
)
from mroi_plugin.utils.output_files import OutputPathError

#: Exit status when the conversion cannot start (bad paths or options), as argparse's.
EXIT_SETUP_ERROR = 2


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a released CLIFF / Multi-RoI / mmpose / HRNet checkpoint to '
        'mroi_plugin parameter names')
    parser.add_argument('src', help='released checkpoint (.pt / .pth)')
    parser.add_argument(
        'dst',
        help='output mmengine checkpoint (.pth); must not be SRC, written whole or not at all')
    parser.add_argument(
        '--format',
        default=AUTO,
        choices=SOURCE_FORMATS + (AUTO, ),
        help='layout of SRC (default: guessed from its key names)')
    parser.add_argument(
        '--config',
        help='config of the target model: check names and shapes against the model it builds '
        'and report the model keys left unfilled')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of --config, key=value pairs such as '
        'model.neck.num_freqs=8')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='read SRC with torch.load(weights_only=False) when safe loading refuses it; this '
        'can run code stored in the file, so only for files you trust')
    parser.add_argument('--verbose', action='store_true', help='list every key in the summary')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert; returns the exit status (0 written, 2 refused before converting)."""
    args = parse_args(argv)
    if args.cfg_options and not args.config:
        print('error: --cfg-options needs --config', file=sys.stderr)
        return EXIT_SETUP_ERROR
    try:
        report = convert_checkpoint(
            args.src,
            args.dst,
            source_format=args.format,
            config=args.config,
            cfg_options=args.cfg_options,
            unsafe_load=args.unsafe_load)
    except OutputPathError as error:
        print(f'error: {error}', file=sys.stderr)
        return EXIT_SETUP_ERROR
    print(report.summary(max_keys=None if args.verbose else DEFAULT_SUMMARY_KEYS))
    print(f'Saved {report.num_target_keys} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
