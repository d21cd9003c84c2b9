"""Supervised contrastive loss between the RoIs of each person.

See docs/method.md#contrastive-loss.
"""
from typing import Optional, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['MultiRoIContrastiveLoss', 'supcon_loss', 'multi_roi_supcon_loss']

# The paper's and the authors' temperature.
DEFAULT_TEMPERATURE = 0.5
GATES = ('silu', None)
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def supcon_loss(anchors: Tensor,
                anchor_labels: Tensor,
                keys: Tensor,
                key_labels: Tensor,
                anchor_positions: Tensor,
                temperature: float = DEFAULT_TEMPERATURE,
                scale_by_temperature: bool = True) -> Tensor:
    """Supervised contrastive loss (Khosla et al., NeurIPS'20), ``L_out`` form.

    For each anchor ``a`` (``z`` unit vectors), with positives ``P(a)`` = the keys with the
    anchor's label other than the anchor itself::

        l_a = -(1 / |P(a)|) sum_{p in P(a)} log( exp(z_a.z_p / tau) / D_a )
        D_a = sum_{k != a} exp(z_a.z_k / tau)
        L   = [tau *] mean_a l_a

    The denominator runs over every key except the anchor itself, positives included.
    Anchors without positives are left out of the mean; with none at all the result is 0
    (attached to the graph).

    Args:
        anchors (Tensor): ``(M, P)`` L2-normalised anchor embeddings.
        anchor_labels (Tensor): ``(M,)`` integer labels (person ids).
        keys (Tensor): ``(K, P)`` L2-normalised embeddings the anchors are compared with;
            it contains the anchors themselves.
        key_labels (Tensor): ``(K,)`` integer labels.
        anchor_positions (Tensor): ``(M,)`` index of each anchor within ``keys`` (the entry
            excluded from its denominator and positives).
        temperature (float): ``tau``. Defaults to 0.5.
        scale_by_temperature (bool): Multiply by ``tau`` as the authors do. Defaults to True.

    Returns:
        Tensor: scalar loss.
    """
    logits = anchors @ keys.transpose(0, 1) / temperature  # (M, K)
    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[torch.arange(anchors.shape[0], device=logits.device), anchor_positions] = True
    positive = (anchor_labels.unsqueeze(1) == key_labels.unsqueeze(0)) & ~is_self
    log_denominator = torch.logsumexp(logits.masked_fill(is_self, float('-inf')), dim=1)
    log_prob = logits - log_denominator.unsqueeze(1)
    num_positives = positive.sum(dim=1)
    has_positive = num_positives > 0
    if not bool(has_positive.any()):
        return logits.sum() * 0
    summed = (log_prob * positive).sum(dim=1)
    per_anchor = -summed[has_positive] / num_positives[has_positive]
    loss = per_anchor.mean()
    return loss * temperature if scale_by_temperature else loss


def _distributed_world() -> Tuple[int, int]:
    """``(rank, world_size)``, ``(0, 1)`` without an initialised process group."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_rank(), torch_dist.get_world_size()
    return 0, 1


def _gather_keys(flat: Tensor, num_people: int, num_rois: int,
                 rank: int, world_size: int) -> Tuple[Tensor, Tensor]:
    """All-gather every rank's embeddings; only the local ones keep their gradient.

    Ranks may hold different numbers of people (e.g. a last, smaller batch): the sizes are
    gathered first and the embeddings padded to the largest.

    Returns:
        tuple: ``keys (K, P)`` in rank order and ``key_labels (K,)`` global person ids.
    """
    shape = torch.tensor([num_people, num_rois], device=flat.device)
    shapes = [torch.zeros_like(shape) for _ in range(world_size)]
    torch_dist.all_gather(shapes, shape)
    people = [int(s[0]) for s in shapes]
    rois = {int(s[1]) for s in shapes}
    if len(rois) != 1:
        raise RuntimeError(f'MultiRoIContrastiveLoss: ranks disagree on the number of RoIs per '
                           f'person ({sorted(rois)}); every rank must use the same num_rois.')
    max_rows = max(people) * num_rois
    padded = flat.new_zeros(max_rows, flat.shape[1])
    padded[:flat.shape[0]] = flat.detach()
    gathered = [torch.zeros_like(padded) for _ in range(world_size)]
    torch_dist.all_gather(gathered, padded.contiguous())
    gathered = [chunk[:count * num_rois] for chunk, count in zip(gathered, people)]
    gathered[rank] = flat
    key_labels = torch.arange(sum(people), device=flat.device).repeat_interleave(num_rois)
    return torch.cat(gathered), key_labels


def multi_roi_supcon_loss(z: Tensor,
                          temperature: float = DEFAULT_TEMPERATURE,
                          scale_by_temperature: bool = True,
                          gather_distributed: bool = True) -> Tensor:
    """SupCon over the ``B * N`` RoIs with label = person (docs/method.md#contrastive-loss).

    Positives of a RoI are the other RoIs of its person; every other RoI in the batch is a
    negative. Under ``torch.distributed`` with ``gather_distributed``, every rank gathers
    all ranks' embeddings (the other ranks' without gradient) and evaluates the loss of the
    whole global batch: all RoIs are anchors, labelled by global person id. The value is
    that global loss on every rank; the gradient is scaled by the world size, so that DDP's
    mean over ranks of ``world_size * d L / d z_local`` is exactly ``d L / d theta`` of the
    concatenated batch - 2x4 DDP trains like 1x8. (Keeping only the local anchors, as many
    implementations do, drops the terms in which this rank's RoIs are the *other* ranks'
    negatives; measured on the tiny DDP test, that alone moves the loss curve by 8e-3
    relative.) No collective runs in the backward pass, so nothing can interleave with
    DDP's gradient all-reduce.

    Args:
        z (Tensor): ``(B, N, P)`` L2-normalised embeddings, RoI-major per person.
        temperature (float): ``tau``. Defaults to 0.5.
        scale_by_temperature (bool): Multiply by ``tau``. Defaults to True.
        gather_distributed (bool): Under DDP, evaluate the loss on all ranks' RoIs (the
            global batch). Defaults to True.

    Returns:
        Tensor: scalar loss.
    """
    if z.dim() != 3:
        raise ValueError(f'multi_roi_supcon_loss: z must have shape (B, N, P), got '
                         f'{tuple(z.shape)}.')
    num_people, num_rois = z.shape[:2]
    flat = z.reshape(num_people * num_rois, -1)
    labels = torch.arange(num_people, device=z.device).repeat_interleave(num_rois)
    rank, world_size = _distributed_world()
    distributed = gather_distributed and world_size > 1
    if distributed:
        flat, labels = _gather_keys(flat, num_people, num_rois, rank, world_size)
    positions = torch.arange(flat.shape[0], device=z.device)
    loss = supcon_loss(flat, labels, flat, labels, positions, temperature, scale_by_temperature)
    if distributed:
        # Value: the global loss. Gradient: world_size * d loss / d z_local, which DDP's
        # mean over the ranks turns into the gradient of the global loss.
        return loss + (world_size - 1) * (loss - loss.detach())
    return loss


@MODELS.register_module()
class MultiRoIContrastiveLoss(nn.Module):
    """Contrastive loss pulling together the RoI features of one person.

    See docs/method.md#contrastive-loss.

    Each RoI's pooled backbone feature ``f`` (before fusion) goes through an optional gate
    (``'silu'``: ``f * sigmoid(f)``, which equals the authors' ``f * sigmoid(relu(f))`` for
    the non-negative pooled features of a ReLU backbone) and the loss's own projection head
    ``Linear(D, P) -> BN -> ReLU -> Linear(P, P, bias=False) -> BN`` (as the authors';
    ``P = D`` unless ``proj_channels`` reduces it), is L2-normalised and enters
    :func:`multi_roi_supcon_loss` with label = person. The head is trained with the model
    and only used by this loss.

    Args:
        in_channels (int): Feature size ``D``.
        temperature (float): ``tau``. Defaults to 0.5.
        scale_by_temperature (bool): Multiply by ``tau`` as the authors do. Defaults to True.
        gather_distributed (bool): Under DDP, contrast all ranks' RoIs (the global batch), so
            2x4 DDP trains like 1x8. Defaults to True.
        loss_weight (float): Multiplies the loss. Defaults to 1.0.
        gate (str, optional): ``'silu'`` (default, the authors' gate) or None.
        proj_channels (int, optional): Projection size ``P``; None keeps ``D``.
    """

    def __init__(self,
                 in_channels: int,
                 temperature: float = DEFAULT_TEMPERATURE,
                 scale_by_temperature: bool = True,
                 gather_distributed: bool = True,
                 loss_weight: float = 1.0,
                 gate: Optional[str] = 'silu',
                 proj_channels: Optional[int] = None) -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f'MultiRoIContrastiveLoss: gate must be one of {GATES}, got '
                             f'{gate!r}.')
        if temperature <= 0:
            raise ValueError(f'MultiRoIContrastiveLoss: temperature must be > 0, got '
                             f'{temperature!r}.')
        self.in_channels = in_channels
        self.temperature = temperature
        self.scale_by_temperature = scale_by_temperature
        self.gather_distributed = gather_distributed
        self.loss_weight = loss_weight
        self.gate = gate
        proj_channels = in_channels if proj_channels is None else proj_channels
        self.projector = nn.Sequential(
            nn.Linear(in_channels, proj_channels),
            nn.BatchNorm1d(proj_channels),
            nn.ReLU(inplace=True),
            nn.Linear(proj_channels, proj_channels, bias=False),
            nn.BatchNorm1d(proj_channels),
        )

    def embed(self, feats: Tensor) -> Tensor:
        """Gate, project and L2-normalise: ``(B, N, D) -> (B, N, P)`` unit vectors."""
        num_people, num_rois = feats.shape[:2]
        flat = feats.reshape(num_people * num_rois, self.in_channels)
        if self.gate == 'silu':
            flat = F.silu(flat)
        projected = self.projector(flat)
        if projected.dtype in _LOW_PRECISION:
            # exp(z.z / tau) and its log-sum are computed in float32 under mixed precision.
            projected = projected.float()
        return F.normalize(projected, dim=-1).view(num_people, num_rois, -1)

    def forward(self, feats: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            feats (Tensor): ``(B, N, D)`` pooled backbone features of each RoI.

        Returns:
            Tensor: scalar loss; 0 (attached to the graph, including the projection head so
            DDP sees every parameter used) when N = 1 or B * N < 2.
        """
        if feats.dim() != 3 or feats.shape[-1] != self.in_channels:
            raise ValueError(f'MultiRoIContrastiveLoss: feats must have shape (B, N, '
                             f'{self.in_channels}) (in_channels), got {tuple(feats.shape)}.')
        num_people, num_rois = feats.shape[:2]
        if num_rois < 2 or num_people * num_rois < 2:
            zero = feats.sum() * 0
            for param in self.projector.parameters():
                zero = zero + param.sum() * 0
            return zero
        loss = multi_roi_supcon_loss(
            self.embed(feats), self.temperature, self.scale_by_temperature,
            self.gather_distributed)
        return self.loss_weight * loss
