"""MultiRoIContextCrop: MultiRoICrop's geometry with one context crop holding every RoI."""
import copy

import numpy as np
import pytest
from mmcv.transforms import Compose

from mroi_plugin.datasets.transforms import (
    MultiRoIContextCrop,
    MultiRoICrop,
    PackHMRInputs,
    RandomColorScale,
    RandomFlipHMR,
    RandomScaleRotation,
)
from mroi_plugin.geometry import apply_affine

# A layout whose RoIs and context share one pixel grid: scale-1 crops of a 16x12 crop size on a
# 16-pixel original box, RoIs shifted by 4 px, so the union is 20x16 px (context (20, 16)).
ALIGNED = dict(num_rois=3, shifts=[(0, 0), (0.25, 0), (0, 0.25)], scales=[1, 1, 1],
               crop_size=(16, 12))
ALIGNED_CONTEXT = (20, 16)


def aligned_person(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return dict(img=rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), img_shape=(48, 40),
                bbox_center=np.array([20.0, 24.0]), bbox_size=16.0, focal_length=100.0,
                principal_point=np.array([20.0, 24.0]))


@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('seed', [0, 1])
def test_geometry_and_targets_equal_crop_mode(person, flip, seed):
    """Everything but the image is MultiRoICrop's, under flip, scale, rotation and colour."""
    outputs = []
    for crop in (MultiRoICrop(num_rois=5), MultiRoIContextCrop(num_rois=5,
                                                                 context_size=(256, 192))):
        np.random.seed(seed)
        pipeline = Compose([RandomFlipHMR(prob=float(flip)),
                            RandomScaleRotation(rotation_prob=1.0), RandomColorScale(), crop])
        outputs.append(pipeline(copy.deepcopy(person(seed))))
    crop_mode, feature_mode = outputs
    assert feature_mode['rotation'] != 0.0
    assert crop_mode['img'].shape == (5, 256, 192, 3)
    assert feature_mode['img'].shape == (1, 256, 192, 3)
    extra = {'img', 'context_trans', 'roi_boxes_context', 'context_size'}
    assert set(feature_mode) - set(crop_mode) == extra - {'img'}
    for key, value in crop_mode.items():
        if key != 'img':
            np.testing.assert_array_equal(np.asarray(feature_mode[key]), np.asarray(value),
                                          err_msg=key)


@pytest.mark.parametrize('context_size', [(256, 192), (320, 256), (96, 80)])
def test_roi_boxes_place_each_crop_in_the_context(person, context_size):
    """A point of RoI k's crop lands in the context where context_trans puts its I' point,
    and the context is the tightest box of its aspect around all RoIs."""
    results = MultiRoIContextCrop(num_rois=5, context_size=context_size)(person(3))
    boxes, trans = results['roi_boxes_context'], results['context_trans']
    crop_h, crop_w = 256, 192
    # Independent of the boxes: I' keypoints through each RoI's crop affine, then through the
    # box's linear map crop -> context, against context_trans applied to the same points.
    uv = results['keypoints2d'][:, :2]
    for k, box in enumerate(boxes):
        in_crop = apply_affine(uv, results['crop_trans'][k])
        scale = np.array([(box[2] - box[0]) / crop_w, (box[3] - box[1]) / crop_h])
        np.testing.assert_allclose(box[:2] + in_crop * scale, apply_affine(uv, trans),
                                   atol=1e-9)
        # RoIs keep their crop's aspect: one isotropic scale.
        assert scale[0] == pytest.approx(scale[1])
    height, width = context_size
    low, high = boxes[:, :2].min(0), boxes[:, 2:].max(0)
    assert np.all(low >= -1e-9) and high[0] <= width + 1e-9 and high[1] <= height + 1e-9
    # Tight: the union touches both sides of at least one axis, centred on the other.
    margins = np.array([low[0], width - high[0], low[1], height - high[1]])
    assert min(margins[:2].max(), margins[2:].max()) < 1e-9
    np.testing.assert_allclose(margins[0], margins[1], atol=1e-9)
    np.testing.assert_allclose(margins[2], margins[3], atol=1e-9)


def test_aligned_context_holds_each_crop_pixel_for_pixel():
    """On a shared pixel grid the context contains every RoI crop exactly, at its box."""
    crops = MultiRoICrop(**ALIGNED)(aligned_person())
    context = MultiRoIContextCrop(context_size=ALIGNED_CONTEXT, **ALIGNED)(aligned_person())
    # Hand-derived: the union spans x in [-6, 10] and y in [-8, 12] px around the box centre,
    # so RoI 0 starts at the context's corner and RoIs 1, 2 4 px to the right / down.
    np.testing.assert_allclose(context['roi_boxes_context'],
                               [[0, 0, 12, 16], [4, 0, 16, 16], [0, 4, 12, 20]], atol=1e-9)
    for crop, (x1, y1, x2, y2) in zip(crops['img'], context['roi_boxes_context'].astype(int)):
        np.testing.assert_array_equal(context['img'][0, y1:y2, x1:x2], crop)


def test_packs_one_context_image_and_the_roi_boxes():
    results = MultiRoIContextCrop(context_size=ALIGNED_CONTEXT, **ALIGNED)(aligned_person())
    packed = PackHMRInputs()(results)
    assert packed['inputs'].shape == (1, 3, 20, 16)
    sample = packed['data_samples']
    assert sample.roi_boxes_context.shape == (3, 4)
    assert sample.context_trans.shape == (2, 3)
    assert sample.metainfo['context_size'] == ALIGNED_CONTEXT
    assert sample.metainfo['crop_size'] == (16, 12)


@pytest.mark.parametrize('size', [(256, ), (0, 192), (256.0, 192), (True, 192)])
def test_bad_context_size_is_refused(size):
    with pytest.raises(ValueError, match='context_size must be'):
        MultiRoIContextCrop(context_size=size)
