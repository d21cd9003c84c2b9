"""Render the licence-free synthetic HMR dataset.

Example::

    python tools/make_synthetic_dataset.py --out-dir data/synthetic \\
        --num-train 1200 --num-val 0 --num-test 200 --workers 2

writes ``data/synthetic/{train,val,test}.npz`` (MMHuman3D HumanData) and
``data/synthetic/images/{split}/NNNNN.jpg``. People are posed with the body model in
``--body-model-dir`` (the stand-in is written there first if the directory is empty). The
output depends only on the arguments, not on ``--workers``. See
``mroi_plugin/synthetic/`` for what is sampled and stored.
"""
import argparse
import math
import time

from mroi_plugin.synthetic import (
    DEFAULT_BODY_MODEL_DIR,
    DEPTH_RANGE,
    JPEG_QUALITY,
    TRUNCATION_PROB,
    generate_synthetic_dataset,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Render the synthetic HMR dataset')
    parser.add_argument('--out-dir', default='data/synthetic', help='output directory')
    parser.add_argument('--num-train', type=int, default=1200, help='training samples')
    parser.add_argument('--num-val', type=int, default=0, help='validation samples')
    parser.add_argument('--num-test', type=int, default=200, help='test samples')
    parser.add_argument('--image-size', type=int, nargs=2, default=(640, 480),
                        metavar=('W', 'H'), help='image width and height in pixels')
    parser.add_argument('--seed', type=int, default=0, help='seed of the whole dataset')
    parser.add_argument('--body-model-dir', default=DEFAULT_BODY_MODEL_DIR,
                        help='SMPL_{NEUTRAL,MALE,FEMALE}.pkl + J_regressor_h36m.npy; the '
                        'licence-free stand-in is written there if the directory is empty')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: the available CPUs, at most 8)')
    parser.add_argument('--focal-range', type=float, nargs=2, default=None,
                        metavar=('MIN', 'MAX'),
                        help='focal length range in pixels (default: 0.625-1.875 x the '
                        'image diagonal, i.e. 500-1500 px at 640x480)')
    parser.add_argument('--depth-range', type=float, nargs=2, default=DEPTH_RANGE,
                        metavar=('MIN', 'MAX'), help='pelvis depth range in metres')
    parser.add_argument('--truncation-prob', type=float, default=TRUNCATION_PROB,
                        help='probability that a person crosses the image border')
    parser.add_argument('--jpeg-quality', type=int, default=JPEG_QUALITY, help='JPEG quality')
    parser.add_argument('--max-yaw', type=float, default=180.0,
                        help='largest turn away from the camera, degrees (180: any direction)')
    parser.add_argument('--no-clutter', action='store_true',
                        help='smooth gradient backgrounds only, no distractor shapes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.time()
    paths = generate_synthetic_dataset(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        image_size=tuple(args.image_size),
        seed=args.seed,
        body_model_dir=args.body_model_dir,
        workers=args.workers,
        focal_range=args.focal_range,
        depth_range=tuple(args.depth_range),
        truncation_prob=args.truncation_prob,
        jpeg_quality=args.jpeg_quality,
        max_yaw=math.radians(args.max_yaw),
        clutter=not args.no_clutter)
    total = args.num_train + args.num_val + args.num_test
    print(f'{total} samples in {time.time() - start:.1f} s: '
          + ', '.join(f'{split} -> {path}' for split, path in paths.items()))


if __name__ == '__main__':
    main()
