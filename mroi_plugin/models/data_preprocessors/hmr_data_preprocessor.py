"""Normalise multi-RoI crops and fold the RoI axis into the batch axis."""
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from mroi_plugin.registry import MODELS

__all__ = ['HMRDataPreprocessor']

# ImageNet statistics in RGB order, on the 0-255 scale; the backbones' pretrained
# weights (mmpose/mmpretrain) expect them.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class HMRDataPreprocessor(BaseDataPreprocessor):
    """Stack, normalise and fold the crops of a batch of people.

    A packed sample carries ``inputs`` of shape ``(N, 3, H, W)`` (uint8 BGR, one
    crop per RoI). The batch is stacked to ``(B, N, 3, H, W)``, converted to RGB,
    normalised, and folded once to ``(B*N, 3, H, W)`` so the backbone sees plain
    images; the estimator unfolds features with ``B = len(data_samples)``.

    Args:
        mean (Sequence[float]): Per-channel mean (RGB, 0-255 scale).
        std (Sequence[float]): Per-channel std (RGB, 0-255 scale).
        bgr_to_rgb (bool): Convert the BGR crops to RGB. Defaults to True.
        non_blocking (bool): Asynchronous host-to-device copies.
    """

    def __init__(self,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD,
                 bgr_to_rgb: bool = True,
                 non_blocking: Optional[bool] = False) -> None:
        super().__init__(non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 values (RGB), got {mean} and {std}.')
        self.bgr_to_rgb = bgr_to_rgb
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), False)

    def forward(self, data: dict, training: bool = False) -> Union[dict, list]:
        """Return ``dict(inputs=(B*N, 3, H, W) float, data_samples=list)``."""
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):
            batch = inputs
        else:
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) != 1:
                raise ValueError(
                    'All samples of a batch need the same number of RoIs and crop size, '
                    f'got input shapes {sorted(shapes)}; check MultiRoICrop(num_rois, '
                    'crop_size) in the pipeline.')
            batch = torch.stack(list(inputs))
        if batch.dim() == 4:  # (B, 3, H, W): a single RoI per person
            batch = batch.unsqueeze(1)
        if batch.dim() != 5 or batch.shape[2] != 3:
            raise ValueError(
                f'Expected inputs of shape (B, N, 3, H, W), got {tuple(batch.shape)}.')
        batch = batch.flatten(0, 1).float()
        if self.bgr_to_rgb:
            batch = batch.flip(1)
        batch = (batch - self.mean) / self.std
        return dict(inputs=batch, data_samples=data.get('data_samples'))
