"""PackHMRInputs: tensor shapes and dtypes, field names, metainfo, batching."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate

from mroi_plugin.datasets.transforms import MultiRoICrop, PackHMRInputs
from mroi_plugin.structures import HMRDataSample, stack_data_samples

CROP_H, CROP_W = 256, 192

EXPECTED_SHAPES = {
    'roi_centers': (5, 2), 'roi_sizes': (5, ), 'bbox_info': (5, 3), 'crop_trans': (5, 2, 3),
    'keypoints2d_crop': (5, 24, 3), 'keypoints2d': (24, 3), 'keypoints3d': (24, 4),
    'smpl_global_orient': (3, ), 'smpl_body_pose': (23, 3), 'smpl_betas': (10, ),
    'smpl_transl': (3, ), 'has_keypoints2d': (), 'has_keypoints3d': (), 'has_smpl': (),
    'has_transl': (), 'focal_length': (), 'principal_point': (2, )
}


def pack(results: dict) -> dict:
    return Compose([MultiRoICrop(num_rois=5), PackHMRInputs()])(results)


def test_pack_shapes_dtypes_and_values(person):
    results = person(0)
    results.update(rotation=10.0, scale=0.9)
    packed = pack(results)
    crops = results['img']  # MultiRoICrop replaced the image by its crops, in place
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(sample, HMRDataSample)
    assert inputs.dtype == torch.uint8 and inputs.shape == (5, 3, CROP_H, CROP_W)
    for channel in range(3):  # channel order kept (BGR); no normalisation here
        np.testing.assert_array_equal(inputs[:, channel].numpy(), crops[..., channel])
    assert set(sample.keys()) == set(EXPECTED_SHAPES)
    for key, shape in EXPECTED_SHAPES.items():
        value = sample.get(key)
        assert value.dtype == torch.float32 and tuple(value.shape) == shape, key
    np.testing.assert_allclose(sample.keypoints2d_crop.numpy(), results['keypoints2d_crop'],
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sample.principal_point.numpy(), results['principal_point'],
                               rtol=1e-7)
    meta = sample.metainfo
    assert meta['img_path'] == 'synthetic_0.jpg' and meta['sample_idx'] == 0
    assert meta['img_shape'] == (480, 640) and meta['ori_shape'] == (480, 640)
    assert meta['crop_size'] == (CROP_H, CROP_W) and meta['flip'] is False
    assert meta['rotation'] == 10.0 and meta['scale'] == 0.9
    assert meta['gender'] == 'neutral' and meta['dataset_name'] == 'synthetic'


def test_missing_targets_are_skipped(person):
    results = person(1)
    for key in ('keypoints3d', 'smpl_global_orient', 'smpl_body_pose', 'smpl_betas',
                'smpl_transl', 'gender'):
        del results[key]
    sample = pack(results)['data_samples']
    assert 'smpl_betas' not in sample and 'keypoints3d' not in sample
    assert 'gender' not in sample.metainfo and 'keypoints2d_crop' in sample


def test_single_image_and_bad_input():
    image = np.zeros((8, 6, 3), np.uint8)
    assert PackHMRInputs()(dict(img=image))['inputs'].shape == (1, 3, 8, 6)
    with pytest.raises(KeyError, match='img'):
        PackHMRInputs()(dict())
    with pytest.raises(TypeError, match='gender'):
        PackHMRInputs(keys=('gender', ))(dict(img=image, gender='male'))


def test_collated_batch_stacks_to_batch_tensors(person):
    batch = pseudo_collate([pack(person(seed)) for seed in range(3)])
    assert len(batch['inputs']) == 3 and len(batch['data_samples']) == 3
    stacked = stack_data_samples(batch['data_samples'])
    assert set(stacked) == set(EXPECTED_SHAPES)
    for key, shape in EXPECTED_SHAPES.items():
        assert tuple(stacked[key].shape) == (3, ) + shape, key
    torch.testing.assert_close(stacked['roi_sizes'][2], batch['data_samples'][2].roi_sizes)
