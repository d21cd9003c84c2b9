"""``init_model(configs/cliff/...)`` + ``inference_mesh`` on a detector box == CLIFF's demo.

The expected numbers (``tests/data/cliff_parity.json``, ``demo``) were recorded once, outside
this repository, by running the computation of CLIFF's ``demo.py`` (github.com/huawei-noah/
noah-research ``CLIFF/`` at aa0f80c8ce4815b1f072500be6906f56fc76a91a, CPU float32) for one
detector box on the real 3DPW frame below: its ``MocapDataset`` + ``DataLoader`` (``process_image``:
box enlarged by 1.1, integer window, ``cv2.resize``, ImageNet normalisation), the ``bbox_info``
normalisation, the CLIFF-R50 model with ``tests/cliff_parity.parity_state_dict`` weights
(seed 1000, loaded as ``demo.py`` loads a checkpoint) and ``cam_crop2full``. Stored: the box's
centre, scale and integer window, the focal length, ``bbox_info``, sums and 20 pixels of the
normalised crop, and the outputs. The image is research-licensed and never committed: the test
skips when ``../shared/data`` is absent.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mroi_plugin.apis import inference_mesh, init_model
from mroi_plugin.apis.inference import (
    _build_inference_pipeline,
    _find_test_pipeline,
    _inference_steps,
    _read_image,
)
from mroi_plugin.datasets.transforms import pipeline_crop_box
from mroi_plugin.geometry import axis_angle_to_rotmat, bbox_xyxy_to_roi
from tests.cliff_parity import converted_official_weights, load_fixture

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLIFF_R50 = osp.join(REPO, 'configs/cliff/cliff_r50.py')
MROI_R50 = osp.join(REPO, 'configs/mroi/mroi_r50.py')
IMAGE = osp.join(REPO, '..', 'shared', 'data', 'real_samples', 'pw3d_real', 'imageFiles',
                 'courtyard_rangeOfMotions_00', 'image_00311.jpg')
TOLERANCE = 1e-4


def _crop_box(cfg):
    """(padding, crop_size) inference makes detector boxes' RoIs with."""
    return pipeline_crop_box(_inference_steps(cfg, _find_test_pipeline(cfg)))


def test_box_convention_of_cliff_and_multiroi_configs():
    # CLIFF's demo: max(w * 256 / 192, h) * 1.1 (imutils.bbox_from_detector).
    cliff = Config.fromfile(CLIFF_R50)
    assert _crop_box(cliff) == (1.1, (256, 192))
    crop = [t for t in _find_test_pipeline(cliff) if t['type'] == 'MultiRoICrop']
    assert [t['crop_mode'] for t in crop] == ['cliff']
    # Multi-RoI: its datasets' 1.2 and the exact warp.
    mroi = Config.fromfile(MROI_R50)
    assert _crop_box(mroi) == (1.2, (256, 192))
    crop = [t for t in _find_test_pipeline(mroi) if t['type'] == 'MultiRoICrop']
    assert [t['crop_mode'] for t in crop] == ['warp']
    for bad in (0, -1.1, 'big', float('nan'), True):
        cliff.detector_bbox_scale_factor = bad
        with pytest.raises(ValueError, match='detector_bbox_scale_factor must be a positive'):
            _crop_box(cliff)


@pytest.mark.skipif(not osp.isfile(IMAGE), reason='real 3DPW frame (../shared/data) absent')
def test_inference_mesh_matches_cliff_demo(tmp_path, standin_dir):
    demo = load_fixture()['demo']
    checkpoint = converted_official_weights('res50', demo['weight_seed'], str(tmp_path))
    model = init_model(CLIFF_R50, checkpoint,
                       cfg_options={'model.body_model.model_path': standin_dir})

    # The crop the config's pipeline cuts, normalised by the model's data preprocessor.
    img, _ = _read_image(IMAGE)
    height, width = img.shape[:2]
    box = np.array([demo['bbox_xyxy']])
    padding, (crop_h, crop_w) = _crop_box(model.cfg)
    centers, sizes = bbox_xyxy_to_roi(box, crop_w / crop_h, padding)
    np.testing.assert_allclose(centers[0], demo['center'], atol=1e-4)
    np.testing.assert_allclose(sizes[0], np.float64(demo['scale']) * 200, rtol=1e-6)
    steps = _inference_steps(model.cfg, _find_test_pipeline(model.cfg))
    packed = _build_inference_pipeline(steps)(dict(
        img=img, img_shape=(height, width), bbox_xyxy=box[0],
        focal_length=demo['focal_length'], principal_point=np.array([width / 2, height / 2])))
    sample = packed['data_samples']
    np.testing.assert_allclose(sample.bbox_info[0].numpy(), demo['bbox_info'], atol=TOLERANCE)
    with torch.no_grad():
        crop = model.data_preprocessor(dict(inputs=[packed['inputs']]))['inputs'][0].double()
    rows, cols = demo['sample_rows'], demo['sample_cols']
    np.testing.assert_allclose(crop[:, rows][:, :, cols].numpy(), demo['norm_img_samples'],
                               atol=TOLERANCE)
    np.testing.assert_allclose(crop.sum(dim=(1, 2)).numpy(), demo['norm_img_channel_sums'],
                               atol=0.05)  # sums of 49,152 values rounded to 1e-3
    np.testing.assert_allclose(crop.abs().sum().item(), demo['norm_img_abs_sum'], atol=0.05)

    person = inference_mesh(model, IMAGE, box)[0]
    assert person['focal_length'] == pytest.approx(demo['focal_length'], rel=1e-6)
    np.testing.assert_allclose(person['bbox_center'], demo['center'], atol=1e-4)
    np.testing.assert_allclose(axis_angle_to_rotmat(torch.from_numpy(person['pose'])).numpy(),
                               demo['pred_rotmat'], atol=TOLERANCE)
    np.testing.assert_allclose(person['betas'], demo['pred_betas'], atol=TOLERANCE)
    np.testing.assert_allclose(person['cam_crop'][0], demo['pred_cam_crop'], atol=TOLERANCE)
    np.testing.assert_allclose(person['cam_full'], demo['pred_cam_full'], atol=TOLERANCE)
