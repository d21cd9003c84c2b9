"""tools/deployment/pytorch2onnx.py: CLIFF and Multi-RoI models exported to ONNX.

Two tiny models (a CLIFF: one RoI, no neck, ``CliffHead``; a Multi-RoI: 3 RoIs,
``RoIAwareFusion`` and ``MultiRoIHead`` with the RoI-layout camera decoder) are exported by
the tool, and onnxruntime's outputs are compared with the model's own ``predict()``
(the path ``tools/test.py`` runs: data preprocessor, network, body model) on the same uint8
crops and boxes, at two batch sizes other than the traced one (dynamic batch), to 1e-4.
"""
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mroi_plugin.registry import MODELS
from mroi_plugin.structures import HMRDataSample
from mroi_plugin.utils import register_all_modules
from tests.tiny_configs import tiny_quickstart_config

pytest.importorskip('onnx', reason='ONNX export needs the optional onnx package ([onnx] extra)')
ort = pytest.importorskip('onnxruntime',
                          reason='ONNX checks need the optional onnxruntime package ([onnx] extra)')

REPO = Path(__file__).resolve().parents[2]
CROP = (64, 48)
# The quickstart model's SpatialFlattenPooling keeps a 6x5 grid, what its 96x72 crops give;
# at another crop size it would adaptive-pool, which the exporter cannot do with a dynamic
# batch (docs/deployment.md, "Limits").
MROI_CROP = (96, 72)
TOLERANCE = 1e-4


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'pytorch2onnx', REPO / 'tools' / 'deployment' / 'pytorch2onnx.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_cliff(body: Path):
    """The tiny quickstart model reduced to CLIFF: one RoI, pooled features, CliffHead."""
    cfg = tiny_quickstart_config(body, num_rois=1, crop_size=CROP)
    model = cfg.model
    model.type = 'CLIFF'
    model.feature_pooling = dict(type='GlobalAveragePooling')
    model.neck = None
    model.contrastive_pooling = None
    model.loss_contrastive = None
    model.loss_camera_consistency = None
    model.head = dict(type='CliffHead', in_channels=64, hidden_channels=64)
    return cfg


@pytest.fixture(scope='module')
def models(tmp_path_factory) -> dict:
    from mroi_plugin.synthetic.standin import write_standin_smpl
    root = tmp_path_factory.mktemp('onnx')
    body = root / 'body'
    write_standin_smpl(str(body), seed=0)
    register_all_modules()
    out = {}
    for name, cfg in (('cliff', _tiny_cliff(body)),
                      ('mroi', tiny_quickstart_config(body, num_rois=3, crop_size=MROI_CROP))):
        config = root / f'{name}.py'
        cfg.dump(str(config))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        # Moved off the initialisation (zero biases, unit BN statistics) so that every
        # parameter and buffer shapes the output.
        gen = torch.Generator().manual_seed(1)
        state = {k: v + 0.02 * torch.randn(v.shape, generator=gen) if v.is_floating_point()
                 else v for k, v in model.state_dict().items()}
        checkpoint = root / f'{name}.pth'
        torch.save({'state_dict': state, 'meta': {}}, checkpoint)
        model.load_state_dict(state)
        crop = next(t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'MultiRoICrop')
        out[name] = dict(config=str(config), checkpoint=str(checkpoint), model=model.eval(),
                         num_rois=crop.num_rois, crop_size=tuple(crop.crop_size))
    out['root'] = root
    return out


def _people(batch_size: int, num_rois: int, crop_size: tuple, seed: int):
    """uint8 crops and packed data samples as the test pipeline makes them."""
    from mroi_plugin.geometry import compute_bbox_info
    rng = np.random.default_rng(seed)
    crops = torch.from_numpy(rng.integers(0, 256, (batch_size, num_rois, 3) + crop_size,
                                          dtype=np.uint8))
    samples = []
    for _ in range(batch_size):
        size0 = rng.uniform(150, 250)
        sizes = size0 * np.concatenate([[1.0], rng.uniform(0.5, 1.5, num_rois - 1)])
        centers = rng.uniform(300, 700, 2) + size0 * np.concatenate(
            [np.zeros((1, 2)), rng.uniform(-0.1, 0.1, (num_rois - 1, 2))])
        focal, principal = rng.uniform(800, 1200), rng.uniform(400, 600, 2)
        info = compute_bbox_info(centers, sizes, np.full(num_rois, focal),
                                 np.broadcast_to(principal, (num_rois, 2)))
        # The pipeline's box facts (the quickstart also reports the box-fitted camera).
        sample = HMRDataSample(metainfo=dict(bbox_padding=1.2, crop_size=crop_size))
        for key, value in (('bbox_info', info), ('roi_centers', centers), ('roi_sizes', sizes),
                           ('focal_length', focal), ('principal_point', principal)):
            sample.set_field(torch.as_tensor(np.asarray(value, np.float32)), key)
        samples.append(sample)
    return crops, samples


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


@pytest.mark.parametrize('name, body', [('cliff', False), ('mroi', True)])
def test_onnx_matches_the_models_predict(models, tool, capsys, name, body):
    entry = models[name]
    out = models['root'] / f'{name}{"_body" if body else ""}.onnx'
    argv = [entry['config'], entry['checkpoint'], str(out), '--speed-batch-size', '2',
            '--speed-repeats', '1', '--threads', '1']
    assert tool.main(argv + (['--with-body-model'] if body else [])) == tool.EXIT_OK
    printed = capsys.readouterr().out
    assert re.search(r'PyTorch \d+\.\d people/s, onnxruntime \d+\.\d people/s', printed)
    reported = [float(x) for x in re.findall(r'(?:pred_\w+|vertices|keypoints3d) '
                                             r'(\d\.\d+e[-+]\d+)', printed)]
    assert len(reported) == (5 if body else 3) and max(reported) <= TOLERANCE

    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    inputs = [value.name for value in session.get_inputs()]
    # CLIFF reads neither RoI box (no RoI layout): the exporter drops those inputs.
    assert inputs == (['crops', 'bbox_info'] if name == 'cliff' else
                      ['crops', 'bbox_info', 'roi_centers', 'roi_sizes'])
    model = entry['model']
    for batch_size, seed in ((1, 10), (5, 11)):
        crops, samples = _people(batch_size, entry['num_rois'], entry['crop_size'], seed)
        with torch.no_grad():
            data = model.data_preprocessor(dict(inputs=list(crops), data_samples=samples))
            preds = model.predict(data['inputs'], data['data_samples'])
        feed = dict(crops=crops.float().numpy())
        for key in inputs[1:]:
            feed[key] = torch.stack([getattr(s, key) for s in samples]).numpy()
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
        expected = dict(pred_rotmat='pred_rotmat', pred_betas='pred_betas',
                        pred_cam_crop='pred_cam_crop')
        if body:
            expected.update(vertices='pred_vertices', keypoints3d='pred_keypoints3d')
        assert sorted(got) == sorted(expected)
        for onnx_name, field in expected.items():
            reference = torch.stack([getattr(p, field) for p in preds]).numpy()
            assert got[onnx_name].shape == reference.shape
            np.testing.assert_allclose(got[onnx_name], reference, rtol=0, atol=TOLERANCE,
                                       err_msg=f'{name} {onnx_name} at batch {batch_size}')
        # The outputs vary with the input: a graph frozen to the traced values would not.
        assert np.ptp(got['pred_betas'], axis=0).max() > 1e-3 or batch_size == 1


def test_refusals(models, tool, tmp_path, capsys):
    entry = models['cliff']
    blocker = tmp_path / 'file'
    blocker.write_text('')
    assert tool.main([entry['config'], entry['checkpoint'], str(blocker / 'm.onnx')]) == \
        tool.EXIT_SETUP_ERROR
    assert 'cannot be written' in capsys.readouterr().err
    assert tool.main([entry['config'], str(tmp_path / 'none.pth'), str(tmp_path / 'm.onnx')]) \
        == tool.EXIT_SETUP_ERROR
    assert 'does not exist' in capsys.readouterr().err
    # The Multi-RoI checkpoint does not fit the CLIFF config: refused, nothing written.
    assert tool.main([entry['config'], models['mroi']['checkpoint'],
                      str(tmp_path / 'm.onnx')]) == tool.EXIT_SETUP_ERROR
    assert 'error: ' in capsys.readouterr().err
    assert not (tmp_path / 'm.onnx').exists()


def test_feature_level_rois_are_refused(models):
    from mroi_plugin.deployment import HMRExportModule, crop_layout_from_config
    with pytest.raises(ValueError, match='crop-level RoIs'):
        crop_layout_from_config(dict(test_dataloader=dict(dataset=dict(pipeline=[
            dict(type='MultiRoIContextCrop', num_rois=3)]))))
    with pytest.raises(TypeError, match='MultiRoIHMR'):
        HMRExportModule(torch.nn.Linear(2, 2), 1, CROP)
