"""Iterative error feedback regressor (HMR / SPIN / CLIFF) and its SMPL mean parameters."""
import os
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.geometry import (
    BBOX_INFO_CHANNELS,
    DEFAULT_CROP_CAMERA,
    rot6d_to_rotmat,
    rotmat_to_rot6d,
)
from mroi_plugin.registry import MODELS
from mroi_plugin.utils.typing_utils import OptConfigType

__all__ = [
    'IterativeRegressor', 'bbox_info_regressor', 'load_mean_params', 'default_mean_params',
    'NUM_SMPL_JOINTS', 'ROT6D_CHANNELS', 'check_head_inputs'
]

ArrayLike = Union[Tensor, np.ndarray, Sequence[float]]

# SMPL: global orientation + 23 body joints, each as a 6D rotation (SPIN/CLIFF layout).
NUM_SMPL_JOINTS = 24
ROT6D_CHANNELS = 6
# HMR/SPIN/CLIFF defaults: three feedback iterations, 1024-wide hidden layers, dropout 0.5,
# and Xavier gain 0.01 on the output layers so the first prediction stays near the mean.
DEFAULT_NUM_ITERS = 3
DEFAULT_HIDDEN_CHANNELS = 1024
DEFAULT_DROPOUT = 0.5
DEFAULT_OUTPUT_INIT_GAIN = 0.01

_MEAN_PARAM_SIZES = {'pose': NUM_SMPL_JOINTS * ROT6D_CHANNELS, 'cam': 3}


def default_mean_params(num_betas: int = 10) -> Dict[str, Tensor]:
    """Start values when no ``smpl_mean_params.npz`` is given.

    Args:
        num_betas (int): Number of shape coefficients.

    Returns:
        dict[str, Tensor]: ``pose (144,)`` identity rotations in 6D, ``shape (num_betas,)``
        zeros, ``cam (3,)`` = ``DEFAULT_CROP_CAMERA`` (SPIN's); float32.
    """
    identity = rotmat_to_rot6d(torch.eye(3, dtype=torch.float32))
    return dict(
        pose=identity.repeat(NUM_SMPL_JOINTS),
        shape=torch.zeros(num_betas),
        cam=torch.tensor(DEFAULT_CROP_CAMERA, dtype=torch.float32))


def load_mean_params(path: Optional[str],
                     num_betas: int = 10,
                     scale_param: str = 'linear') -> Dict[str, Tensor]:
    """Read SPIN/CLIFF's ``smpl_mean_params.npz`` (or give the defaults for ``None``).

    The file holds ``pose (144,)`` (24 mean rotations, 6D), ``shape (10,)`` (mean betas) and
    ``cam (3,)``. With ``num_betas > 10`` the extra betas start at 0; with fewer, the first
    ``num_betas`` are kept. A file written by
    :func:`mroi_plugin.datasets.mean_params.write_mean_params` also holds
    ``cam_log_scale``, the mean of ``log s``: a regressor of ``log s`` starts there (the
    mean of the parameter it regresses) rather than at ``log`` of the mean ``s``.

    Args:
        path (str, optional): Path of the ``.npz`` file; None gives
            :func:`default_mean_params`.
        num_betas (int): Number of shape coefficients the model predicts.
        scale_param (str): How the model regresses the crop scale (``'linear'`` or
            ``'log'``, see :func:`mroi_plugin.geometry.decode_crop_camera`).

    Returns:
        dict[str, Tensor]: ``pose (144,)``, ``shape (num_betas,)``, ``cam (3,)``; float32.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a readable ``.npz``, lacks a key, or has a wrong shape or
            non-finite values.
    """
    if path is None:
        return default_mean_params(num_betas)
    path = os.fspath(path)
    hint = ('point mean_params to SPIN/CLIFF\'s smpl_mean_params.npz (keys pose (144,), '
            'shape (10,), cam (3,)), or set mean_params=None to start from the identity pose, '
            'zero betas and camera (0.9, 0, 0)')
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SMPL mean parameters file '{path}' does not exist: {hint}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"Cannot read SMPL mean parameters file '{path}' as .npz ({error}): "
                         f'{hint}.') from error
    params = {}
    for key in ('pose', 'shape', 'cam'):
        if key not in arrays:
            raise ValueError(f"SMPL mean parameters file '{path}' has no key '{key}' (keys: "
                             f'{sorted(arrays)}): {hint}.')
        value = arrays[key].reshape(-1).astype(np.float32)
        expected = _MEAN_PARAM_SIZES.get(key)
        if (expected is not None and value.size != expected) or value.size == 0:
            raise ValueError(f"SMPL mean parameters file '{path}': key '{key}' has shape "
                             f'{arrays[key].shape}, expected ({expected or 10},): {hint}.')
        if not np.isfinite(value).all():
            raise ValueError(f"SMPL mean parameters file '{path}': key '{key}' has non-finite "
                             f'values.')
        params[key] = torch.from_numpy(value)
    shape = params['shape'][:num_betas]
    params['shape'] = torch.cat([shape, shape.new_zeros(num_betas - shape.numel())])
    log_scale = arrays.get('cam_log_scale')
    if scale_param == 'log' and log_scale is not None and np.isfinite(log_scale).all():
        params['cam'][0] = float(np.exp(log_scale))
    return params


@MODELS.register_module()
class IterativeRegressor(BaseModule):
    """Iterative error feedback (HMR, SPIN, CLIFF; docs/method.md#mesh-decoder).

    Starting from fixed (not learnt) values ``theta_0`` (e.g. the SMPL mean parameters),
    for ``t = 1..num_iters``::

        x       = [feat ; cond ; theta_{t-1}]            (theta: the outputs, in order)
        h       = dropout(act(fc2(dropout(act(fc1(x))))))   fc1: -> hidden, fc2: hidden -> hidden
        theta_t = theta_{t-1} + [dec_k(h) for each output k]

    ``act`` is the identity by default, as in SPIN/CLIFF (``act_cfg=dict(type='ReLU')``
    adds one). The output layers ``dec_k`` get Xavier-uniform weights with a small gain and
    zero biases (SPIN leaves PyTorch's default biases), so the first prediction is the start
    value up to a small perturbation.

    Args:
        in_channels (int): Size of the image feature.
        init_params (Mapping[str, array-like]): Named outputs and their start values, each a
            1-D vector; e.g. ``dict(pose=(144,), shape=(10,), cam=(3,))``. Stored as buffers
            ``init_<name>``; the order of the mapping is the order in ``x``.
        cond_channels (int): Size of the conditioning vector (e.g. 3 for bbox_info); 0 for
            none. Defaults to 0.
        num_iters (int): Feedback iterations. Defaults to 3.
        hidden_channels (int): Width of fc1 and fc2. Defaults to 1024.
        dropout (float): Dropout probability after fc1 and fc2. Defaults to 0.5.
        act_cfg (dict, optional): Activation after fc1 and fc2; None (default) for none.
        output_init_gain (float): Xavier gain of the output layers. Defaults to 0.01.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 init_params: Mapping[str, ArrayLike],
                 cond_channels: int = 0,
                 num_iters: int = DEFAULT_NUM_ITERS,
                 hidden_channels: int = DEFAULT_HIDDEN_CHANNELS,
                 dropout: float = DEFAULT_DROPOUT,
                 act_cfg: OptConfigType = None,
                 output_init_gain: float = DEFAULT_OUTPUT_INIT_GAIN,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_iters < 1:
            raise ValueError(f'IterativeRegressor: num_iters must be >= 1, got {num_iters!r}.')
        if not init_params:
            raise ValueError('IterativeRegressor: init_params must name at least one output, '
                             'e.g. dict(cam=(0.9, 0.0, 0.0)).')
        self.in_channels = in_channels
        self.cond_channels = cond_channels
        self.num_iters = num_iters
        self.output_channels: Dict[str, int] = {}
        for name, value in init_params.items():
            value = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1)
            if value.numel() == 0:
                raise ValueError(f"IterativeRegressor: init_params['{name}'] is empty.")
            self.register_buffer(f'init_{name}', value.clone())
            self.output_channels[name] = value.numel()
        total_in = in_channels + cond_channels + sum(self.output_channels.values())
        layers: List[nn.Module] = [nn.Linear(total_in, hidden_channels)]
        if act_cfg is not None:
            layers.append(build_activation_layer(dict(act_cfg)))
        layers += [nn.Dropout(dropout), nn.Linear(hidden_channels, hidden_channels)]
        if act_cfg is not None:
            layers.append(build_activation_layer(dict(act_cfg)))
        layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)
        decoders = {
            name: nn.Linear(hidden_channels, channels)
            for name, channels in self.output_channels.items()
        }
        for decoder in decoders.values():
            nn.init.xavier_uniform_(decoder.weight, gain=output_init_gain)
            nn.init.zeros_(decoder.bias)
        self.decoders = nn.ModuleDict(decoders)

    def init_value(self, name: str) -> Tensor:
        """The start value of output ``name``, ``(channels,)``."""
        return getattr(self, f'init_{name}')

    def forward(self,
                feat: Tensor,
                cond: Optional[Tensor] = None,
                init: Optional[Mapping[str, Tensor]] = None) -> Dict[str, Tensor]:
        """Run the feedback iterations.

        Args:
            feat (Tensor): ``(.., in_channels)`` image features.
            cond (Tensor, optional): ``(.., cond_channels)`` conditioning (e.g. bbox_info);
                required iff ``cond_channels > 0``.
            init (Mapping[str, Tensor], optional): Start values overriding the buffers, each
                ``(.., channels)`` or ``(channels,)``.

        Returns:
            dict[str, Tensor]: ``name -> (.., channels)`` final estimates.
        """
        if feat.shape[-1] != self.in_channels:
            raise ValueError(f'IterativeRegressor: feat must have shape (..., '
                             f'{self.in_channels}), got {tuple(feat.shape)}.')
        lead = feat.shape[:-1]
        parts = [feat]
        if self.cond_channels:
            if cond is None or cond.shape != (*lead, self.cond_channels):
                got = None if cond is None else tuple(cond.shape)
                raise ValueError(f'IterativeRegressor: cond must have shape '
                                 f'{(*lead, self.cond_channels)}, got {got}.')
            parts.append(cond.to(feat.dtype))
        elif cond is not None:
            raise ValueError('IterativeRegressor: got cond but cond_channels=0; set '
                             'cond_channels to its size.')
        init = dict(init or {})
        unknown = set(init) - set(self.output_channels)
        if unknown:
            raise ValueError(f'IterativeRegressor: unknown outputs {sorted(unknown)} in init; '
                             f'outputs are {list(self.output_channels)}.')
        params = {}
        for name, channels in self.output_channels.items():
            start = init.get(name, self.init_value(name)).to(feat.dtype)
            params[name] = start.expand(*lead, channels)
        for _ in range(self.num_iters):
            x = torch.cat(parts + list(params.values()), dim=-1)
            hidden = self.layers(x)
            params = {name: value + self.decoders[name](hidden) for name, value in params.items()}
        return params


def bbox_info_regressor(in_channels: int,
                        init_params: Mapping[str, ArrayLike],
                        settings: Mapping[str, Any],
                        extra_cond_channels: int = 0) -> IterativeRegressor:
    """The regressor of every head: an :class:`IterativeRegressor` conditioned on bbox_info.

    Args:
        in_channels (int): Size of the image feature.
        init_params (Mapping[str, array-like]): Named outputs and their start values.
        settings (Mapping[str, Any]): The head's regressor settings, any of ``num_iters``,
            ``hidden_channels``, ``dropout`` and ``act_cfg``.
        extra_cond_channels (int): Conditioning channels after the 3 of bbox_info (e.g. the
            RoI layout). Defaults to 0.

    Returns:
        IterativeRegressor: The regressor, its parameters created in the usual order.
    """
    return IterativeRegressor(
        in_channels,
        init_params=init_params,
        cond_channels=BBOX_INFO_CHANNELS + extra_cond_channels,
        **settings)


def check_head_inputs(head: str, in_channels: int, roi_feats: Tensor,
                      shared_feat: Optional[Tensor], bbox_info: Tensor) -> None:
    """Validate the ``(roi_feats, shared_feat, bbox_info)`` a head receives.

    Args:
        head (str): Class name used in the error message.
        in_channels (int): Expected feature size ``D``.
        roi_feats (Tensor): ``(B, N, D)``.
        shared_feat (Tensor, optional): ``(B, D)``.
        bbox_info (Tensor): ``(B, N, 3)``.
    """
    if roi_feats.dim() != 3 or roi_feats.shape[-1] != in_channels:
        raise ValueError(f'{head}: roi_feats must have shape (B, N, {in_channels}) '
                         f'(in_channels), got {tuple(roi_feats.shape)}.')
    batch, num_rois = roi_feats.shape[:2]
    if bbox_info.shape != (batch, num_rois, 3):
        raise ValueError(f'{head}: bbox_info must have shape (B, N, 3) = {(batch, num_rois, 3)}'
                         f' to match roi_feats, got {tuple(bbox_info.shape)}.')
    if shared_feat is not None and shared_feat.shape != (batch, in_channels):
        raise ValueError(f'{head}: shared_feat must have shape (B, D) = {(batch, in_channels)},'
                         f' got {tuple(shared_feat.shape)}.')


def head_outputs(pose6d: Tensor, betas: Tensor, cam_crop: Tensor) -> Dict[str, Tensor]:
    """The output dict every head returns to the estimator.

    Args:
        pose6d (Tensor): ``(B, 24 * 6)`` pose of each person in 6D.
        betas (Tensor): ``(B, num_betas)``.
        cam_crop (Tensor): ``(B, N, 3)`` crop camera ``(s, tx, ty)`` of each RoI.

    Returns:
        dict[str, Tensor]: ``pred_rotmat (B, 24, 3, 3)``, ``pred_pose6d``, ``pred_betas`` and
        ``pred_cam_crop``.
    """
    rotmat = rot6d_to_rotmat(pose6d.reshape(-1, NUM_SMPL_JOINTS, ROT6D_CHANNELS))
    return dict(pred_rotmat=rotmat, pred_pose6d=pose6d, pred_betas=betas, pred_cam_crop=cam_crop)
