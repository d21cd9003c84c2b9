"""The quickstart config shrunk to test size, shared by the end-to-end, API and demo tests."""
from pathlib import Path
from typing import Optional, Sequence, Tuple

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / 'configs' / 'quickstart' / 'mroi_synthetic.py'


def tiny_quickstart_config(body_dir: Path,
                           widths: Sequence[int] = (8, 16, 32, 64),
                           num_rois: int = 3,
                           crop_size: Tuple[int, int] = (64, 48),
                           mean_params: Optional[str] = None) -> Config:
    """The quickstart model with a 4-stage tiny backbone, 64-wide heads and small crops.

    Args:
        body_dir (Path): Folder with the stand-in body model files.
        widths (Sequence[int]): TinyConvNet stage widths; the last is the feature size.
        num_rois (int): RoIs per person in every pipeline.
        crop_size (tuple): ``(crop_h, crop_w)`` of every pipeline.
        mean_params (str, optional): The heads' mean-parameter file.
    """
    cfg = Config.fromfile(str(QUICKSTART))
    cfg.prepare_data = None
    channels = widths[-1]
    cfg.model.body_model.model_path = str(body_dir)
    cfg.model.backbone.widths = tuple(widths)
    cfg.model.head.in_channels = channels
    cfg.model.head.hidden_channels = 64
    cfg.model.head.mean_params = mean_params
    cfg.model.neck.in_channels = channels
    for key in ('in_channels', 'out_channels'):
        if key in cfg.model.feature_pooling:
            cfg.model.feature_pooling[key] = channels
    cfg.model.loss_contrastive.in_channels = channels
    # The tools give every crop step the file's top-level num_rois (apply_num_rois).
    cfg.num_rois = num_rois
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        for step in loader.dataset.pipeline:
            if step.type == 'MultiRoICrop':
                step.num_rois = num_rois
                step.crop_size = tuple(crop_size)
    return cfg
