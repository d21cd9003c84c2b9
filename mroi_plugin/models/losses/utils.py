"""Availability masks shared by the standard HMR losses."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['check_same_shape', 'select_valid', 'valid_sample_mask', 'zero_loss']


def check_same_shape(pred: Tensor, target: Tensor, loss: str) -> None:
    """Raise a ValueError naming ``loss`` when prediction and target shapes differ."""
    if pred.shape != target.shape:
        raise ValueError(f'{loss}: prediction {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} must have the same shape.')


def valid_sample_mask(valid: Optional[Tensor], batch_shape: Sequence[int], device: torch.device,
                      loss: str) -> Tensor:
    """Boolean availability mask of shape ``batch_shape``.

    Args:
        valid (Tensor, optional): Per-sample availability (bool or 0/1 float) whose shape
            is a prefix of ``batch_shape``, e.g. ``(B, )`` for ``batch_shape`` ``(B, N)``
            (one flag per person, shared by its RoIs) or ``(B, N)``. ``> 0`` means
            available. None means every sample is available.
        batch_shape (Sequence[int]): Leading dimensions of the prediction that index
            samples (everything before the per-sample element dimensions).
        device (torch.device): Device of the returned mask.
        loss (str): Loss name for error messages.

    Returns:
        Tensor: ``batch_shape`` bool.
    """
    batch_shape = tuple(batch_shape)
    if valid is None:
        return torch.ones(batch_shape, dtype=torch.bool, device=device)
    valid = torch.as_tensor(valid, device=device)
    if tuple(valid.shape) != batch_shape[:valid.dim()]:
        raise ValueError(f'{loss}: validity flags of shape {tuple(valid.shape)} do not match the '
                         f'leading sample dimensions {batch_shape} of the prediction; pass one '
                         'flag per sample, e.g. (B,) or (B, N).')
    valid = valid.reshape(tuple(valid.shape) + (1, ) * (len(batch_shape) - valid.dim()))
    return (valid > 0).expand(batch_shape)


def zero_loss(*tensors: Tensor) -> Tensor:
    """A zero that keeps the autograd graph of ``tensors`` (for batches with no valid sample).

    Distributed training needs every parameter used by the graph to receive a gradient,
    so this is ``sum(t.sum() * 0)`` rather than a fresh constant.
    """
    total = tensors[0].sum() * 0
    for tensor in tensors[1:]:
        total = total + tensor.sum() * 0
    return total


def select_valid(mask: Tensor, *tensors: Tensor) -> Tuple[Tensor, ...]:
    """Index every tensor with ``mask`` over its leading dims.

    Selecting (instead of multiplying by the mask) keeps NaN or garbage in unavailable
    targets out of the loss and its gradient.
    """
    return tuple(t[mask] for t in tensors)
