"""Global average pooling of backbone feature maps into one vector per crop."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['GlobalAveragePooling']


@MODELS.register_module()
class GlobalAveragePooling(nn.Module):
    """Average each selected feature map over space and concatenate: maps -> ``(B, D)``.

    With the default (the last map of a ResNet-50), ``D = 2048``, as HMR/CLIFF.

    Args:
        in_indices (int | Sequence[int] | None): Which maps of the backbone's tuple to
            pool: one index (default -1, the last), several (pooled vectors are
            concatenated in this order), or None for all of them.
    """

    def __init__(self, in_indices: Optional[Union[int, Sequence[int]]] = -1) -> None:
        super().__init__()
        if isinstance(in_indices, int):
            in_indices = (in_indices, )
        elif in_indices is not None:
            in_indices = tuple(in_indices)
            if not in_indices:
                raise ValueError('GlobalAveragePooling: in_indices must not be empty; '
                                 'use None to pool every map.')
        self.in_indices: Optional[Tuple[int, ...]] = in_indices

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Pool.

        Args:
            feats (Tensor | Sequence[Tensor]): One map ``(B, C, H, W)`` or the
                backbone's tuple of maps ``(B, C_i, H_i, W_i)``.

        Returns:
            Tensor: ``(B, sum of selected C_i)``.
        """
        if isinstance(feats, Tensor):
            feats = (feats, )
        indices = range(len(feats)) if self.in_indices is None else self.in_indices
        pooled = []
        for index in indices:
            if not -len(feats) <= index < len(feats):
                raise IndexError(f'GlobalAveragePooling: in_indices entry {index} is out of '
                                 f'range for {len(feats)} feature maps.')
            feat = feats[index]
            if feat.dim() != 4:
                raise ValueError('GlobalAveragePooling expects (B, C, H, W) maps, got shape '
                                 f'{tuple(feat.shape)} at index {index}.')
            pooled.append(feat.mean(dim=(2, 3)))
        return torch.cat(pooled, dim=1)
