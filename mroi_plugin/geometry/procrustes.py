"""Similarity Procrustes alignment (for PA-MPJPE)."""
from typing import Tuple, Union

import torch
from torch import Tensor

from ._array import array_function, check_last_dim

__all__ = ['similarity_procrustes']

# Floor on the source's spread (sum of squared distances to its centroid, m^2): a source whose
# points all coincide has no defined scale; the floor keeps the result finite (scale -> 0).
_MIN_SOURCE_SPREAD = 1e-12


@array_function('source', 'target')
def similarity_procrustes(
        source: Tensor,
        target: Tensor,
        return_transform: bool = False
) -> Union[Tensor, Tuple[Tensor, Tuple[Tensor, Tensor, Tensor]]]:
    """Align ``source`` to ``target`` with the best similarity transform, per sample.

    Minimises ``sum_j |target_j - (s R source_j + t)|^2`` over scale ``s > 0``, proper
    rotation ``R`` (det +1) and translation ``t`` (Umeyama 1991). With centred points ``X``,
    ``Y`` and ``X^T Y = U S V^T``: ``R = V D U^T`` where ``D = diag(1, 1, det(V U^T))`` keeps
    ``R`` a rotation when the best orthogonal fit would be a reflection,
    ``s = trace(S D) / |X|^2`` and ``t = mean(Y) - s R mean(X)``.

    Args:
        source (Tensor | ndarray): ``(.., J, 3)`` points to align (e.g. predicted joints).
        target (Tensor | ndarray): ``(.., J, 3)`` reference points.
        return_transform (bool): Also return ``(scale, rot, transl)``.

    Returns:
        Tensor | ndarray: ``(.., J, 3)`` aligned source ``s * source @ R^T + t``; with
        ``return_transform``, a tuple ``(aligned, (scale (..), rot (.., 3, 3), transl
        (.., 3)))``.
    """
    check_last_dim(source, (3, ), 'source', 'similarity_procrustes')
    check_last_dim(target, (3, ), 'target', 'similarity_procrustes')
    if source.dim() < 2 or source.shape[-2:] != target.shape[-2:]:
        raise ValueError('similarity_procrustes(): `source` and `target` must both be (..., J, 3) '
                         f'with the same J, got {tuple(source.shape)} and {tuple(target.shape)}.')
    source, target = torch.broadcast_tensors(source, target)
    mean_source = source.mean(dim=-2, keepdim=True)
    mean_target = target.mean(dim=-2, keepdim=True)
    centred_source = source - mean_source
    centred_target = target - mean_target
    covariance = torch.matmul(centred_source.transpose(-1, -2), centred_target)
    u, sigma, vh = torch.linalg.svd(covariance)
    v = vh.transpose(-1, -2)
    reflection_fix = torch.sign(torch.linalg.det(torch.matmul(v, u.transpose(-1, -2))))
    # det is +-1 here; sign(0) only for degenerate input, where +1 is the safe choice.
    reflection_fix = torch.where(reflection_fix == 0, torch.ones_like(reflection_fix),
                                 reflection_fix)
    diag = torch.ones_like(sigma)
    diag = torch.cat([diag[..., :2], reflection_fix.unsqueeze(-1)], dim=-1)
    rot = torch.matmul(v * diag.unsqueeze(-2), u.transpose(-1, -2))
    spread = (centred_source**2).sum(dim=(-1, -2)).clamp(min=_MIN_SOURCE_SPREAD)
    scale = (sigma * diag).sum(-1) / spread
    transl = (mean_target - scale[..., None, None] * torch.matmul(
        mean_source, rot.transpose(-1, -2))).squeeze(-2)
    aligned = scale[..., None, None] * torch.matmul(source, rot.transpose(-1, -2)) + \
        transl.unsqueeze(-2)
    if return_transform:
        return aligned, (scale, rot, transl)
    return aligned
