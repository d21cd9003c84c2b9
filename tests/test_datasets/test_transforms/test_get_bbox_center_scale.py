"""GetBBoxCenterScale + the crop: the one owner of the crop box (padding, then the aspect)."""
import math
import os.path as osp
import sys

import numpy as np
import pytest

from mroi_plugin.datasets import HumanDataDataset
from mroi_plugin.datasets.transforms import (
    GetBBoxCenterScale,
    MultiRoIContextCrop,
    MultiRoICrop,
    RandomFlipHMR,
    pipeline_crop_box,
)
from mroi_plugin.datasets.transforms.loading import annotation_outside_image
from mroi_plugin.geometry import bbox_xyxy_to_roi

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from humandata_factory import dump_human_data, make_human_data  # noqa: E402

from .conftest import make_person  # noqa: E402

# (x1, y1, x2, y2) -> centre, and RoI height by hand for 256x192 (aspect 0.75) and square
# crops with padding 1.2: b = max(h, w / aspect) * 1.2.
BOXES = [
    # tall: h = 200 wins over w / 0.75 = 80
    ((10.0, 20.0, 70.0, 220.0), (40.0, 120.0), 240.0, 240.0),
    # wide: w / 0.75 = 400 wins over h = 100; square crop: w = 300 wins
    ((0.0, 0.0, 300.0, 100.0), (150.0, 50.0), 480.0, 360.0),
    # exactly the crop's aspect: w / 0.75 = h = 160
    ((100.5, 40.25, 220.5, 200.25), (160.5, 120.25), 192.0, 192.0),
]


def _person(box, seed=0):
    results = make_person(seed)
    del results['bbox_center'], results['bbox_size']
    results['bbox_xyxy'] = np.asarray(box, dtype=np.float64)
    return results


def _roi0(results, crop):
    out = crop(GetBBoxCenterScale()(results))
    return out['roi_centers'][0], out['roi_sizes'][0]


@pytest.mark.parametrize('box,center,size_cliff,size_square', BOXES)
def test_centre_and_size_by_hand(box, center, size_cliff, size_square):
    results = GetBBoxCenterScale()(_person(box))
    np.testing.assert_array_equal(results['bbox_center'], center)
    assert results['bbox_center'].dtype == np.float32
    np.testing.assert_array_equal(results['bbox_wh'], [box[2] - box[0], box[3] - box[1]])
    assert results['bbox_padding'] == 1.2
    for crop_size, size in (((256, 192), size_cliff), ((100, 100), size_square)):
        roi_center, roi_size = _roi0(_person(box), MultiRoICrop(num_rois=1, crop_size=crop_size))
        np.testing.assert_allclose(roi_center, center, rtol=0, atol=1e-9)
        assert roi_size == pytest.approx(size, rel=1e-12)


def test_padding_scales_the_roi_and_is_recorded():
    box = BOXES[1][0]
    crop = MultiRoICrop(num_rois=1, crop_size=(256, 192))
    for padding in (1.0, 1.1, 1.5):
        results = GetBBoxCenterScale(padding=padding)(_person(box))
        assert results['bbox_padding'] == padding
        assert crop(results)['roi_sizes'][0] == pytest.approx(400.0 * padding, rel=1e-12)
    for bad in (0, -1.2, float('nan'), math.inf, True, '1.2'):
        with pytest.raises(ValueError, match='padding must be a positive number'):
            GetBBoxCenterScale(padding=bad)


@pytest.mark.parametrize('crop_type', [MultiRoICrop, MultiRoIContextCrop])
def test_the_crop_fixes_the_aspect_from_its_crop_size(crop_type):
    """Same box, same padding: only the crop size decides w / aspect against h."""
    box = BOXES[1][0]  # 300 x 100
    for crop_size, size in (((256, 192), 480.0), ((192, 256), 1.2 * 300 * 0.75),
                            ((128, 128), 360.0)):
        kwargs = dict(context_size=crop_size) if crop_type is MultiRoIContextCrop else {}
        crop = crop_type(num_rois=5, crop_size=crop_size, **kwargs)
        out = crop(GetBBoxCenterScale()(_person(box)))
        assert out['roi_sizes'][0] == pytest.approx(size, rel=1e-12)
        assert out['crop_size'] == crop_size


def test_a_file_defined_crop_is_left_alone():
    results = make_person(0)  # bbox_center + bbox_size, as SPINNpzDataset gives them
    center, size = results['bbox_center'].copy(), results['bbox_size']
    results['bbox_xyxy'] = np.array([0.0, 0.0, 10.0, 10.0])  # ignored: the file's crop wins
    out = GetBBoxCenterScale(padding=1.5)(results)
    np.testing.assert_array_equal(out['bbox_center'], center)
    assert out['bbox_size'] == size and 'bbox_wh' not in out
    # how the file's crop was made from the person box is unknown: no padding is claimed
    assert 'bbox_padding' not in out
    roi_center, roi_size = _roi0(out, MultiRoICrop(num_rois=1))
    np.testing.assert_allclose(roi_center, center)
    assert roi_size == size


@pytest.mark.parametrize('box', [(10.0, 20.0, 10.0, 80.0), (10.0, 20.0, 50.0, 19.0),
                                 (0.0, 0.0, float('nan'), 50.0), (0.0, 0.0, 50.0)])
def test_a_degenerate_box_is_a_clear_error(box):
    with pytest.raises(ValueError, match=r'degenerate box bbox_xyxy=.*x2 > x1 and y2 > y1'):
        GetBBoxCenterScale()(_person(box))


def test_missing_keys_name_the_step_to_add():
    results = _person(BOXES[0][0])
    del results['bbox_xyxy']
    with pytest.raises(KeyError, match='bbox_xyxy'):
        GetBBoxCenterScale()(results)
    with pytest.raises(KeyError, match='GetBBoxCenterScale'):
        MultiRoICrop(num_rois=1)(_person(BOXES[0][0]))


def test_flip_mirrors_the_person_box():
    results = _person(BOXES[0][0])
    flipped = RandomFlipHMR(prob=1.0)(results)
    width = results['img'].shape[1]
    np.testing.assert_array_equal(flipped['bbox_xyxy'],
                                  [width - 1 - 70.0, 20.0, width - 1 - 10.0, 220.0])


def test_load_image_checks_the_person_box():
    outside = dict(bbox_xyxy=np.array([700.0, 10.0, 800.0, 200.0]))
    assert 'entirely outside' in annotation_outside_image(outside, 640, 480)
    inside = dict(bbox_xyxy=np.array([600.0, 10.0, 800.0, 200.0]))
    assert annotation_outside_image(inside, 640, 480) is None


def test_pipeline_crop_box_reads_configs_and_built_steps():
    configs = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale', padding=1.1),
               dict(type='MultiRoICrop', crop_size=(96, 72))]
    assert pipeline_crop_box(configs) == (1.1, (96, 72))
    assert pipeline_crop_box([dict(type='GetBBoxCenterScale'),
                              dict(type='MultiRoIContextCrop')]) == (1.2, (256, 192))
    built = [GetBBoxCenterScale(1.3), MultiRoICrop(crop_size=(64, 48))]
    assert pipeline_crop_box(built) == (1.3, (64, 48))
    with pytest.raises(ValueError, match="add dict\\(type='GetBBoxCenterScale'\\)"):
        pipeline_crop_box(configs[2:])


@pytest.mark.parametrize('crop_size', [(96, 72), (256, 192), (100, 100)])
def test_dataset_and_pipeline_give_the_rois_of_before(tmp_path, crop_size):
    """RoI 0 from the dataset's box and the pipeline equals bbox_xyxy_to_roi, bit for bit.

    The reference is computed here from the file's ``bbox_xywh`` as the dataset computed it
    before the crop box moved to the pipeline (float64, centre cast to float32).
    """
    data = make_human_data(num_samples=8, camera='focal_length', seed=3)
    data['bbox_xywh'][1, 2] *= 4.0  # a wide box: w / aspect > h
    path = dump_human_data(str(tmp_path / 'train.npz'), data)
    dataset = HumanDataDataset(ann_file=path)
    get_box = GetBBoxCenterScale()
    crop = MultiRoICrop(num_rois=5, crop_size=crop_size)
    aspect = crop_size[1] / crop_size[0]
    wide = 0
    for index in range(len(dataset)):
        results = dataset.get_data_info(index)
        results.update(img=np.zeros((480, 640, 3), np.uint8), img_shape=(480, 640))
        out = crop(get_box(results))
        x, y, w, h = np.asarray(data['bbox_xywh'][index, :4], np.float64).tolist()
        center, size = bbox_xyxy_to_roi(np.array([x, y, x + w, y + h]), aspect, 1.2)
        wide += int(w / aspect > h)
        np.testing.assert_array_equal(out['roi_centers'][0],
                                      center.astype(np.float32).astype(np.float64))
        assert out['roi_sizes'][0] == float(size)
    assert wide >= 1
