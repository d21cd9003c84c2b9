"""A tiny random-weight model and a 3-image synthetic split for the inference and demo tests.

Images are 160x120 synthetic people; their boxes are the split's annotated boxes.
"""
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mroi_plugin.apis import init_model
from tests.tiny_configs import tiny_quickstart_config

IMAGE_W, IMAGE_H = 160, 120


def tiny_cfg(body_dir: Path, widths=(8, 16, 32, 64)) -> Config:
    """The quickstart model at test size: 64x48 crops, 2 RoIs, a tiny backbone."""
    return tiny_quickstart_config(body_dir, widths=widths, num_rois=2, crop_size=(64, 48))


def save_random_checkpoint(cfg: Config, path: Path, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    with pytest.warns(UserWarning, match='random weights'):
        model = init_model(cfg)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model.state_dict()


def make_inference_setup(root: Path, num_images: int = 3) -> Dict:
    """Stand-in body, synthetic images, a tiny config file and a random checkpoint in ``root``.

    Returns:
        dict: ``root``, ``cfg``, ``config`` (file), ``checkpoint``, ``images`` (paths) and
        ``xywh`` (``(num_images, 4)`` annotated boxes).
    """
    from mroi_plugin.synthetic import generate_synthetic_dataset
    from mroi_plugin.synthetic.standin import write_standin_smpl
    write_standin_smpl(str(root / 'body_models'), seed=0)
    generate_synthetic_dataset(
        str(root / 'synthetic'), num_train=0, num_val=0, num_test=num_images,
        image_size=(IMAGE_W, IMAGE_H), seed=0, body_model_dir=str(root / 'body_models'),
        workers=1)
    ann = np.load(root / 'synthetic' / 'test.npz', allow_pickle=True)
    cfg = tiny_cfg(root / 'body_models')
    config_file = root / 'tiny_config.py'
    cfg.dump(str(config_file))
    checkpoint = root / 'tiny.pth'
    save_random_checkpoint(cfg, checkpoint)
    images = [root / 'synthetic' / str(p) for p in ann['image_path']]
    return dict(root=root, cfg=cfg, config=str(config_file), checkpoint=str(checkpoint),
                images=images, xywh=ann['bbox_xywh'][:, :4].astype(np.float64))


def xyxy(xywh) -> list:
    x, y, w, h = (float(v) for v in xywh)
    return [x, y, x + w, y + h]
