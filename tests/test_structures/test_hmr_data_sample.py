"""HMRDataSample.stack / stack_data_samples."""
import pytest
import torch

from mroi_plugin.structures import HMRDataSample, stack_data_samples


def make_sample(num_rois: int, offset: float) -> HMRDataSample:
    sample = HMRDataSample(metainfo=dict(img_path=f'{offset}.jpg'))
    sample.roi_sizes = torch.arange(num_rois, dtype=torch.float32) + offset
    sample.has_smpl = torch.tensor(offset)
    sample.note = 'not a tensor'
    return sample


def test_stack_gives_batch_tensors():
    samples = [make_sample(5, 0.0), make_sample(5, 10.0)]
    stacked = HMRDataSample.stack(samples, ['roi_sizes', 'has_smpl'])
    assert stacked['roi_sizes'].shape == (2, 5) and stacked['has_smpl'].shape == (2, )
    torch.testing.assert_close(stacked['roi_sizes'][1], torch.arange(5.0) + 10)
    torch.testing.assert_close(stacked['has_smpl'], torch.tensor([0.0, 10.0]))
    # keys=None: every tensor field present in all samples, strings left out.
    assert set(stack_data_samples(samples)) == {'roi_sizes', 'has_smpl'}
    moved = stack_data_samples(samples, ['has_smpl'], device='cpu')
    assert moved['has_smpl'].device.type == 'cpu'


def test_stack_errors_name_the_problem():
    with pytest.raises(ValueError, match='at least one'):
        stack_data_samples([])
    with pytest.raises(ValueError, match="'roi_sizes'.*num_rois"):
        stack_data_samples([make_sample(5, 0.0), make_sample(3, 0.0)], ['roi_sizes'])
    lacking = make_sample(5, 0.0)
    del lacking.has_smpl
    with pytest.raises(KeyError, match="sample 1 has no field 'has_smpl'"):
        stack_data_samples([make_sample(5, 0.0), lacking], ['has_smpl'])
