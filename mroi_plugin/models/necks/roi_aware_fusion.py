"""RoI-aware fusion of the features of a person's RoIs (Multi-RoI HMR).

See docs/method.md#roi-aware-fusion.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.geometry import BBOX_INFO_CHANNELS
from mroi_plugin.registry import MODELS
from mroi_plugin.utils.typing_utils import OptConfigType

from .positional_encoding import DEFAULT_NUM_FREQS, NeRFPositionalEncoding

__all__ = ['RoIAwareFusion']


POS_ENCODINGS = ('relative', 'absolute', 'none')
LOGIT_ACTIVATIONS = (None, 'tanh')


@MODELS.register_module()
class RoIAwareFusion(BaseModule):
    """Fuse the pooled features of a person's N RoIs by learnt, position-aware weights.

    For every query RoI ``i`` and key RoI ``j`` of the same person (docs/method.md#fusion-weights)::

        r_ij = PE(info_i - info_j)      ('relative', the paper's best variant)
             | PE(info_j)               ('absolute')
             | (nothing)                ('none')
        a_ij = MLP([f_j ; r_ij])        -> scalar logit
        w_ij = softmax_j(a_ij)
        F_i  = sum_j w_ij f_j           (RoI-specific fused feature)
        F̄    = mean_i F_i               (RoI-shared feature)

    The MLP scores each (query, key) pair on its own:
    ``Linear(D + P -> h_0) -> act -> Linear(h_0 -> h_1) -> act -> ... -> Linear(h_last -> 1)``
    with ``P`` the encoding size (0 for 'none') and ``hidden_channels = (h_0, h_1, ...)``;
    ``hidden_channels=()`` gives the paper's plain ``Linear([f_j ; r_ij]) -> scalar``. The
    first layer is evaluated as ``W_f f_j + W_r r_ij + b`` (the same map as a Linear on the
    concatenation), so the feature half is computed once per RoI rather than once per pair.
    Unlike the authors' code (which concatenates the N pair embeddings and maps them to N
    logits, tying the module to one N), the scores are per pair, so the module is
    equivariant to the order of the RoIs and works for any N, including N = 1.

    The logits are not bounded by default. The authors pass them through tanh, which caps the
    weight ratio at e^2 and keeps the weights near uniform; ``logit_activation='tanh'``
    reproduces that, and mroi's configs use it: unbounded, the quickstart's attention
    collapsed (without L_con every query attended only to itself, with it every query put
    0.94-1.0 of its weight on one RoI), which is no fusion at all.

    With 'none' and 'absolute' the weights do not depend on the query RoI, so all ``F_i`` are
    equal (the ablation rows of the paper). ``fusion=False`` is the "w/o RAF" ablation:
    ``F_i = f_i`` and ``F̄ = mean_i f_i``; the module then has no parameters and the other
    arguments are not used.

    Args:
        in_channels (int): Feature size ``D`` of each RoI (2048 for ResNet-50, 720 for
            HRNet-W48).
        pos_encoding (str): ``'relative'`` (default), ``'absolute'`` or ``'none'``.
        num_freqs (int): Frequencies ``L`` of the NeRF encoding. Defaults to 32 (paper).
        include_input (bool): Keep the raw vector in the encoding. Defaults to True.
        hidden_channels (int | Sequence[int]): Hidden sizes of the scoring MLP.
            Defaults to ``(256, 256)`` (the authors' hidden size).
        act_cfg (dict, optional): Activation between MLP layers; None gives ReLU.
        logit_activation (str, optional): None (default) or ``'tanh'`` (authors' code).
        fusion (bool): False turns fusion off (``F_i = f_i``). Defaults to True.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 pos_encoding: str = 'relative',
                 num_freqs: int = DEFAULT_NUM_FREQS,
                 include_input: bool = True,
                 hidden_channels: Union[int, Sequence[int]] = (256, 256),
                 act_cfg: OptConfigType = None,
                 logit_activation: Optional[str] = None,
                 fusion: bool = True,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pos_encoding not in POS_ENCODINGS:
            raise ValueError(f'RoIAwareFusion: pos_encoding must be one of {POS_ENCODINGS}, '
                             f'got {pos_encoding!r}.')
        if logit_activation not in LOGIT_ACTIVATIONS:
            raise ValueError(f'RoIAwareFusion: logit_activation must be one of '
                             f'{LOGIT_ACTIVATIONS}, got {logit_activation!r}.')
        if in_channels < 1:
            raise ValueError(f'RoIAwareFusion: in_channels must be >= 1, got {in_channels!r}.')
        self.in_channels = in_channels
        self.pos_encoding = pos_encoding
        self.logit_activation = logit_activation
        self.fusion = fusion
        if not fusion:
            return
        act_cfg = dict(type='ReLU') if act_cfg is None else dict(act_cfg)
        if isinstance(hidden_channels, int):
            hidden_channels = (hidden_channels, )
        hidden_channels = tuple(hidden_channels)
        first_out = hidden_channels[0] if hidden_channels else 1

        # First layer of the MLP on [f_j ; r_ij], split into its feature and position halves.
        self.feat_proj = nn.Linear(in_channels, first_out, bias=pos_encoding == 'none')
        if pos_encoding != 'none':
            self.encoding = NeRFPositionalEncoding(
                num_freqs=num_freqs, in_channels=BBOX_INFO_CHANNELS,
                include_input=include_input)
            self.pos_proj = nn.Linear(self.encoding.out_channels, first_out)
        layers = []
        for width_in, width_out in zip(hidden_channels, hidden_channels[1:] + (1, )):
            layers += [build_activation_layer(act_cfg), nn.Linear(width_in, width_out)]
        self.score_mlp = nn.Sequential(*layers)

    def _check_inputs(self, feats: Tensor, bbox_info: Tensor) -> None:
        if feats.dim() != 3 or feats.shape[-1] != self.in_channels:
            raise ValueError(f'RoIAwareFusion: feats must have shape (B, N, {self.in_channels})'
                             f' (in_channels), got {tuple(feats.shape)}.')
        if bbox_info.shape != (*feats.shape[:2], BBOX_INFO_CHANNELS):
            raise ValueError(f'RoIAwareFusion: bbox_info must have shape (B, N, 3) = '
                             f'{(*feats.shape[:2], BBOX_INFO_CHANNELS)} to match feats, got '
                             f'{tuple(bbox_info.shape)}.')

    def attention_logits(self, feats: Tensor, bbox_info: Tensor) -> Tensor:
        """Scores ``a_ij`` before the softmax.

        Args:
            feats (Tensor): ``(B, N, D)`` pooled RoI features ``f_j``.
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info of each RoI (docs/method.md#bbox_info).

        Returns:
            Tensor: ``(B, N, N)``; entry ``[b, i, j]`` scores key ``j`` for query ``i``.
        """
        if not self.fusion:
            raise RuntimeError('RoIAwareFusion(fusion=False) has no attention weights.')
        self._check_inputs(feats, bbox_info)
        num_rois = feats.shape[1]
        hidden = self.feat_proj(feats).unsqueeze(1)  # (B, 1, N_j, H)
        if self.pos_encoding == 'relative':
            # [b, i, j] = info_i - info_j
            rel = bbox_info.unsqueeze(2) - bbox_info.unsqueeze(1)
            hidden = hidden + self.pos_proj(self.encoding(rel).to(hidden.dtype))
        elif self.pos_encoding == 'absolute':
            pos = self.pos_proj(self.encoding(bbox_info).to(hidden.dtype))
            hidden = hidden + pos.unsqueeze(1)
        logits = self.score_mlp(hidden).squeeze(-1)  # (B, N_i or 1, N_j)
        logits = logits.expand(-1, num_rois, -1)
        if self.logit_activation == 'tanh':
            logits = torch.tanh(logits)
        return logits

    def attention_weights(self, feats: Tensor, bbox_info: Tensor) -> Tensor:
        """Fusion weights ``w_ij = softmax_j(a_ij)``; each row sums to 1.

        Args:
            feats (Tensor): ``(B, N, D)`` pooled RoI features.
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info.

        Returns:
            Tensor: ``(B, N, N)`` weights, ``[b, i, j]`` = weight of RoI ``j`` in ``F_i``.
        """
        return self.attention_logits(feats, bbox_info).softmax(dim=-1)

    def forward(self, feats: Tensor, bbox_info: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse RoI features.

        Args:
            feats (Tensor): ``(B, N, D)`` pooled backbone feature of each RoI of B people.
            bbox_info (Tensor): ``(B, N, 3)`` bbox_info of each RoI.

        Returns:
            tuple[Tensor, Tensor]: ``roi_feats (B, N, D)`` (the ``F_i``) and
            ``shared_feat (B, D)`` (``F̄``).
        """
        self._check_inputs(feats, bbox_info)
        if not self.fusion:
            return feats, feats.mean(dim=1)
        weights = self.attention_weights(feats, bbox_info)
        roi_feats = torch.matmul(weights.to(feats.dtype), feats)
        return roi_feats, roi_feats.mean(dim=1)
