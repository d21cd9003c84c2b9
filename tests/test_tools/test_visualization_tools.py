"""Visualization hook, ``tools/test.py --show-dir``, the analysis tools and the progress bars.

All on the quickstart model at test size (tests/tiny_configs.py) with the stand-in body model
and 3 synthetic test people (160x120 images, 2 RoIs of 64x48). Pixel checks look for the
colours the visualizer draws at positions computed here independently: ground-truth keypoints
from the dataset, predicted ones projected from the dumped predictions with the pinhole
formula.
"""
import importlib.util
import itertools
import json
import pickle
import re
from pathlib import Path

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from mmengine.visualization import LocalVisBackend

from mroi_plugin.registry import DATASETS, MODELS
from mroi_plugin.utils import register_all_modules
from mroi_plugin.utils.vis_options import enable_tensorboard, enable_visualization
from tests.tiny_configs import tiny_quickstart_config

REPO = Path(__file__).resolve().parents[2]
NUM_TEST = 3
IMAGE_W, IMAGE_H = 160, 120
CROP = (64, 48)
GREEN, RED = (0, 255, 0), (255, 0, 0)
_RUN_IDS = itertools.count()


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> dict:
    """Stand-in body, 2 train + 3 test people, a config file and a checkpoint."""
    from mroi_plugin.synthetic import generate_synthetic_dataset, write_standin_smpl
    root = tmp_path_factory.mktemp('vis_tools')
    body = root / 'body_models'
    write_standin_smpl(str(body), seed=0)
    data_root = root / 'synthetic'
    generate_synthetic_dataset(str(data_root), num_train=2, num_val=0, num_test=NUM_TEST,
                               image_size=(IMAGE_W, IMAGE_H), seed=0, body_model_dir=str(body),
                               workers=1)
    register_all_modules()
    cfg = tiny_quickstart_config(body, num_rois=2, crop_size=CROP)
    for loader, ann in ((cfg.train_dataloader, 'train.npz'), (cfg.val_dataloader, 'test.npz'),
                        (cfg.test_dataloader, 'test.npz')):
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = str(data_root)
        loader.dataset.ann_file = ann
    cfg.val_dataloader.batch_size = 1
    cfg.test_dataloader.batch_size = NUM_TEST
    metric = dict(type='HMRMetric', body_model_dir=str(body),
                  joint_regressor=str(body / 'J_regressor_h36m.npy'))
    cfg.val_evaluator = [metric]
    cfg.test_evaluator = [metric]
    cfg.custom_hooks = []
    config = root / 'tiny_vis.py'
    cfg.dump(str(config))
    checkpoint = root / 'model.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict(), 'meta': {}}, checkpoint)
    return dict(root=root, cfg=cfg, config=str(config), checkpoint=str(checkpoint),
                body=body, data_root=data_root)


@pytest.fixture(scope='module')
def test_run(setup) -> dict:
    """tools/test.py --show-dir --out, with HMRMetric's per-sample file: run once."""
    tool = _load('test_tool_vis', REPO / 'tools' / 'test.py')
    root = setup['root']
    show_dir = root / 'show'
    out = root / 'preds.pkl'
    prefix = root / 'eval' / 'hmr'
    code = tool.main([
        setup['config'], setup['checkpoint'], '--work-dir', str(root / 'work_test'),
        '--show-dir', str(show_dir), '--out', str(out), '--cfg-options',
        f'test_evaluator.0.outfile_prefix={prefix}', f'experiment_name=vis_{next(_RUN_IDS)}'])
    assert code == tool.EXIT_OK
    with open(out, 'rb') as file:
        predictions = pickle.load(file)  # written by this test's own run
    return dict(show_dir=show_dir, predictions=predictions,
                per_sample=Path(f'{prefix}.per_sample.json'))


def _colour_near(image: np.ndarray, point, colour, reach: int = 1) -> bool:
    u, v = int(round(point[0])), int(round(point[1]))
    patch = image[max(v - reach, 0):v + reach + 1, max(u - reach, 0):u + reach + 1]
    return bool((np.abs(patch.astype(int) - colour).sum(-1) <= 30).any())


def _inside(points: np.ndarray, width: int, height: int, margin: float = 4) -> np.ndarray:
    return ((points[:, 0] >= margin) & (points[:, 0] <= width - 1 - margin)
            & (points[:, 1] >= margin) & (points[:, 1] <= height - 1 - margin))


# ------------------------------------------------------------------ test.py --show-dir
def test_show_dir_writes_one_image_per_sample(test_run):
    files = sorted(test_run['show_dir'].iterdir())
    predictions = {int(p['sample_idx']): p for p in test_run['predictions']}
    assert len(files) == NUM_TEST == len(predictions)
    gt_hits, pred_hits, pred_total = [], [], 0
    for path in files:
        sample_idx = int(re.fullmatch(r'\d+_(\d+)\.png', path.name).group(1))
        pred = predictions[sample_idx]
        image = mmcv.imread(str(path), channel_order='rgb')
        assert image.shape == (IMAGE_H, 2 * IMAGE_W, 3)  # GT | prediction
        gt_panel, pred_panel = image[:, :IMAGE_W], image[:, IMAGE_W:]
        # Ground-truth keypoints where the dataset puts them.
        keypoints = np.asarray(pred['keypoints2d'])
        visible = keypoints[(keypoints[:, 2] > 0) & _inside(keypoints, IMAGE_W, IMAGE_H)]
        assert len(visible) >= 5
        gt_hits += [_colour_near(gt_panel, p, GREEN) for p in visible]
        # Predicted keypoints: pinhole projection of the dumped camera-frame joints.
        joints = np.asarray(pred['pred_keypoints3d']) + np.asarray(pred['pred_cam_full'])
        focal = float(pred['focal_length'])
        projected = focal * joints[:, :2] / joints[:, 2:] + np.asarray(pred['principal_point'])
        inside = projected[_inside(projected, IMAGE_W, IMAGE_H) & (joints[:, 2] > 0)]
        pred_total += len(inside)
        pred_hits += [_colour_near(pred_panel, p, RED) for p in inside]
        # Nothing of the prediction is drawn on the GT side.
        assert not _colour_near(gt_panel, (IMAGE_W / 2, IMAGE_H / 2), RED, reach=IMAGE_W)
    # Later discs' outlines may cover an earlier centre where joints are close together.
    assert np.mean(gt_hits) >= 0.8, gt_hits
    assert pred_total >= 10  # the untrained model's people are in view
    assert np.mean(pred_hits) >= 0.8, pred_hits


def test_show_dir_switches_the_hook_on_with_any_visualizer(setup):
    cfg = setup['cfg'].copy()
    cfg.visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    enable_visualization(cfg, show_dir='shown')
    assert cfg.default_hooks.visualization.enable is True
    assert cfg.default_hooks.visualization.test_out_dir == 'shown'
    assert cfg.visualizer.type == 'HMRVisualizer'
    before = cfg.copy()
    enable_visualization(cfg)  # no --show-dir, no --show: nothing changes
    assert cfg.to_dict() == before.to_dict()


# ----------------------------------------------------------------- hook on validation
def _val_runner(setup, tmp_path, **hooks) -> Runner:
    cfg = setup['cfg'].copy()
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'vis_val_{next(_RUN_IDS)}'
    # mmengine keeps one visualizer per name in a process: a fresh one writes to this run.
    cfg.visualizer.name = cfg.experiment_name
    cfg.default_hooks.visualization = dict(type='HMRVisualizationHook', enable=True,
                                           interval=1)
    cfg.default_hooks.update(hooks)
    return Runner.from_cfg(cfg)


def test_hook_sends_validation_images_to_the_backends(setup, tmp_path, capsys):
    runner = _val_runner(
        setup, tmp_path, eval_progress=dict(type='EvalProgressBarHook', enabled=True))
    runner.val()
    image_dir = Path(runner.log_dir) / 'vis_data' / 'vis_image'
    names = sorted(p.name for p in image_dir.iterdir())
    # interval=1, batch size 1: every validation batch, step = batch index.
    assert names == [f'val_img_{i}.png' for i in range(NUM_TEST)]
    image = mmcv.imread(str(image_dir / names[0]))
    assert image.shape == (IMAGE_H, 2 * IMAGE_W, 3)
    err = capsys.readouterr().err
    assert re.search(rf'val: 100%.*{NUM_TEST}/{NUM_TEST}', err), err[-500:]


def test_hook_refuses_a_plain_visualizer(setup, tmp_path):
    cfg = setup['cfg'].copy()
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'vis_plain_{next(_RUN_IDS)}'
    cfg.visualizer = dict(type='Visualizer', name=f'plain_{next(_RUN_IDS)}')
    cfg.default_hooks.visualization = dict(type='HMRVisualizationHook', enable=True)
    with pytest.raises(TypeError, match="visualizer = dict\\(type='HMRVisualizer'"):
        Runner.from_cfg(cfg).val()


# --------------------------------------------------------------------- TensorBoard
def test_tensorboard_option(setup, monkeypatch):
    cfg = setup['cfg'].copy()
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(ImportError, match='pip install tensorboard'):
        enable_tensorboard(cfg)
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: object())
    enable_tensorboard(cfg)
    enable_tensorboard(cfg)
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types == ['LocalVisBackend', 'TensorboardVisBackend']


# ------------------------------------------------------------------- browse_dataset
def _browse(setup, out_dir: Path, *extra) -> int:
    tool = _load('browse_dataset', REPO / 'tools' / 'analysis_tools' / 'browse_dataset.py')
    return tool.main([setup['config'], '--output-dir', str(out_dir), *extra])


def test_browse_dataset_keypoints_land_on_the_mesh(setup, tmp_path):
    """Test phase (no augmentation): GT keypoints drawn where the pipeline puts them, and on
    the GT mesh posed from the SMPL parameters - two independent annotations agree."""
    runs = dict(both=(), keypoints=('--no-mesh', ), mesh=('--no-keypoints', ),
                crops=('--no-mesh', '--no-keypoints'))
    for name, extra in runs.items():
        assert _browse(setup, tmp_path / name, '--phase', 'test', '--max-samples', '2',
                       *extra) == 0
    files = sorted(p.name for p in (tmp_path / 'both').iterdir())
    assert len(files) == 2
    dataset = DATASETS.build(setup['cfg'].test_dataloader.dataset)
    crop_h, crop_w = CROP
    on_body, drawn = [], []
    for index, name in enumerate(files):
        images = {run: mmcv.imread(str(tmp_path / run / name), channel_order='rgb')
                  for run in runs}
        assert images['both'].shape == (crop_h, 2 * crop_w, 3)  # 2 RoI crops side by side
        # The mesh is where the mesh-only drawing differs from the bare crops (1 px slack).
        mesh = cv2.dilate((images['mesh'] != images['crops']).any(-1).astype(np.uint8),
                          np.ones((3, 3)))
        sample = dataset[index]['data_samples']
        keypoints = sample.keypoints2d.numpy().astype(np.float64)
        for roi in range(2):
            trans = sample.crop_trans[roi].numpy().astype(np.float64)
            points = keypoints[:, :2] @ trans[:, :2].T + trans[:, 2]
            keep = (keypoints[:, 2] > 0) & _inside(points, crop_w, crop_h, margin=1)
            for u, v in points[keep]:
                drawn.append(_colour_near(images['keypoints'], (u + roi * crop_w, v), GREEN))
                on_body.append(bool(mesh[int(round(v)), int(round(u + roi * crop_w))]))
    assert len(drawn) >= 20
    assert np.mean(drawn) >= 0.8 and np.mean(on_body) >= 0.95, (drawn, on_body)


def test_browse_dataset_train_phase_count(setup, tmp_path):
    assert _browse(setup, tmp_path, '--max-samples', '5', '--no-mesh') == 0
    assert len(list(tmp_path.iterdir())) == 2  # the train split has 2 samples


# --------------------------------------------------------------------- analyze_logs
def test_analyze_logs_plots_mmengine_scalars(tmp_path, capsys):
    backend = LocalVisBackend(save_dir=str(tmp_path / 'run' / 'vis_data'))
    losses = [2.0, 1.5, 1.25]
    for step, loss in enumerate(losses, 1):
        backend.add_scalars(dict(lr=1e-3, loss=loss, epoch=1, iter=step), step=step)
    backend.add_scalars({'hmr/mpjpe': 150.0}, step=1)
    backend.add_scalars({'hmr/mpjpe': 120.0}, step=2)
    tool = _load('analyze_logs', REPO / 'tools' / 'analysis_tools' / 'analyze_logs.py')
    train, val = tool.load_scalars(tool.find_scalars(str(tmp_path / 'run')))
    assert train['loss'] == ([1.0, 2.0, 3.0], losses)
    assert val['hmr/mpjpe'] == ([1.0, 2.0], [150.0, 120.0])
    out = tmp_path / 'curves.png'
    assert tool.main(['plot_curve', str(tmp_path / 'run'), '--keys', 'loss', 'hmr/mpjpe',
                      '--out', str(out)]) == 0
    assert mmcv.imread(str(out)).shape[0] > 100
    text = capsys.readouterr().out
    assert re.search(r'val\s+hmr/mpjpe\s+n=\s+2 first=150 last=120 min=120', text), text
    assert tool.main(['plot_curve', str(tmp_path / 'run'), '--keys', 'nope']) == 1
    assert "no log has ['nope']" in capsys.readouterr().err


# ------------------------------------------------------------------- analyze_errors
def test_analyze_errors_by_hand(tmp_path, capsys):
    data = dict(units='mm', joint_names=['a', 'b'], samples=[
        dict(sample_idx=0, img_path='x.jpg', mpjpe=10.0, pa_mpjpe=5.0,
             joint_errors=[10.0, None], pa_joint_errors=[5.0, None]),
        dict(sample_idx=1, img_path='y.jpg', mpjpe=30.0, pa_mpjpe=9.0,
             joint_errors=[20.0, 40.0], pa_joint_errors=[8.0, 10.0]),
        dict(sample_idx=2, img_path='z.jpg', skipped='no SMPL ground truth (has_smpl=0)')])
    path = tmp_path / 'r.per_sample.json'
    path.write_text(json.dumps(data))
    tool = _load('analyze_errors', REPO / 'tools' / 'analysis_tools' / 'analyze_errors.py')
    assert tool.joint_means(tool.load_per_sample(str(path))) == [15.0, 40.0]
    out = tmp_path / 'errors.png'
    assert tool.main([str(path), '--out', str(out), '--worst', '1']) == 0
    assert out.is_file()
    text = capsys.readouterr().out
    assert '2 of 3 samples have mpjpe; mean 20.00 mm' in text
    assert re.search(r'worst 1 samples by mpjpe:\n\s+30.00 mm\s+sample_idx=1\s+y.jpg', text)


def test_analyze_errors_on_a_test_run(test_run, capsys):
    tool = _load('analyze_errors_run', REPO / 'tools' / 'analysis_tools' / 'analyze_errors.py')
    data = tool.load_per_sample(str(test_run['per_sample']))
    assert tool.main([str(test_run['per_sample']), '--out',
                      str(test_run['per_sample'].with_suffix('.png'))]) == 0
    mean = float(re.search(r'mean (\d+\.\d+) mm', capsys.readouterr().out).group(1))
    assert mean == pytest.approx(data['metrics']['mpjpe'], abs=0.006)


# ------------------------------------------------------------------------ get_flops
def test_get_flops_of_a_1x1_conv(tmp_path, capsys):
    config = tmp_path / 'conv.py'
    config.write_text("model = dict(type='Conv2d', in_channels=3, out_channels=8, "
                      'kernel_size=1)\n')
    tool = _load('get_flops', REPO / 'tools' / 'analysis_tools' / 'get_flops.py')
    assert tool.main([str(config), '--input-shape', '3', '32', '24']) == 0
    out = capsys.readouterr().out
    # One multiply-add per output value and input channel: 3 * 8 * 32 * 24; weights + bias.
    assert f'FLOPs: {3 * 8 * 32 * 24}' in out
    assert f'Params: {3 * 8 + 8} ' in out


def test_get_flops_of_the_estimator(setup, capsys):
    tool = _load('get_flops_hmr', REPO / 'tools' / 'analysis_tools' / 'get_flops.py')
    assert tool.main([setup['config']]) == 0
    out = capsys.readouterr().out
    assert f'one person, 2 RoI crops of {CROP[0]}x{CROP[1]}' in out
    params = int(re.search(r'Params: (\d+)', out).group(1))
    model = MODELS.build(setup['cfg'].model)
    assert params == sum(p.numel() for p in model.parameters())
    assert float(re.search(r'FLOPs: ([\d.]+)', out).group(1)) > 0


def test_hook_draws_augmented_samples_on_their_crop(setup):
    """A flipped sample's geometry is not the file's: the hook falls back to RoI 0's crop."""
    from mroi_plugin.engine.hooks import HMRVisualizationHook
    from mroi_plugin.structures import HMRDataSample
    crops = torch.zeros(2, 3, *CROP, dtype=torch.uint8)
    crops[0, 0], crops[0, 1], crops[0, 2] = 10, 20, 30  # B, G, R of RoI 0
    image_file = next((setup['data_root'] / 'images' / 'test').iterdir())
    batch = dict(inputs=[crops])
    for flip, expected_roi in ((True, 0), (False, None)):
        sample = HMRDataSample(metainfo=dict(img_path=str(image_file), flip=flip, rotation=0.0))
        image, roi = HMRVisualizationHook._image(batch, 0, sample)
        assert roi == expected_roi
        if flip:
            assert image.shape == (*CROP, 3) and tuple(image[0, 0]) == (30, 20, 10)  # RGB
        else:
            assert image.shape == (IMAGE_H, IMAGE_W, 3)


def test_tensorboard_receives_the_validation_images(setup, tmp_path):
    """The real backend (skipped without the optional tensorboard package)."""
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    runner_cfg = setup['cfg'].copy()
    enable_tensorboard(runner_cfg)
    runner_cfg.work_dir = str(tmp_path)
    runner_cfg.experiment_name = f'vis_tb_{next(_RUN_IDS)}'
    runner_cfg.visualizer.name = runner_cfg.experiment_name
    runner_cfg.default_hooks.visualization = dict(type='HMRVisualizationHook', enable=True,
                                                  interval=2)
    runner = Runner.from_cfg(runner_cfg)
    runner.val()
    runner.visualizer.close()
    events = EventAccumulator(str(Path(runner.log_dir) / 'vis_data'))
    events.Reload()
    images = events.Images('val_img')
    assert [image.step for image in images] == [0, 2]  # batches 0 and 2 of 3 (interval 2)
    assert (images[0].height, images[0].width) == (IMAGE_H, 2 * IMAGE_W)
    assert 'hmr/mpjpe' in events.Tags()['scalars']
