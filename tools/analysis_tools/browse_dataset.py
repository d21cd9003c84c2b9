"""Look at what the model is trained on: every RoI crop of the pipeline, with its targets.

``python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR [--phase train|val|test]
[--max-samples N] [--no-mesh] [--cfg-options ...]``

Like mmpose's ``browse_dataset.py``: each sample goes through the config's pipeline of
``--phase`` (augmentation included for ``train``), and the ``N`` RoI crops the model sees are
written side by side to ``DIR/{index:05d}_{image stem}.png`` (lossless), each with the
ground-truth 2D keypoints (green) and the ground-truth mesh (the config's body model posed
with the sample's SMPL parameters, in the crop's own camera). Keypoints off the body, a mesh
beside the person or an empty crop point at wrong annotations, camera intrinsics or boxes.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import numpy as np

from mroi_plugin.utils.cfg_options import CfgOptionsAction

PHASES = ('train', 'val', 'test')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw the pipeline crops of a dataset')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--output-dir', required=True, help='folder for the drawn samples')
    parser.add_argument('--phase', choices=PHASES, default='train',
                        help='which dataloader (and pipeline) to browse; default train')
    parser.add_argument('--max-samples', type=int, default=20,
                        help='draw the first N samples (default 20; 0 = all)')
    parser.add_argument('--no-mesh', action='store_true',
                        help='do not draw the GT mesh (no body model needed)')
    parser.add_argument('--no-keypoints', action='store_true',
                        help='do not draw the GT keypoints')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings in the config, key=value pairs')
    args = parser.parse_args(argv)
    if args.max_samples < 0:
        parser.error(f'--max-samples must be >= 0, got {args.max_samples}')
    return args


def crops_to_rgb(inputs) -> np.ndarray:
    """``(N, 3, h, w)`` packed uint8 BGR crops -> ``(N, h, w, 3)`` RGB."""
    crops = np.asarray(inputs.detach().cpu().numpy() if hasattr(inputs, 'detach') else inputs)
    return np.ascontiguousarray(crops.transpose(0, 2, 3, 1)[..., ::-1]).astype(np.uint8)


def draw_sample(visualizer, inputs, data_sample, draw_mesh: bool = True,
                draw_keypoints: bool = True) -> np.ndarray:
    """The sample's RoI crops side by side, RoI 0 first, with their targets (RGB)."""
    panels: List[np.ndarray] = []
    for roi, crop in enumerate(crops_to_rgb(inputs)):
        visualizer.set_image(crop)
        visualizer.draw_gt(data_sample, roi=roi, draw_bbox=False, draw_mesh=draw_mesh,
                           draw_keypoints=draw_keypoints)
        panels.append(visualizer.get_image())
    return np.concatenate(panels, axis=1)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import mmcv

    from mroi_plugin.apis.runner import read_config
    from mroi_plugin.registry import DATASETS, MODELS
    from mroi_plugin.utils import register_all_modules
    from mroi_plugin.utils.progress import progress_bar
    from mroi_plugin.visualization import HMRVisualizer

    register_all_modules()
    try:
        cfg = read_config(args.config, args.cfg_options)
    except FileNotFoundError:
        print(f'error: config file not found: {args.config}', file=sys.stderr)
        return 1
    loader = cfg.get(f'{args.phase}_dataloader')
    if not loader or not loader.get('dataset'):
        print(f'error: {args.config} has no {args.phase}_dataloader.dataset; choose another '
              f'--phase ({", ".join(PHASES)}).', file=sys.stderr)
        return 1
    dataset = DATASETS.build(loader.dataset)
    visualizer = HMRVisualizer(name=f'browse_dataset_{os.getpid()}_{id(dataset)}')
    body_model_cfg = cfg.get('model', {}).get('body_model')
    draw_mesh = not args.no_mesh
    if draw_mesh:
        if body_model_cfg is None:
            print('error: the config has no model.body_model to draw meshes with; pass '
                  '--no-mesh to draw the keypoints only.', file=sys.stderr)
            return 1
        visualizer.set_body_model(MODELS.build(body_model_cfg).eval())
    count = len(dataset) if args.max_samples == 0 else min(args.max_samples, len(dataset))
    os.makedirs(args.output_dir, exist_ok=True)
    for index in progress_bar(range(count), desc=f'browse {args.phase}', unit='sample'):
        item = dataset[index]
        sample = item['data_samples']
        drawn = draw_sample(visualizer, item['inputs'], sample, draw_mesh,
                            not args.no_keypoints)
        img_path = sample.metainfo.get('img_path')
        stem = osp.splitext(osp.basename(img_path))[0] if img_path else 'sample'
        mmcv.imwrite(drawn[..., ::-1], osp.join(args.output_dir, f'{index:05d}_{stem}.png'))
    print(f'{count} samples drawn to {osp.abspath(args.output_dir)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
