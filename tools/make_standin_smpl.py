"""Write the licence-free stand-in SMPL-format body model.

See docs/method.md#body-model-without-licensed-files.

``python tools/make_standin_smpl.py [--out-dir data/body_models/standin] [--seed 0] [--plot PNG]``

Writes ``SMPL_NEUTRAL.pkl``, ``SMPL_MALE.pkl``, ``SMPL_FEMALE.pkl`` (loadable by
``smplx.SMPL(model_path=...)`` and by ``mroi_plugin.body_models.SMPL``) and
``J_regressor_h36m.npy``. Running it again with the same seed changes nothing. The model is a
procedural stand-in, not SMPL: never report results on it as SMPL results.
"""
import argparse
import os.path as osp
import sys

from mroi_plugin.synthetic.standin import make_standin_smpl, write_standin_smpl

DEFAULT_OUT_DIR = osp.join('data', 'body_models', 'standin')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the licence-free stand-in body model in SMPL format')
    parser.add_argument('--out-dir', default=DEFAULT_OUT_DIR,
                        help=f'directory for the model files (default: {DEFAULT_OUT_DIR})')
    parser.add_argument('--seed', type=int, default=0,
                        help='0: the documented body; other values: another individual')
    parser.add_argument('--plot', metavar='PNG',
                        help='also render the neutral model front/side, at rest and walking')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.seed < 0:
        raise SystemExit(f'--seed must be >= 0, got {args.seed}')
    write_standin_smpl(args.out_dir, seed=args.seed, log=print)
    if args.plot:
        # The renderer lives next to this script (tools/ is not a package).
        sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
        from plot_body_model import render_rest_and_pose
        title = (f'licence-free stand-in body model (neutral, seed {args.seed}; '
                 'SMPL format, not SMPL)')
        path = render_rest_and_pose(make_standin_smpl(seed=args.seed), args.plot, title)
        print(f'wrote: {path}')


if __name__ == '__main__':
    main()
