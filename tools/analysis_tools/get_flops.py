"""FLOPs and parameters of a model, with mmengine's ``get_model_complexity_info``.

``python tools/analysis_tools/get_flops.py CONFIG [--image-size W H] [--show-table]
[--cfg-options ...]``

An mroi estimator (``MultiRoIHMR`` / ``CLIFF``) is measured on one person: the config's test
pipeline crops the ``N`` RoIs of a box covering 80 % of the height of a blank ``W x H`` image,
and the whole ``forward`` (backbone on ``N`` crops, fusion, head and body model) is counted.
Any other model in the config is fed one ``(1, 3, h, w)`` tensor (``--input-shape``).
FLOPs are counted as mmengine (fvcore) does: one multiply-add is one FLOP.
"""
import argparse
import sys
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from mroi_plugin.utils.cfg_options import CfgOptionsAction


class _TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a one-tensor forward for tracing."""

    def __init__(self, model: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        preds = self.model(inputs, self.data_samples, mode='tensor')
        return tuple(v for v in preds.values() if isinstance(v, torch.Tensor))


def person_inputs(cfg: Config, model: nn.Module,
                  image_size: Tuple[int, int]) -> Tuple[torch.Tensor, list]:
    """One person through the config's test pipeline (without loading): crops and sample."""
    from mmcv.transforms import Compose

    from mroi_plugin.geometry import default_principal_point, estimate_focal_length
    width, height = image_size
    pipeline = [step for step in cfg.test_dataloader.dataset.pipeline
                if 'Load' not in str(step['type'])]
    results = dict(
        img=np.zeros((height, width, 3), dtype=np.uint8),
        # A person box; the pipeline's GetBBoxCenterScale and crop make its RoIs.
        bbox_xyxy=np.array([0.4 * width, 0.1 * height, 0.6 * width, 0.9 * height]),
        focal_length=float(estimate_focal_length(width, height)),
        principal_point=np.asarray(default_principal_point(width, height), dtype=np.float64),
        img_shape=(height, width), ori_shape=(height, width))
    packed = Compose(pipeline)(results)
    data = model.data_preprocessor(
        dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
    return data['inputs'], data['data_samples']


def complexity(model: nn.Module, inputs: torch.Tensor) -> dict:
    """mmengine's complexity of ``model(inputs)``: ``flops``, ``params`` and their strings."""
    from mmengine.analysis import get_model_complexity_info
    return get_model_complexity_info(model, inputs=(inputs, ), show_table=False,
                                     show_arch=False)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count the FLOPs and parameters of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--image-size', type=int, nargs=2, default=[640, 480],
                        metavar=('W', 'H'), help='image of the person (default 640 480)')
    parser.add_argument('--input-shape', type=int, nargs=3, default=[3, 224, 224],
                        metavar=('C', 'H', 'W'), help='input of a model that is not an mroi '
                        'estimator (default 3 224 224)')
    parser.add_argument('--show-table', action='store_true', help='print the per-module table')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings in the config, key=value pairs')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mroi_plugin.apis.runner import read_config
    from mroi_plugin.registry import MODELS
    from mroi_plugin.utils import register_all_modules
    register_all_modules()
    try:
        cfg = read_config(args.config, args.cfg_options)
    except FileNotFoundError:
        print(f'error: config file not found: {args.config}', file=sys.stderr)
        return 1
    model = MODELS.build(cfg.model).eval()
    if hasattr(model, 'body_model') and hasattr(model, 'data_preprocessor'):
        inputs, samples = person_inputs(cfg, model, tuple(args.image_size))
        target: nn.Module = _TensorForward(model, samples)
        what = (f'one person, {inputs.shape[0]} RoI crops of {inputs.shape[2]}x'
                f'{inputs.shape[3]} (image {args.image_size[0]}x{args.image_size[1]})')
    else:
        inputs = torch.zeros(1, *args.input_shape)
        target = model
        what = f'input {tuple(inputs.shape)}'
    with torch.no_grad():
        info = complexity(target, inputs)
    if args.show_table:
        from mmengine.analysis import get_model_complexity_info
        with torch.no_grad():
            print(get_model_complexity_info(target, inputs=(inputs, ), show_arch=False)
                  ['out_table'])
    print(f'{type(model).__name__}, {what}')
    print(f'FLOPs: {info["flops"]} ({info["flops_str"]})')
    print(f'Params: {info["params"]} ({info["params_str"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
