"""Convert released CLIFF / Multi-RoI / mmpose checkpoints to ``mroi_plugin`` parameter names.

Supported source layouts (key names read from the public code of each release):

==================  ==============================================================================
format              source
==================  ==============================================================================
``cliff_r50``       CLIFF (huawei-noah/noah-research ``CLIFF/models/cliff_res50/cliff.py``):
                    ``encoder.*`` (SPIN ResNet-50), ``fc1``, ``fc2``, ``decpose``, ``decshape``,
                    ``deccam``, buffers ``init_pose/init_shape/init_cam``; file ``{'model': ...}``.
``cliff_hrnet48``   CLIFF-HR48 (``cliff_hr48/cliff.py``): ``encoder.*`` = HRNet-W48 with the
                    ImageNet classification head (``incre_modules``, ``downsamp_modules``,
                    ``final_layer``; 2048-d feature), same regressor names.
``hrnet_imagenet``  HRNet's ImageNet classifier (HRNet/HRNet-Image-Classification
                    ``cls_hrnet.py``, e.g. ``hrnetv2_w48_imagenet_pretrained.pth``): the same
                    network as CLIFF-HR48's encoder at the top level, plus ``classifier``.
``mroi_r50``        Multi-RoI ``HMR_sim`` (CptDiaos/Multi-RoI ``models/hmr.py``): ResNet-50 at the
                    top level (``conv1``, ``bn1``, ``layer1-4``), ``pos_enc._freqs/_phases``,
                    ``fuse_fc``, ``attention.{0,2,4}``, ``proj_head.{0,1,3,4}``, ``fc1`` (-> 2048),
                    ``fc2`` (2048 -> 1024), ``decpose/decshape/deccam``, ``init_*``.
``mroi_hrnet48``    Multi-RoI ``HMR_sim_hrnet``: as ``mroi_r50`` but ``backbone.*`` =
                    ``models/hrnet_re`` HRNet-W48 with ``final_layer`` (heatmaps) and
                    ``downsample_stage_{1,2,3}`` (the 4-branch aggregation, D = 720).
``mmpose_hrnet48``  mmpose top-down HRNet-W48 (``backbone.*`` + ``head.*``/``keypoint_head.*``);
                    also the official HRNet pose file (same names, no ``backbone.`` prefix).
``mmpose_r50``      mmpose top-down ResNet-50 (SimpleBaseline), same conventions.
==================  ==============================================================================

What maps (and to what):

* Backbones: renamed only (our ``ResNet`` and ``HRNet`` use the torchvision / mmpose names).
* ``downsample_stage_{k}.{i}`` -> ``feature_pooling.downsamples.{k-1}.{i}`` (HRNetAggregation).
* HRNet's classification head ``incre_modules`` / ``downsamp_modules`` / ``final_layer`` ->
  ``feature_pooling.*`` under the same names (:class:`HRNetClsNeck`, configs/cliff/
  cliff_hrnet48.py), so CLIFF-HR48 converts completely, its regressor included.
* CLIFF's regressor -> ``head.regressor.*`` (:class:`CliffHead`): ``fc1 -> layers.0``,
  ``fc2 -> layers.2``, ``decpose/decshape/deccam -> decoders.pose/betas/cam``. Both concatenate
  ``[feature ; bbox_info ; pose ; shape ; cam]`` in this order, so no column moves.
* ``init_pose (1, 144)``, ``init_shape (1, 10)``, ``init_cam (1, 3)`` -> our mean-parameter
  buffers ``init_pose/init_betas/init_cam`` (flattened to 1-D).
* Multi-RoI ``fuse_fc`` (``Linear(D + P -> 256)`` on ``[f_j ; PE(info_i - info_j)]``) ->
  :class:`RoIAwareFusion`'s first layer, which is the same map split in two:
  ``feat_proj.weight = W[:, :D]``, ``pos_proj.weight = W[:, D:]``, ``pos_proj.bias = b`` (both
  encodings use the layout ``[x, sin(w_0 x), cos(w_0 x), ...]``).
* ``proj_head.{0,1,3,4}`` -> ``loss_contrastive.projector.{0,1,3,4}`` (same layers, same order).

What cannot map (reported as unmapped, with the reason, never dropped silently):

* Multi-RoI ``attention.*``: it scores all V RoIs at once from the concatenated V pair
  embeddings (``Linear(256 V -> 256)``); ``RoIAwareFusion`` scores each pair on its own.
* Multi-RoI ``fc1/fc2/dec*``: one regressor on ``[F_i ; all V bbox_infos ; pose ; shape ; cam]``
  with widths 2048/1024, versus our mesh decoder on ``[F̄ ; info_0 ; pose ; betas]`` and
  LocalCamera on ``[F_i ; info_i ; cam]``, both 1024 wide.
* Constant buffers (``pos_enc._freqs/_phases``), heatmap heads (``final_layer``, ``head.*``),
  the ImageNet ``classifier``.

Layers that only work together form a *group* (a regressor; the split ``fuse_fc``): when a
target model is given and one member cannot be placed (shape mismatch, missing key), the whole
group is withheld and reported.
"""
import os
import os.path as osp
import pickle
import re
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .output_files import atomic_output, check_not_same_file, check_output_file

__all__ = [
    'SOURCE_FORMATS', 'ShapeMismatch', 'ConversionReport', 'extract_state_dict',
    'load_source_state_dict', 'detect_format', 'convert_state_dict', 'model_state_shapes',
    'convert_checkpoint'
]

SOURCE_FORMATS = ('cliff_r50', 'cliff_hrnet48', 'mroi_r50', 'mroi_hrnet48', 'mmpose_hrnet48',
                  'mmpose_r50', 'hrnet_imagenet')
AUTO = 'auto'

# Pooled feature size D of the authors' Multi-RoI models (2048 for ResNet-50, 720 for
# HRNet-W48), used to split fuse_fc when the checkpoint has no proj_head to read it from.
_MROI_FEAT_CHANNELS = {'mroi_r50': 2048, 'mroi_hrnet48': 720}
# Encoded bbox_info: a 3-vector (docs/method.md#bbox_info).
_BBOX_INFO_CHANNELS = 3
# DataParallel / DistributedDataParallel wrap every key with this prefix.
_WRAPPER_PREFIX = 'module.'
# Containers under which released checkpoints keep their weights: mmengine/mmpose
# ('state_dict'), CLIFF's and Multi-RoI's trainers ('model').
_STATE_DICT_CONTAINERS = ('state_dict', 'model')
# What torch.load raises for refused globals, corrupt or foreign files.
_LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
                AttributeError, ImportError)
# Shown per list in ConversionReport.summary() unless verbose.
DEFAULT_SUMMARY_KEYS = 12

_RESNET_BODY = r'(?:conv1|bn1|layer[1-4])\..+'
_HRNET_BODY = r'(?:conv1|bn1|conv2|bn2|layer1|transition[1-3]|stage[2-4])\..+'
_HRNET_CLS_HEAD = r'(?:incre_modules|downsamp_modules|final_layer)\..+'

_REASON_PE_BUFFER = ("constant buffer of the authors' PositionalEncoding; "
                     'NeRFPositionalEncoding computes its frequencies itself')
_REASON_FUSION_SCORER = (
    "the authors' fusion scores all V RoIs at once from the concatenation of the V pair "
    'embeddings (Linear(256V->256)-Tanh-Linear(256->256)-Tanh-Linear(256->V)-Tanh), while '
    'RoIAwareFusion scores each (i, j) pair on its own (neck.score_mlp): no counterpart; '
    'neck.score_mlp starts from its own initialisation')
_REASON_MROI_REGRESSOR = (
    "the authors' single regressor reads [F_i ; bbox_info of all V RoIs ; pose ; shape ; cam] "
    'through fc1 (->2048) and fc2 (2048->1024); ours are two 1024-wide regressors on other '
    'inputs (mesh decoder [F_mean ; info_0 ; pose ; betas], LocalCamera [F_i ; info_i ; cam]), '
    'so no layer keeps its meaning (the decoders only work after the fc2 they were trained '
    'with): head.mesh_decoder / head.camera_decoder start from their own initialisation')
_REASON_IMAGENET_CLASSIFIER = ("ImageNet classifier (2048 -> 1000) of HRNet's classification "
                               'network; not part of the HMR model')
_REASON_UNEXPECTED = ('converted key does not exist in the model built from the config '
                      '(unexpected key)')
_REASON_HEATMAP_HEAD = 'keypoint heatmap head of the pose estimator; not part of the HMR model'
_REASON_POSE_HRNET_HEAD = ("heatmap layer of the authors' PoseHighResolutionNet; "
                           'HMR_sim_hrnet never uses it')


@dataclass
class ShapeMismatch:
    """A converted tensor whose shape differs from the target model's parameter.

    Attributes:
        source_key (str): Key in the source checkpoint.
        target_key (str): Key in our model.
        converted_shape (tuple[int]): Shape after conversion.
        target_shape (tuple[int]): Shape the model expects.
    """

    source_key: str
    target_key: str
    converted_shape: Tuple[int, ...]
    target_shape: Tuple[int, ...]

    def __str__(self) -> str:
        return (f'{self.source_key} -> {self.target_key}: converted '
                f'{tuple(self.converted_shape)}, model expects {tuple(self.target_shape)}')


@dataclass
class ConversionReport:
    """What a conversion did.

    Attributes:
        source_format (str): One of :data:`SOURCE_FORMATS`.
        mapped (dict[str, list[str]]): Source key -> the target keys written from it.
        unmapped (dict[str, str]): Source key -> why nothing was written from it (shape
            mismatches are listed in ``shape_mismatches`` instead).
        unexpected (dict[str, list[str]]): Source key -> its converted keys that the target
            model does not have (these source keys are also in ``unmapped``).
        missing (list[str]): Target-model keys the conversion did not fill, in model order
            (empty when no target model was given).
        shape_mismatches (list[ShapeMismatch]): Converted tensors that do not fit the model.
        target_checked (bool): Whether target names and shapes were checked against a model.
        notes (list[str]): Other remarks (e.g. how the target model was built).
    """

    source_format: str
    mapped: Dict[str, List[str]] = field(default_factory=dict)
    unmapped: Dict[str, str] = field(default_factory=dict)
    unexpected: Dict[str, List[str]] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    shape_mismatches: List[ShapeMismatch] = field(default_factory=list)
    target_checked: bool = False
    notes: List[str] = field(default_factory=list)

    @property
    def num_target_keys(self) -> int:
        """Number of tensors written."""
        return sum(len(targets) for targets in self.mapped.values())

    def summary(self, max_keys: Optional[int] = DEFAULT_SUMMARY_KEYS) -> str:
        """Human-readable report.

        Args:
            max_keys (int, optional): Keys shown per list (None: all).

        Returns:
            str: Multi-line summary: mapped, unmapped source keys (grouped by reason),
            missing target keys, shape mismatches.
        """

        def clip(items: Sequence[str], indent: str) -> List[str]:
            shown = list(items) if max_keys is None else list(items)[:max_keys]
            lines = [f'{indent}{item}' for item in shown]
            if len(shown) < len(items):
                lines.append(f'{indent}... ({len(items) - len(shown)} more; --verbose lists '
                             'all)')
            return lines

        total = len(
            set(self.mapped) | set(self.unmapped) | {m.source_key for m in self.shape_mismatches})
        lines = [f"Source format '{self.source_format}': {total} source keys."]
        lines.append(f'  mapped: {len(self.mapped)} source keys -> {self.num_target_keys} '
                     'target keys')
        lines.append(f'  unmapped source keys: {len(self.unmapped)}')
        by_reason: Dict[str, List[str]] = OrderedDict()
        for key, reason in self.unmapped.items():
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            lines.append(f'    [{len(keys)}] {reason}:')
            lines += clip([
                f"{key} -> {', '.join(self.unexpected[key])}" if key in self.unexpected else key
                for key in keys
            ], '      ')
        if self.target_checked:
            lines.append(f'  missing target keys (model keys left at their initial values): '
                         f'{len(self.missing)}')
            lines += clip(self.missing, '    ')
            lines.append(f'  shape mismatches: {len(self.shape_mismatches)}')
            lines += clip([str(m) for m in self.shape_mismatches], '    ')
        else:
            lines.append('  target model not checked (no config given): missing target keys and '
                         'shape mismatches unknown')
        lines += [f'  note: {note}' for note in self.notes]
        return '\n'.join(lines)

    def to_meta(self) -> Dict[str, Any]:
        """Plain-Python record for the converted checkpoint's ``meta`` (safe to unpickle)."""
        return dict(
            source_format=self.source_format,
            num_mapped_source_keys=len(self.mapped),
            unmapped_source_keys=dict(self.unmapped),
            unexpected_keys={k: list(v) for k, v in self.unexpected.items()},
            missing_target_keys=list(self.missing),
            shape_mismatches=[str(m) for m in self.shape_mismatches],
            target_checked=self.target_checked)


# --------------------------------------------------------------------------- rules
# An action gets the regex match and the tensor and returns either {target key: tensor} or a
# string: the reason the key is not mapped.
_Action = Callable[[re.Match, Tensor, '_Context'], Union[Dict[str, Tensor], str]]


@dataclass
class _Context:
    """Facts about the source checkpoint that some actions need."""

    feat_channels: Optional[int] = None


@dataclass(frozen=True)
class _Rule:
    pattern: str
    action: _Action
    group: Optional[str] = None


def _rename(template: str) -> _Action:
    """Same tensor under ``match.expand(template)``."""
    return lambda match, tensor, ctx: {match.expand(template): tensor}


def _flatten(target: str) -> _Action:
    """SPIN/CLIFF keep the mean parameters as ``(1, C)`` buffers; ours are ``(C,)``."""
    return lambda match, tensor, ctx: {target: tensor.reshape(-1)}


def _drop(reason: str) -> _Action:
    return lambda match, tensor, ctx: reason


def _downsample_stage(match: re.Match, tensor: Tensor, ctx: _Context) -> Dict[str, Tensor]:
    """``downsample_stage_{k}.{rest}`` -> ``feature_pooling.downsamples.{k-1}.{rest}``."""
    return {f'feature_pooling.downsamples.{int(match.group(1)) - 1}.{match.group(2)}': tensor}


def _split_fuse_fc(match: re.Match, tensor: Tensor, ctx: _Context) -> Union[Dict[str, Tensor],
                                                                           str]:
    """``Linear([f ; PE]) = W_f f + W_r PE + b``: the columns split into our two halves."""
    feat = ctx.feat_channels
    if tensor.dim() != 2 or feat is None or tensor.shape[1] <= feat:
        return (f'cannot split fuse_fc.weight of shape {tuple(tensor.shape)} into feature '
                f'({feat}) and position columns')
    pos = tensor.shape[1] - feat
    # A NeRF encoding of a 3-vector with the input kept has 3 (2 L + 1) channels.
    if pos % _BBOX_INFO_CHANNELS or (pos // _BBOX_INFO_CHANNELS) % 2 != 1:
        return (f'fuse_fc.weight has {pos} position columns after the {feat} feature columns, '
                f'not 3 (2L + 1) for a NeRF encoding of bbox_info')
    return {
        'neck.feat_proj.weight': tensor[:, :feat].clone(),
        'neck.pos_proj.weight': tensor[:, feat:].clone()
    }


def _cliff_rules(encoder_body: str, hrnet48: bool) -> List[_Rule]:
    rules = [_Rule(rf'^encoder\.({encoder_body})$', _rename(r'backbone.\1'))]
    if hrnet48:
        # HRNetClsNeck keeps cls_hrnet's names: the 2048-d feature fc1 was trained on.
        rules.append(_Rule(rf'^encoder\.({_HRNET_CLS_HEAD})$', _rename(r'feature_pooling.\1'),
                           group='feature_pooling'))
    for source, target in (('fc1', 'layers.0'), ('fc2', 'layers.2'),
                           ('decpose', 'decoders.pose'), ('decshape', 'decoders.betas'),
                           ('deccam', 'decoders.cam')):
        rules.append(_Rule(rf'^{source}\.(weight|bias)$',
                           _rename(rf'head.regressor.{target}.\1'), group='regressor'))
    rules += [
        _Rule(r'^init_pose$', _flatten('head.regressor.init_pose')),
        _Rule(r'^init_shape$', _flatten('head.regressor.init_betas')),
        _Rule(r'^init_cam$', _flatten('head.regressor.init_cam')),
    ]
    return rules


def _mroi_rules(backbone_rules: List[_Rule]) -> List[_Rule]:
    return backbone_rules + [
        _Rule(r'^pos_enc\._(?:freqs|phases)$', _drop(_REASON_PE_BUFFER)),
        _Rule(r'^fuse_fc\.weight$', _split_fuse_fc, group='fusion_input'),
        _Rule(r'^fuse_fc\.bias$', _rename('neck.pos_proj.bias'), group='fusion_input'),
        _Rule(r'^attention\.\d+\.(?:weight|bias)$', _drop(_REASON_FUSION_SCORER)),
        _Rule(r'^proj_head\.([0134])\.(.+)$', _rename(r'loss_contrastive.projector.\1.\2')),
        _Rule(r'^(?:fc1|fc2|decpose|decshape|deccam)\.(?:weight|bias)$',
              _drop(_REASON_MROI_REGRESSOR)),
        _Rule(r'^init_pose$', _flatten('head.mesh_decoder.init_pose')),
        _Rule(r'^init_shape$', _flatten('head.mesh_decoder.init_betas')),
        _Rule(r'^init_cam$', _flatten('head.camera_decoder.regressor.init_cam')),
    ]


def _mmpose_rules(body: str) -> List[_Rule]:
    return [
        _Rule(rf'^(?:backbone\.)?({body})$', _rename(r'backbone.\1')),
        _Rule(r'^(?:head|keypoint_head)\..+$|^(?:final_layer|deconv_layers)\..+$',
              _drop(_REASON_HEATMAP_HEAD)),
    ]


_RULES: Dict[str, List[_Rule]] = {
    'cliff_r50': _cliff_rules(_RESNET_BODY, hrnet48=False),
    'cliff_hrnet48': _cliff_rules(_HRNET_BODY, hrnet48=True),
    'mroi_r50': _mroi_rules([_Rule(rf'^({_RESNET_BODY})$', _rename(r'backbone.\1'))]),
    'mroi_hrnet48': _mroi_rules([
        _Rule(rf'^backbone\.({_HRNET_BODY})$', _rename(r'backbone.\1')),
        _Rule(r'^backbone\.final_layer\.(?:weight|bias)$', _drop(_REASON_POSE_HRNET_HEAD)),
        _Rule(r'^backbone\.downsample_stage_([1-3])\.(\d+\..+)$', _downsample_stage),
    ]),
    'mmpose_hrnet48': _mmpose_rules(_HRNET_BODY),
    'mmpose_r50': _mmpose_rules(_RESNET_BODY),
    'hrnet_imagenet': [
        _Rule(rf'^({_HRNET_BODY})$', _rename(r'backbone.\1')),
        _Rule(rf'^({_HRNET_CLS_HEAD})$', _rename(r'feature_pooling.\1'), group='feature_pooling'),
        _Rule(r'^classifier\.(?:weight|bias)$', _drop(_REASON_IMAGENET_CLASSIFIER)),
    ],
}
_COMPILED = {
    fmt: [(re.compile(rule.pattern), rule) for rule in rules] for fmt, rules in _RULES.items()
}


# --------------------------------------------------------------------------- input
def extract_state_dict(checkpoint: Mapping[str, Any],
                       source: str = 'checkpoint') -> Dict[str, Tensor]:
    """Find the weights in a loaded checkpoint and strip a ``module.`` wrapper prefix.

    Args:
        checkpoint (Mapping): What ``torch.load`` returned: a state dict, or a dict holding
            one under ``'state_dict'`` (mmengine, mmpose) or ``'model'`` (CLIFF, Multi-RoI).
        source (str): Name used in error messages (e.g. the file path).

    Returns:
        OrderedDict[str, Tensor]: The state dict.

    Raises:
        ValueError: Not a mapping, empty, or holding non-tensor values.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f'{source}: expected a dict (a state dict, or one under '
                         f"'state_dict'/'model'), got {type(checkpoint).__name__}.")
    state_dict = checkpoint
    for container in _STATE_DICT_CONTAINERS:
        if isinstance(checkpoint.get(container), Mapping):
            state_dict = checkpoint[container]
            break
    if not state_dict:
        raise ValueError(f'{source}: the state dict is empty (top-level keys: '
                         f'{sorted(map(str, checkpoint))[:10]}).')
    bad = [str(k) for k, v in state_dict.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f'{source}: found no state dict; the keys {bad[:5]} do not hold '
                         f"tensors. Weights must be the file itself or under 'state_dict' or "
                         f"'model' (top-level keys: {sorted(map(str, checkpoint))[:10]}).")
    keys = list(state_dict)
    if all(k.startswith(_WRAPPER_PREFIX) for k in keys):
        keys = [k[len(_WRAPPER_PREFIX):] for k in keys]
    return OrderedDict(zip(keys, state_dict.values()))


def load_source_state_dict(path: str, unsafe_load: bool = False) -> Dict[str, Tensor]:
    """Read a released checkpoint file to CPU and extract its state dict.

    Args:
        path (str): ``.pt`` / ``.pth`` file.
        unsafe_load (bool): Use ``torch.load(weights_only=False)``, which can run code stored
            in the file: only for files from a source you trust, when safe loading refuses
            an object. Defaults to False.

    Returns:
        OrderedDict[str, Tensor]: See :func:`extract_state_dict`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file cannot be read safely, or holds no state dict.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f"Source checkpoint '{path}' does not exist.")
    # mmengine checkpoints hold numpy/HistoryBuffer objects; importing mroi_plugin (this
    # module's package) allow-listed exactly those for safe loading (utils/safe_load.py).
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=not unsafe_load)
    except _LOAD_ERRORS as error:
        if unsafe_load:
            raise ValueError(f"Cannot read checkpoint '{path}': {error}") from error
        raise ValueError(
            f"Cannot read checkpoint '{path}' with safe loading (weights_only=True): "
            f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}. '
            'If you trust the file, pass --unsafe-load (weights_only=False).') from error
    return extract_state_dict(checkpoint, source=path)


def _has_prefix(keys: Sequence[str], prefix: str) -> bool:
    return any(k.startswith(prefix) for k in keys)


def detect_format(state_dict: Mapping[str, Tensor]) -> str:
    """Guess the source format from the key names.

    Args:
        state_dict (Mapping[str, Tensor]): A state dict (see :func:`extract_state_dict`).

    Returns:
        str: One of :data:`SOURCE_FORMATS`.

    Raises:
        ValueError: Already in our layout, or no known layout.
    """
    keys = list(state_dict)
    if any(_has_prefix(keys, p) for p in ('head.regressor.', 'head.mesh_decoder.',
                                           'neck.feat_proj.', 'feature_pooling.')):
        raise ValueError('The checkpoint already uses mroi_plugin names (head.*, neck.*, '
                         'feature_pooling.*); load it directly (load_from / tools/test.py).')
    has_fusion = 'fuse_fc.weight' in keys or _has_prefix(keys, 'proj_head.')
    if _has_prefix(keys, 'encoder.') and 'fc1.weight' in keys:
        if _has_prefix(keys, 'encoder.stage4.'):
            return 'cliff_hrnet48'
        if _has_prefix(keys, 'encoder.layer4.'):
            return 'cliff_r50'
    elif has_fusion:
        if _has_prefix(keys, 'backbone.stage4.'):
            return 'mroi_hrnet48'
        if _has_prefix(keys, 'layer4.'):
            return 'mroi_r50'
    elif 'fc1.weight' not in keys:
        if _has_prefix(keys, 'incre_modules.') and _has_prefix(keys, 'stage4.'):
            return 'hrnet_imagenet'
        if _has_prefix(keys, 'backbone.stage4.') or _has_prefix(keys, 'stage4.'):
            return 'mmpose_hrnet48'
        if _has_prefix(keys, 'backbone.layer4.') or _has_prefix(keys, 'layer4.'):
            return 'mmpose_r50'
    raise ValueError(f'Cannot recognise the checkpoint layout (first keys: {keys[:8]}); '
                     f'supported formats: {", ".join(SOURCE_FORMATS)}. Pass --format.')


# --------------------------------------------------------------------------- conversion
def _context(source_format: str, state_dict: Mapping[str, Tensor]) -> _Context:
    ctx = _Context()
    if source_format in _MROI_FEAT_CHANNELS:
        proj = state_dict.get('proj_head.0.weight')
        ctx.feat_channels = (int(proj.shape[1]) if proj is not None and proj.dim() == 2 else
                             _MROI_FEAT_CHANNELS[source_format])
    return ctx


def convert_state_dict(
    state_dict: Mapping[str, Tensor],
    source_format: str = AUTO,
    target_shapes: Optional[Mapping[str, Sequence[int]]] = None,
) -> Tuple[Dict[str, Tensor], ConversionReport]:
    """Map a released state dict to our parameter names.

    Args:
        state_dict (Mapping[str, Tensor]): Source weights (see :func:`extract_state_dict`).
        source_format (str): One of :data:`SOURCE_FORMATS` or ``'auto'`` (default).
        target_shapes (Mapping[str, Sequence[int]], optional): Our model's
            ``state_dict()`` key -> shape (see :func:`model_state_shapes`). When given, only
            tensors whose key exists in the model with the same shape are written, a group
            with any misfit member is withheld entirely, and the report lists the model keys
            left unfilled.

    Returns:
        tuple: The converted ``OrderedDict[str, Tensor]`` (source order) and the
        :class:`ConversionReport`.

    Raises:
        ValueError: Unknown format, or no source key matches the format's layout.
    """
    notes = []
    if source_format == AUTO:
        source_format = detect_format(state_dict)
        notes.append(f"format detected from the key names: '{source_format}'")
    elif source_format not in _COMPILED:
        raise ValueError(f"Unknown source format '{source_format}'; choose one of "
                         f'{", ".join(SOURCE_FORMATS + (AUTO, ))}.')
    else:
        try:
            detected = detect_format(state_dict)
        except ValueError:
            detected = None
        if detected not in (None, source_format):
            notes.append(f"WARNING: the key names look like '{detected}', not the requested "
                         f"'{source_format}'")
    ctx = _context(source_format, state_dict)
    report = ConversionReport(source_format=source_format,
                              target_checked=target_shapes is not None, notes=notes)

    # 1. Apply the rules: source key -> planned {target: tensor}, or a reason.
    planned: Dict[str, Tuple[Dict[str, Tensor], Optional[str]]] = OrderedDict()
    for key, tensor in state_dict.items():
        for pattern, rule in _COMPILED[source_format]:
            match = pattern.match(key)
            if match is None:
                continue
            result = rule.action(match, tensor, ctx)
            if isinstance(result, str):
                report.unmapped[key] = result
            else:
                planned[key] = (result, rule.group)
            break
        else:
            report.unmapped[key] = (f"not part of the '{source_format}' layout (no conversion "
                                    'rule); check --format')
    if not planned:
        try:
            guess = f"; the keys look like '{detect_format(state_dict)}'"
        except ValueError:
            guess = ''
        raise ValueError(f"No key of the checkpoint matches the '{source_format}' layout "
                         f'(first keys: {list(state_dict)[:5]}){guess}.')

    # 2. Check against the target model; collect misfits and the groups they break.
    failed_groups: Dict[str, str] = {}
    failed_sources = set()
    seen_targets: Dict[str, str] = {}
    for key, (targets, group) in planned.items():
        for target, tensor in targets.items():
            if target in seen_targets:
                raise RuntimeError(f'Conversion rules map both {seen_targets[target]} and {key} '
                                   f'to {target}.')
            seen_targets[target] = key
            if target_shapes is None:
                continue
            if target not in target_shapes:
                report.unmapped[key] = _REASON_UNEXPECTED
                report.unexpected.setdefault(key, []).append(target)
            elif tuple(tensor.shape) != tuple(target_shapes[target]):
                report.shape_mismatches.append(
                    ShapeMismatch(key, target, tuple(tensor.shape), tuple(target_shapes[target])))
            else:
                continue
            failed_sources.add(key)
            if group is not None:
                failed_groups.setdefault(group, key)

    # 3. Write what fits; withhold the rest of a broken group.
    converted: Dict[str, Tensor] = OrderedDict()
    for key, (targets, group) in planned.items():
        if key in failed_sources:
            continue
        if group in failed_groups:
            report.unmapped[key] = (f"withheld with group '{group}' because "
                                    f'{failed_groups[group]} could not be mapped (the layers of '
                                    'this group only work together)')
            continue
        for target, tensor in targets.items():
            converted[target] = tensor.contiguous()
        report.mapped[key] = list(targets)
    if target_shapes is not None:
        report.missing = [k for k in target_shapes if k not in converted]
    return converted, report


# --------------------------------------------------------------------------- target model
def model_state_shapes(
    config: str,
    cfg_options: Optional[Mapping[str, Any]] = None,
) -> Tuple[Dict[str, Tuple[int, ...]], List[str]]:
    """Build ``cfg.model`` and return its ``state_dict()`` shapes.

    The body model's buffers are not saved in checkpoints (mroi_plugin.body_models.smpl), so
    when the configured body-model files are absent the model is built with the licence-free
    stand-in instead; the key set and shapes are the same.

    Args:
        config (str): Config file path.
        cfg_options (Mapping, optional): Overrides merged into the config (``--cfg-options``).

    Returns:
        tuple: ``{key: shape}`` in model order, and notes on how the model was built.

    Raises:
        FileNotFoundError: ``config`` does not exist.
    """
    from mmengine.config import Config

    from mroi_plugin.registry import MODELS
    from mroi_plugin.utils.setup_env import register_all_modules

    if not osp.isfile(config):
        raise FileNotFoundError(f"Config file '{config}' does not exist.")
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    if 'model' not in cfg:
        raise ValueError(f"Config '{config}' has no 'model' to check the conversion against.")
    register_all_modules()
    notes = [f"target model: cfg.model of '{config}'"]
    model_cfg = cfg.model
    body_model = model_cfg.get('body_model')
    with tempfile.TemporaryDirectory() as tmp:
        if body_model is not None and not osp.exists(str(body_model.get('model_path', ''))):
            from mroi_plugin.synthetic.standin import write_standin_smpl
            write_standin_smpl(tmp)
            notes.append(f"body model files '{body_model.get('model_path')}' not found: built "
                         'with the stand-in body model (checkpoints hold no body-model weights, '
                         'so the key check is the same)')
            model_cfg = model_cfg.copy()
            model_cfg.body_model = dict(body_model, model_path=tmp)
        model = MODELS.build(model_cfg)
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    return shapes, notes


def convert_checkpoint(src: str,
                       dst: str,
                       source_format: str = AUTO,
                       config: Optional[str] = None,
                       cfg_options: Optional[Mapping[str, Any]] = None,
                       unsafe_load: bool = False) -> ConversionReport:
    """Convert a released checkpoint file into an mmengine checkpoint.

    Writes ``{'state_dict': converted, 'meta': {...}}`` (``meta`` records the source and the
    report, as plain Python) so ``load_from=dst`` / ``tools/test.py CONFIG dst`` load it.

    Args:
        src (str): Released checkpoint.
        dst (str): Output path (its directory is created). Written atomically (a temporary
            file in the same folder, renamed when complete).
        source_format (str): One of :data:`SOURCE_FORMATS` or ``'auto'``.
        config (str, optional): Config of the target model; names and shapes are then
            checked (see :func:`convert_state_dict`).
        cfg_options (Mapping, optional): Config overrides.
        unsafe_load (bool): See :func:`load_source_state_dict`.

    Returns:
        ConversionReport: What was mapped, and what not.

    Raises:
        OutputPathError: ``dst`` is ``src`` (same path, symlink or hard link) or cannot be
            written; raised before anything is read or built.
    """
    from mroi_plugin.version import __version__

    # Both checks come before the (possibly minutes-long) model build: a destination that is
    # the source would destroy it, an unwritable one would lose the conversion.
    check_not_same_file(src, dst, what='destination')
    dst = check_output_file(dst, what='destination')
    state_dict = load_source_state_dict(src, unsafe_load=unsafe_load)
    target_shapes, notes = (None, []) if config is None else model_state_shapes(
        config, cfg_options)
    converted, report = convert_state_dict(state_dict, source_format, target_shapes)
    report.notes += notes
    meta = report.to_meta()
    meta.update(source_file=osp.basename(os.fspath(src)), target_config=config,
                converter='mroi_plugin.utils.checkpoint_conversion',
                mroi_plugin_version=__version__)
    # A crash or a full disk during the save leaves the previous file (or none), never a
    # truncated checkpoint under the final name.
    with atomic_output(dst) as tmp:
        torch.save({'state_dict': converted, 'meta': meta}, tmp)
    return report
