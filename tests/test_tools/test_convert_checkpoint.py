"""tools/model_converters/convert_checkpoint.py and mroi_plugin.utils.checkpoint_conversion.

Each released format is rebuilt here as a synthetic state dict with the released key names and
shapes. The names come from the public code of each release (read, not imported):

* CLIFF (huawei-noah/noah-research, ``CLIFF/models/cliff_res50/cliff.py``,
  ``cliff_hr48/cliff.py``, ``models/backbones/resnet.py``,
  ``models/backbones/hrnet/cls_hrnet.py`` with ``cls_hrnet_w48_...yaml``);
* Multi-RoI (CptDiaos/Multi-RoI, ``models/hmr.py`` ``HMR_sim`` / ``HMR_sim_hrnet`` with
  n_views = 5, ``models/hrnet_re.py`` ``hrnet_w48(downsample=True, use_conv=True)``,
  ``models/code.py``);
* mmpose 1.x top-down HRNet-W48 / ResNet-50 (``backbone.*``, ``head.*``).

Head layers are listed literally; the backbones, hundreds of repetitive keys, are enumerated
by small generators that follow those sources' module structure (block counts, widths,
Sequential indices; shared with the parity tests in ``tests/released_layouts.py``). The
converted weights are loaded into our models built from the configs, and checked against
independent computations: the authors' forward passes written out by hand with the source
tensors.
"""
import argparse
import errno
import importlib.util
import math
import os
import os.path as osp
import shutil
import stat
from typing import Dict, Iterable, Tuple
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch.nn.modules.conv import _ConvNd

from mroi_plugin.registry import MODELS
from mroi_plugin.synthetic import standin as standin_module
from mroi_plugin.utils import checkpoint_conversion as conversion_module
from mroi_plugin.utils import register_all_modules
from mroi_plugin.utils.checkpoint_conversion import (
    convert_state_dict,
    detect_format,
    extract_state_dict,
    load_source_state_dict,
    model_state_shapes,
)
from tests.released_layouts import (
    CLIFF_HEAD,
    Shapes,
    bn_shapes,
    cliff_layout,
    conv_shapes,
    hrnet_w48_body_keys,
    resnet50_keys,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'cliff_r50': 'configs/cliff/cliff_r50.py',
    'cliff_hrnet48': 'configs/cliff/cliff_hrnet48.py',
    'mroi_r50': 'configs/mroi/mroi_r50.py',
    'mroi_hrnet48': 'configs/mroi/mroi_hrnet48.py',
}

# --------------------------------------------------------------------------- released layouts
NUM_VIEWS = 5  # the README's --n_views 5
PE_CHANNELS = 195  # 3 + 2 * 32 * 3 (models/code.py, num_freqs 32, include_input)
VALUE_SCALE = 0.02


def mroi_pose_hrnet_extra_keys() -> Shapes:
    """hrnet_re.PoseHighResolutionNet: heatmap ``final_layer`` + ``downsample_stage_{1,2,3}``."""
    shapes = conv_shapes('backbone.final_layer', 24, 48, 1, bias=True)
    for stage, (num_layers, ch) in enumerate(((3, 48), (2, 96), (1, 192)), 1):
        for layer in range(num_layers):  # conv, BN, ReLU per layer
            shapes |= conv_shapes(f'backbone.downsample_stage_{stage}.{3 * layer}', ch, ch, 3)
            shapes |= bn_shapes(f'backbone.downsample_stage_{stage}.{3 * layer + 1}', ch)
    return shapes


CLIFF_REGRESSOR_TARGETS = {
    'fc1.weight': 'head.regressor.layers.0.weight', 'fc1.bias': 'head.regressor.layers.0.bias',
    'fc2.weight': 'head.regressor.layers.2.weight', 'fc2.bias': 'head.regressor.layers.2.bias',
    'decpose.weight': 'head.regressor.decoders.pose.weight',
    'decpose.bias': 'head.regressor.decoders.pose.bias',
    'decshape.weight': 'head.regressor.decoders.betas.weight',
    'decshape.bias': 'head.regressor.decoders.betas.bias',
    'deccam.weight': 'head.regressor.decoders.cam.weight',
    'deccam.bias': 'head.regressor.decoders.cam.bias',
}
REGRESSOR_KEYS = tuple(CLIFF_REGRESSOR_TARGETS)


def mroi_head_keys(feat: int) -> Shapes:
    """HMR_sim / HMR_sim_hrnet with n_extraviews = 4 (D = 2048 or 720)."""
    return {
        'pos_enc._freqs': (1, 64, 1), 'pos_enc._phases': (1, 64, 1),
        'fc1.weight': (2048, feat + 3 * NUM_VIEWS + 144 + 13), 'fc1.bias': (2048, ),
        'fc2.weight': (1024, 2048), 'fc2.bias': (1024, ),
        'decpose.weight': (144, 1024), 'decpose.bias': (144, ),
        'decshape.weight': (10, 1024), 'decshape.bias': (10, ),
        'deccam.weight': (3, 1024), 'deccam.bias': (3, ),
        'fuse_fc.weight': (256, feat + PE_CHANNELS), 'fuse_fc.bias': (256, ),
        'attention.0.weight': (256, 256 * NUM_VIEWS), 'attention.0.bias': (256, ),
        'attention.2.weight': (256, 256), 'attention.2.bias': (256, ),
        'attention.4.weight': (NUM_VIEWS, 256), 'attention.4.bias': (NUM_VIEWS, ),
        'proj_head.0.weight': (feat, feat), 'proj_head.0.bias': (feat, ),
        **bn_shapes('proj_head.1', feat),
        'proj_head.3.weight': (feat, feat),
        **bn_shapes('proj_head.4', feat),
        'init_pose': (1, 144), 'init_shape': (1, 10), 'init_cam': (1, 3),
    }


MROI_UNMAPPED = {'pos_enc._freqs', 'pos_enc._phases'} | set(REGRESSOR_KEYS) | {
    f'attention.{i}.{p}' for i in (0, 2, 4) for p in ('weight', 'bias')}
MMPOSE_HRNET_HEAD = {'head.final_layer.weight': (17, 48, 1, 1), 'head.final_layer.bias': (17, )}
MMPOSE_R50_HEAD = {
    **conv_shapes('head.deconv_layers.0', 256, 2048, 4), **bn_shapes('head.deconv_layers.1', 256),
    **conv_shapes('head.deconv_layers.3', 256, 256, 4), **bn_shapes('head.deconv_layers.4', 256),
    **conv_shapes('head.deconv_layers.6', 256, 256, 4), **bn_shapes('head.deconv_layers.7', 256),
    **conv_shapes('head.final_layer', 17, 256, 1, bias=True),
}


def released_layout(fmt: str) -> Shapes:
    if fmt == 'cliff_r50':
        return cliff_layout('res50')
    if fmt == 'cliff_hrnet48':
        return cliff_layout('hr48')
    if fmt == 'mroi_r50':
        return resnet50_keys('') | mroi_head_keys(2048)
    if fmt == 'mroi_hrnet48':
        return (hrnet_w48_body_keys('backbone.', True) | mroi_pose_hrnet_extra_keys()
                | mroi_head_keys(720))
    if fmt == 'mmpose_hrnet48':
        # mmpose's pose HRNet keeps only the highest-resolution output of the last module.
        return hrnet_w48_body_keys('backbone.', False) | MMPOSE_HRNET_HEAD
    if fmt == 'mmpose_r50':
        return resnet50_keys('backbone.') | MMPOSE_R50_HEAD
    raise KeyError(fmt)


def synthetic_state_dict(layout: Shapes, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Distinct small values per tensor, as views of one random vector.

    Tensor ``i`` is the window ``[i, i + numel)`` of a shared random vector, so no two tensors
    are equal, and ~70M-parameter layouts cost one small allocation (writing and comparing
    full-size copies dominates the run time on 2 cores otherwise). Running variances come from
    a positive copy of the vector; values stay small so the regressor iterations stay tame.
    """
    gen = torch.Generator().manual_seed(seed)
    size = max(math.prod(shape) for shape in layout.values()) + len(layout)
    base = torch.randn(size, generator=gen) * VALUE_SCALE
    positive = base.abs() + 0.5
    state = {}
    for i, (key, shape) in enumerate(layout.items()):
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(i + 1)
            continue
        source = positive if key.endswith('running_var') else base
        state[key] = source[i:i + math.prod(shape)].view(shape)
    return state


# --------------------------------------------------------------------------- models
_MODELS: Dict[str, torch.nn.Module] = {}


def _skip_reset(self) -> None:
    pass


@pytest.fixture(scope='module')
def build_model(standin_dir):
    """Models from the configs, cached for the module.

    Linear/conv layers skip their random initialisation (a third of the build time for
    HRNet): every test loads the converted tensors and inspects only those.
    """
    register_all_modules()

    def build(name: str) -> torch.nn.Module:
        if name not in _MODELS:
            cfg = Config.fromfile(osp.join(REPO, CONFIGS[name]))
            cfg.model.body_model.model_path = standin_dir
            with mock.patch.object(torch.nn.Linear, 'reset_parameters', _skip_reset), \
                    mock.patch.object(_ConvNd, 'reset_parameters', _skip_reset):
                _MODELS[name] = MODELS.build(cfg.model).eval()
        return _MODELS[name]

    yield build
    _MODELS.clear()


def shapes_of(model: torch.nn.Module) -> Dict[str, Tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_converted(model: torch.nn.Module, converted: Dict[str, torch.Tensor]) -> None:
    """``load_state_dict(strict=False)``; ``assign`` places the tensors themselves (shapes are
    still checked) instead of copying ~100M numbers per model."""
    result = model.load_state_dict(converted, strict=False, assign=True)
    assert result.unexpected_keys == []


def with_prefix(keys: Iterable[str], *prefixes: str) -> set:
    return {k for k in keys if k.startswith(prefixes)}


def assert_mapped(model, source, pairs):
    """The model holds, under each ``dst_key``, the values of ``source[src_key]``."""
    state = model.state_dict()
    for src_key, dst_key in pairs:
        ours, theirs = state[dst_key], source[src_key].reshape(state[dst_key].shape)
        same_memory = (ours.data_ptr() == theirs.data_ptr() and ours.stride() == theirs.stride()
                       and ours.dtype == theirs.dtype)
        assert same_memory or torch.equal(ours, theirs), (src_key, dst_key)


# --------------------------------------------------------------------------- per format
def test_cliff_r50(build_model):
    model = build_model('cliff_r50')
    source = synthetic_state_dict(released_layout('cliff_r50'))
    assert len(with_prefix(source, 'encoder.')) == 318  # torchvision ResNet-50 minus fc
    converted, report = convert_state_dict(source, 'cliff_r50', shapes_of(model))
    load_converted(model, converted)
    assert report.unmapped == {} and report.shape_mismatches == []
    assert report.missing == []  # every parameter and buffer of our CLIFF comes from CLIFF's
    assert_mapped(model, source, [(k, 'backbone.' + k[len('encoder.'):])
                                  for k in with_prefix(source, 'encoder.')])
    assert_mapped(model, source, CLIFF_REGRESSOR_TARGETS.items())
    assert_mapped(model, source, [('init_pose', 'head.regressor.init_pose'),
                                  ('init_shape', 'head.regressor.init_betas'),
                                  ('init_cam', 'head.regressor.init_cam')])

    # CLIFF's forward (cliff_res50/cliff.py), written out with the source tensors: the column
    # order [xf, bbox, pose, shape, cam] of fc1 must be ours.
    gen = torch.Generator().manual_seed(1)
    feat, bbox = torch.randn(2, 2048, generator=gen), torch.randn(2, 3, generator=gen)
    pose, shape, cam = (source[k].expand(2, -1) for k in ('init_pose', 'init_shape', 'init_cam'))
    for _ in range(3):
        xc = torch.cat([feat, bbox, pose, shape, cam], 1)
        xc = F.linear(F.linear(xc, source['fc1.weight'], source['fc1.bias']),
                      source['fc2.weight'], source['fc2.bias'])
        pose = F.linear(xc, source['decpose.weight'], source['decpose.bias']) + pose
        shape = F.linear(xc, source['decshape.weight'], source['decshape.bias']) + shape
        cam = F.linear(xc, source['deccam.weight'], source['deccam.bias']) + cam
    with torch.no_grad():
        ours = model.head.regressor(feat, bbox)
    torch.testing.assert_close(ours['pose'], pose)
    torch.testing.assert_close(ours['betas'], shape)
    torch.testing.assert_close(ours['cam'], cam)


def test_cliff_hrnet48(build_model):
    """CLIFF-HR48 converts completely: HRNetClsNeck keeps cls_hrnet's head names."""
    model = build_model('cliff_hrnet48')
    source = synthetic_state_dict(released_layout('cliff_hrnet48'))
    converted, report = convert_state_dict(source, 'cliff_hrnet48', shapes_of(model))
    load_converted(model, converted)
    assert report.unmapped == {} and report.shape_mismatches == [] and report.missing == []
    cls_head = with_prefix(source, 'encoder.incre_modules.', 'encoder.downsamp_modules.',
                           'encoder.final_layer.')
    assert len(cls_head) == 4 * (3 + 1) * 6 + 3 * (2 + 5) + (2 + 5)  # incre, downsamp, final
    assert_mapped(model, source, [(k, 'feature_pooling.' + k[len('encoder.'):])
                                  for k in cls_head])
    body = set(source) - cls_head - set(CLIFF_HEAD)
    assert_mapped(model, source, [(k, 'backbone.' + k[len('encoder.'):]) for k in body])
    assert_mapped(model, source, CLIFF_REGRESSOR_TARGETS.items())
    assert_mapped(model, source, [('init_pose', 'head.regressor.init_pose'),
                                  ('init_shape', 'head.regressor.init_betas'),
                                  ('init_cam', 'head.regressor.init_cam')])


def test_hrnet_imagenet(build_model):
    """HRNet's ImageNet classifier: body and head load into CLIFF-HR48, the classifier not."""
    model = build_model('cliff_hrnet48')
    layout = hrnet_w48_body_keys('', True) | {
        k[len('encoder.'):]: v for k, v in released_layout('cliff_hrnet48').items()
        if k.startswith(('encoder.incre_modules.', 'encoder.downsamp_modules.',
                         'encoder.final_layer.'))
    } | {'classifier.weight': (1000, 2048), 'classifier.bias': (1000, )}
    source = synthetic_state_dict(layout)
    assert detect_format(source) == 'hrnet_imagenet'
    converted, report = convert_state_dict(source, 'auto', shapes_of(model))
    load_converted(model, converted)
    assert set(report.unmapped) == {'classifier.weight', 'classifier.bias'}
    assert report.shape_mismatches == []
    assert set(report.missing) == with_prefix(shapes_of(model), 'head.')
    assert_mapped(model, source, [
        (k, ('feature_pooling.' if k.startswith(('incre', 'downsamp', 'final')) else
             'backbone.') + k) for k in source if not k.startswith('classifier.')
    ])


def _authors_positional_encoding(x: torch.Tensor, num_freqs: int = 32) -> torch.Tensor:
    """models/code.py PositionalEncoding.forward (in float64): sin(x * f_k + phase_k)."""
    x = x.double()
    freqs = math.pi * 2.0**torch.arange(num_freqs, dtype=torch.float64)
    freqs = torch.repeat_interleave(freqs, 2).view(1, -1, 1)
    phases = torch.zeros(2 * num_freqs, dtype=torch.float64)
    phases[1::2] = math.pi * 0.5
    embed = x.unsqueeze(1).repeat(1, num_freqs * 2, 1)
    embed = torch.sin(torch.addcmul(phases.view(1, -1, 1), embed, freqs)).view(x.shape[0], -1)
    return torch.cat((x, embed), dim=-1).float()


def _check_mroi_common(model, source, feat_channels):
    assert_mapped(model, source, [(f'proj_head.{i}.{p}', f'loss_contrastive.projector.{i}.{p}')
                                  for i, p in [(0, 'weight'), (0, 'bias'), (3, 'weight')]
                                  + [(j, q) for j in (1, 4) for q in (
                                      'weight', 'bias', 'running_mean', 'running_var',
                                      'num_batches_tracked')]])
    assert_mapped(model, source, [('init_pose', 'head.mesh_decoder.init_pose'),
                                  ('init_shape', 'head.mesh_decoder.init_betas'),
                                  ('init_cam', 'head.camera_decoder.regressor.init_cam')])
    state = model.state_dict()
    weight, bias = source['fuse_fc.weight'], source['fuse_fc.bias']
    assert torch.equal(state['neck.feat_proj.weight'], weight[:, :feat_channels])
    assert torch.equal(state['neck.pos_proj.weight'], weight[:, feat_channels:])
    assert torch.equal(state['neck.pos_proj.bias'], bias)

    gen = torch.Generator().manual_seed(2)
    # The authors' fuse_fc on [f_j ; PE(info_i - info_j)] == our split first layer.
    feats = torch.rand(NUM_VIEWS, feat_channels, generator=gen)
    info = torch.randn(NUM_VIEWS, 3, generator=gen)
    rel = (info.unsqueeze(1) - info.unsqueeze(0)).reshape(-1, 3)  # [i * V + j] = i - j
    f_j = feats.repeat(NUM_VIEWS, 1)
    authors = F.linear(torch.cat([f_j, _authors_positional_encoding(rel)], -1), weight, bias)
    with torch.no_grad():
        ours = model.neck.feat_proj(f_j) + model.neck.pos_proj(model.neck.encoding(rel))
    torch.testing.assert_close(ours, authors, rtol=1e-4, atol=1e-5)

    # The authors' proj_head (Linear-BN-ReLU-Linear-BN, eval) == our projector.
    x = torch.rand(4, feat_channels, generator=gen)

    def bn(y, name):
        return F.batch_norm(y, source[f'{name}.running_mean'], source[f'{name}.running_var'],
                            source[f'{name}.weight'], source[f'{name}.bias'])

    y = bn(F.linear(x, source['proj_head.0.weight'], source['proj_head.0.bias']), 'proj_head.1')
    y = bn(F.linear(y.relu(), source['proj_head.3.weight']), 'proj_head.4')
    with torch.no_grad():
        torch.testing.assert_close(model.loss_contrastive.projector(x), y)


def _mroi_missing(model) -> set:
    return with_prefix(shapes_of(model), 'neck.score_mlp.', 'head.mesh_decoder.layers.',
                       'head.mesh_decoder.decoders.', 'head.camera_decoder.regressor.layers.',
                       'head.camera_decoder.regressor.decoders.')


def test_mroi_r50(build_model):
    model = build_model('mroi_r50')
    source = synthetic_state_dict(released_layout('mroi_r50'))
    converted, report = convert_state_dict(source, 'mroi_r50', shapes_of(model))
    load_converted(model, converted)
    assert set(report.unmapped) == MROI_UNMAPPED
    assert report.shape_mismatches == []
    assert set(report.missing) == _mroi_missing(model)
    assert_mapped(model, source, [(k, 'backbone.' + k) for k in resnet50_keys('')])
    _check_mroi_common(model, source, 2048)


def test_mroi_hrnet48(build_model):
    model = build_model('mroi_hrnet48')
    source = synthetic_state_dict(released_layout('mroi_hrnet48'))
    converted, report = convert_state_dict(source, 'mroi_hrnet48', shapes_of(model))
    load_converted(model, converted)
    assert set(report.unmapped) == MROI_UNMAPPED | {'backbone.final_layer.weight',
                                                    'backbone.final_layer.bias'}
    assert report.shape_mismatches == []
    assert set(report.missing) == _mroi_missing(model)
    assert_mapped(model, source, [(k, k) for k in hrnet_w48_body_keys('backbone.', True)])
    downsample = with_prefix(source, 'backbone.downsample_stage_')
    assert len(downsample) == 6 * (1 + 5)  # 3 + 2 + 1 (conv weight, 5 BN entries)
    assert_mapped(model, source, [
        (k, 'feature_pooling.downsamples.{}.{}'.format(
            int(k.split('.')[1][-1]) - 1, '.'.join(k.split('.')[2:]))) for k in downsample
    ])
    _check_mroi_common(model, source, 720)

    # The authors' aggregation (hrnet_re.forward, DOWNSAMPLE and USE_CONV) == ours.
    gen = torch.Generator().manual_seed(3)
    sizes = ((16, 12), (8, 6), (4, 3), (2, 2))
    branches = [torch.rand(1, c, *s, generator=gen) for c, s in zip((48, 96, 192, 384), sizes)]
    pooled = []
    for stage, x in enumerate(branches[:3], 1):
        for layer in range(4 - stage):
            name = f'backbone.downsample_stage_{stage}.{3 * layer}'
            bn = f'backbone.downsample_stage_{stage}.{3 * layer + 1}'
            x = F.conv2d(x, source[f'{name}.weight'], stride=2, padding=1)
            x = F.batch_norm(x, source[f'{bn}.running_mean'], source[f'{bn}.running_var'],
                             source[f'{bn}.weight'], source[f'{bn}.bias']).relu()
        pooled.append(x)
    authors = torch.cat(pooled + [branches[3]], 1).mean(dim=(2, 3))
    with torch.no_grad():
        torch.testing.assert_close(model.feature_pooling(branches), authors)


def test_mmpose_hrnet48(build_model):
    model = build_model('cliff_hrnet48')
    source = synthetic_state_dict(released_layout('mmpose_hrnet48'))
    converted, report = convert_state_dict(source, 'mmpose_hrnet48', shapes_of(model))
    load_converted(model, converted)
    assert set(report.unmapped) == set(MMPOSE_HRNET_HEAD)
    assert report.shape_mismatches == []
    # The pose model's last module fuses into branch 0 only; HRNetClsNeck needs all four.
    assert set(report.missing) == with_prefix(
        shapes_of(model), 'backbone.stage4.2.fuse_layers.1.', 'backbone.stage4.2.fuse_layers.2.',
        'backbone.stage4.2.fuse_layers.3.', 'feature_pooling.', 'head.')
    assert_mapped(model, source, [(k, k) for k in with_prefix(source, 'backbone.')])


def test_official_hrnet_pose_file_without_prefix(build_model):
    """The file the authors start from (pose_hrnet_w48_256x192.pth) has no ``backbone.``.

    Same tensors as the mmpose layout (loaded into the model in test_mmpose_hrnet48), so
    the names are compared here without loading them again.
    """
    mmpose = released_layout('mmpose_hrnet48')
    layout = {k[len('backbone.'):]: v for k, v in mmpose.items() if k.startswith('backbone.')}
    layout |= {'final_layer.weight': (17, 48, 1, 1), 'final_layer.bias': (17, )}
    source = synthetic_state_dict(layout)
    assert detect_format(source) == 'mmpose_hrnet48'
    converted, report = convert_state_dict(source, 'auto', shapes_of(build_model('cliff_hrnet48')))
    assert set(report.unmapped) == {'final_layer.weight', 'final_layer.bias'}
    assert report.shape_mismatches == []
    assert set(converted) == {k for k in mmpose if k.startswith('backbone.')}
    assert all(converted['backbone.' + k] is source[k] for k in source if 'final' not in k)


def test_mmpose_r50(build_model):
    model = build_model('cliff_r50')
    source = synthetic_state_dict(released_layout('mmpose_r50'))
    converted, report = convert_state_dict(source, 'mmpose_r50', shapes_of(model))
    load_converted(model, converted)
    assert set(report.unmapped) == set(MMPOSE_R50_HEAD)
    assert set(report.missing) == with_prefix(shapes_of(model), 'head.')
    assert_mapped(model, source, [(k, k) for k in with_prefix(source, 'backbone.')])


# --------------------------------------------------------------------------- detection, input
@pytest.mark.parametrize('fmt', ['cliff_r50', 'cliff_hrnet48', 'mroi_r50', 'mroi_hrnet48',
                                 'mmpose_hrnet48', 'mmpose_r50'])
def test_detect_format(fmt):
    layout = released_layout(fmt)
    assert detect_format(dict.fromkeys(layout, torch.zeros(0))) == fmt


def test_detect_format_rejects_converted_and_unknown():
    with pytest.raises(ValueError, match='already uses mroi_plugin names'):
        detect_format({'head.regressor.layers.0.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='Cannot recognise'):
        detect_format({'foo.weight': torch.zeros(1)})


def test_wrong_format_names_the_detected_one():
    source = dict.fromkeys(released_layout('mmpose_r50'), torch.zeros(0))
    with pytest.raises(ValueError, match="No key .* 'cliff_r50' layout.* look like 'mmpose_r50'"):
        convert_state_dict(source, 'cliff_r50')
    with pytest.raises(ValueError, match='Unknown source format'):
        convert_state_dict(source, 'hmr')


def test_extract_state_dict_containers_and_prefix():
    weight = torch.ones(2)
    for ckpt in ({'model': {'module.fc1.weight': weight}, 'epoch': 3},
                 {'state_dict': {'fc1.weight': weight}, 'meta': {}},
                 {'fc1.weight': weight}):
        assert list(extract_state_dict(ckpt)) == ['fc1.weight']
    with pytest.raises(ValueError, match="x.pt: found no state dict; the keys \\['epoch'\\]"):
        extract_state_dict({'fc1.weight': weight, 'epoch': 3}, source='x.pt')
    with pytest.raises(ValueError, match='expected a dict'):
        extract_state_dict([weight])


def test_unsafe_file_needs_explicit_opt_in(tmp_path):
    path = tmp_path / 'ckpt.pt'
    torch.save({'model': {'fc1.weight': torch.ones(1)}, 'args': argparse.Namespace(a=1)}, path)
    with pytest.raises(ValueError, match='--unsafe-load'):
        load_source_state_dict(str(path))
    assert list(load_source_state_dict(str(path), unsafe_load=True)) == ['fc1.weight']
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        load_source_state_dict(str(tmp_path / 'missing.pt'))


# --------------------------------------------------------------------------- target checks
def test_without_target_nothing_is_checked():
    source = synthetic_state_dict(released_layout('cliff_r50'))
    converted, report = convert_state_dict(source)
    assert report.source_format == 'cliff_r50' and not report.target_checked
    assert len(converted) == len(source) and report.missing == []
    assert 'target model not checked' in report.summary()


def test_group_withheld_on_shape_mismatch(build_model):
    """A regressor whose fc1 does not fit is withheld as a whole; the rest still maps."""
    source = synthetic_state_dict(released_layout('cliff_r50'))
    shapes = shapes_of(build_model('cliff_r50'))
    shapes['head.regressor.layers.0.weight'] = (1024, 2211)  # e.g. 6 bbox_info channels
    converted, report = convert_state_dict(source, 'cliff_r50', shapes)
    assert [(m.source_key, m.target_key, m.converted_shape, m.target_shape)
            for m in report.shape_mismatches] == [('fc1.weight', 'head.regressor.layers.0.weight',
                                                   (1024, 2208), (1024, 2211))]
    assert set(report.unmapped) == set(REGRESSOR_KEYS) - {'fc1.weight'}
    assert all("group 'regressor'" in r and 'fc1.weight' in r for r in report.unmapped.values())
    assert set(report.missing) == set(CLIFF_REGRESSOR_TARGETS.values())
    assert 'head.regressor.init_pose' in converted and 'backbone.conv1.weight' in converted
    summary = report.summary()
    assert 'shape mismatches: 1' in summary and 'missing target keys' in summary


def test_fusion_split_withheld_when_encoding_differs(build_model):
    source = synthetic_state_dict(released_layout('mroi_r50'))
    shapes = shapes_of(build_model('mroi_r50'))
    shapes['neck.pos_proj.weight'] = (256, 3 * (2 * 8 + 1))  # a neck with num_freqs=8
    converted, report = convert_state_dict(source, 'mroi_r50', shapes)
    assert [m.target_key for m in report.shape_mismatches] == ['neck.pos_proj.weight']
    assert "group 'fusion_input'" in report.unmapped['fuse_fc.bias']
    assert not any(k.startswith('neck.') for k in converted)


def test_keys_absent_from_the_target_are_reported(build_model):
    source = synthetic_state_dict(released_layout('cliff_r50'))
    converted, report = convert_state_dict(source, 'cliff_r50',
                                           shapes_of(build_model('mroi_r50')))
    assert set(report.unmapped) == set(CLIFF_HEAD)
    assert 'does not exist in the model' in report.unmapped['init_pose']
    assert report.unexpected['fc1.weight'] == ['head.regressor.layers.0.weight']
    assert 'fc1.weight -> head.regressor.layers.0.weight' in report.summary()
    assert all(k.startswith('backbone.') for k in converted)


# --------------------------------------------------------------------------- CLI
def test_old_tool_path_forwards_to_the_model_converter():
    spec = importlib.util.spec_from_file_location(
        'convert_checkpoint_forwarder', osp.join(REPO, 'tools', 'convert_checkpoint.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tool = osp.join('tools', 'model_converters', 'convert_checkpoint.py')
    assert module.main.__code__.co_filename.endswith(tool)
    assert module.parse_args(['a.pt', 'b.pth', '--format', 'cliff_hrnet48']).format == (
        'cliff_hrnet48')


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'convert_checkpoint_tool',
        osp.join(REPO, 'tools', 'model_converters', 'convert_checkpoint.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_mmengine_checkpoint(tmp_path, capsys, build_model, standin_dir, monkeypatch):
    source = synthetic_state_dict(released_layout('cliff_r50'))
    src, dst = tmp_path / 'res50.pt', tmp_path / 'out' / 'cliff_r50.pth'
    # As CLIFF's trainer saves it: under 'model', with DataParallel's prefix, next to
    # non-weight entries.
    torch.save({'model': {'module.' + k: v for k, v in source.items()}, 'epoch': 3,
                'total_step_count': torch.tensor(10)}, src)
    # The repository has no SMPL files, so the tool builds the model with the stand-in;
    # copy the module's stand-in rather than writing it again.
    written = []

    def copy_standin(out_dir):
        written.append(out_dir)
        shutil.copytree(standin_dir, out_dir, dirs_exist_ok=True)

    monkeypatch.setattr(standin_module, 'write_standin_smpl', copy_standin)
    assert _load_tool().main([str(src), str(dst), '--config',
                              osp.join(REPO, CONFIGS['cliff_r50'])]) == 0
    out = capsys.readouterr().out
    assert "Source format 'cliff_r50': 331 source keys." in out
    assert 'mapped: 331 source keys -> 331 target keys' in out
    assert 'missing target keys (model keys left at their initial values): 0' in out
    assert 'stand-in body model' in out and len(written) == 1
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'state_dict', 'meta'}
    assert saved['meta']['source_format'] == 'cliff_r50'
    assert saved['meta']['source_file'] == 'res50.pt'
    assert torch.equal(saved['state_dict']['head.regressor.layers.0.weight'],
                       source['fc1.weight'])
    assert len(saved['state_dict']) == 331
    # mmengine (load_from, tools/test.py) loads it strictly.
    load_checkpoint(build_model('cliff_r50'), str(dst), strict=True)


def test_model_state_shapes_missing_config():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        model_state_shapes('nope.py')


# --------------------------------------------------------------------------- nothing lost
def _small_source(tmp_path) -> Tuple[str, bytes]:
    """A released CLIFF file (converted without --config: no model is built)."""
    src = tmp_path / 'res50.pt'
    torch.save({'model': synthetic_state_dict(released_layout('cliff_r50'))}, src)
    return str(src), src.read_bytes()


@pytest.mark.parametrize('link', ['same_path', 'relative_path', 'symlink', 'hardlink'])
def test_destination_that_is_the_source_is_refused(tmp_path, capsys, monkeypatch, link):
    src, original = _small_source(tmp_path)
    dst = {'same_path': src, 'relative_path': str(tmp_path / 'sub' / '..' / 'res50.pt')}.get(link)
    if link == 'symlink':
        dst = str(tmp_path / 'link.pth')
        os.symlink(src, dst)
    elif link == 'hardlink':
        dst = str(tmp_path / 'hard.pth')
        os.link(src, dst)
    if link == 'relative_path':
        (tmp_path / 'sub').mkdir()
    assert _load_tool().main([src, dst]) == 2
    err = capsys.readouterr().err
    assert f'The destination {dst} is the source file {src}' in err
    assert 'writing it would destroy the source' in err
    with open(src, 'rb') as f:
        assert f.read() == original


def test_unwritable_destination_fails_before_reading_the_source(tmp_path, capsys, monkeypatch):
    src, _ = _small_source(tmp_path)
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    tool = _load_tool()

    def no_read(*args, **kwargs):
        raise AssertionError('the source was read before the destination was checked')

    monkeypatch.setattr(conversion_module, 'load_source_state_dict', no_read)
    dst = blocker / 'out' / 'cliff.pth'
    assert tool.main([src, str(dst)]) == 2
    err = capsys.readouterr().err
    assert f'destination {dst} cannot be written' in err
    assert tool.main([src, str(tmp_path)]) == 2  # a folder
    assert f'destination {tmp_path} is a folder' in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_read_only_destination_folder(tmp_path, capsys):
    src, _ = _small_source(tmp_path)
    folder = tmp_path / 'ro'
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert _load_tool().main([src, str(folder / 'cliff.pth')]) == 2
    finally:
        folder.chmod(0o755)
    assert 'cannot be written (Permission denied' in capsys.readouterr().err
    assert list(folder.iterdir()) == []


def test_failed_save_leaves_the_previous_destination(tmp_path, monkeypatch):
    """A save that dies half-way (full disk) leaves the old file and no temporary behind."""
    src, _ = _small_source(tmp_path)
    dst = tmp_path / 'out' / 'cliff.pth'
    dst.parent.mkdir()
    dst.write_bytes(b'previous conversion')
    real_save = torch.save

    def full_disk(obj, path):
        with open(path, 'wb') as f:
            f.write(b'half a checkpoint')
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(conversion_module.torch, 'save', full_disk)
    with pytest.raises(OSError, match='No space left'):
        _load_tool().main([src, str(dst)])
    assert dst.read_bytes() == b'previous conversion'
    assert [p.name for p in dst.parent.iterdir()] == ['cliff.pth']
    # Once it works, the file is replaced whole, with the permissions of the one it replaces.
    monkeypatch.setattr(conversion_module.torch, 'save', real_save)
    dst.chmod(0o640)
    assert _load_tool().main([src, str(dst)]) == 0
    assert len(torch.load(dst, weights_only=True)['state_dict']) == 331
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640
    assert [p.name for p in dst.parent.iterdir()] == ['cliff.pth']
