"""Boxes outside the image and images resized after annotation are bad samples, counted."""
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mroi_plugin.datasets import BadSampleError, HumanDataDataset
from mroi_plugin.datasets.transforms import AnnotationOutOfImageError
from mroi_plugin.datasets.transforms.loading import annotation_outside_image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from humandata_factory import (  # noqa: E402
    IMAGE_SIZE,
    dump_human_data,
    make_human_data,
    write_images,
)

WIDTH, HEIGHT = IMAGE_SIZE  # 64 x 48


def _keypoints(xy, conf=1.0):
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    return np.concatenate([xy, np.full((len(xy), 1), conf, np.float32)], axis=1)


# ------------------------------------------------------------------ the check itself
@pytest.mark.parametrize('center, size, outside', [
    ((32, 24), 20, False),     # inside
    ((-5, 24), 20, False),     # truncated at the left border: half of it is in
    ((-10.5, 24), 20, True),   # its right edge x = -0.5 < 0
    ((74.5, 24), 20, True),    # its left edge x = 64.5 > 64
    ((32, 60), 20, True),      # its top edge y = 50 > 48
    ((500, 400), 150, True),   # the 13,181-loss case: annotated in a 10x larger image
])
def test_a_box_outside_the_image_is_named(center, size, outside):
    problem = annotation_outside_image(
        dict(bbox_center=np.array(center, np.float32), bbox_size=size), WIDTH, HEIGHT)
    assert (problem is not None) == outside, problem
    if outside:
        assert 'lies entirely outside it' in problem


def test_keypoints_far_outside_mean_a_resized_image():
    margin = 0.1 * max(WIDTH, HEIGHT)  # 6.4 px
    inside = [(10, 10), (50, 40), (0, 0), (64, 48)]
    near = [(64 + margin - 0.5, 10), (-margin + 0.5, 40)]   # truncated people: fine
    far = [(64 + margin + 0.5, 10), (10, 48 + margin + 0.5), (200, 150)]
    assert annotation_outside_image(dict(keypoints2d=_keypoints(inside + near)),
                                    WIDTH, HEIGHT) is None
    # 3 of 9 outside: a minority.
    assert annotation_outside_image(dict(keypoints2d=_keypoints(inside + near + far)),
                                    WIDTH, HEIGHT) is None
    # 3 of 5 outside: the majority.
    problem = annotation_outside_image(dict(keypoints2d=_keypoints(inside[:2] + far)),
                                       WIDTH, HEIGHT)
    assert problem == ('3 of its 5 labelled 2D keypoints lie more than 6 px outside it '
                       '(up to x=200, y=150 px)')
    # Unlabelled joints do not count, and 3 labelled joints are too few to judge.
    unlabelled = np.concatenate([_keypoints(far), _keypoints(far * 3, conf=0.0)])
    assert annotation_outside_image(dict(keypoints2d=unlabelled), WIDTH, HEIGHT) is None


# ------------------------------------------------------------ through the dataset
def _write(tmp_path, data, image_sizes=None, **overrides):
    """The HumanData file and its images (``image_sizes[i]`` overrides sample i's)."""
    path = dump_human_data(str(tmp_path / 'ann.npz'), data, **overrides)
    write_images(str(tmp_path), data['image_path'])
    for index, (width, height) in (image_sizes or {}).items():
        full = osp.join(str(tmp_path), data['image_path'][index])
        cv2.imwrite(full, np.zeros((height, width, 3), np.uint8))
    return path


def _dataset(path, **kwargs):
    return HumanDataDataset(ann_file=osp.basename(path), data_root=osp.dirname(path),
                            pipeline=[dict(type='LoadImage')], **kwargs)


@pytest.fixture
def logged(monkeypatch):
    import mroi_plugin.datasets.human_data_dataset as module
    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: messages.append(msg))
    return messages


def test_box_outside_the_loaded_image_raises_with_the_default_policy(tmp_path):
    data = make_human_data(num_samples=6)
    data['bbox_xywh'][2, :2] = (500, 400)  # annotated in a larger image
    ds = _dataset(_write(tmp_path, data))
    for index in (0, 1, 3, 4, 5):
        assert ds[index]['img'].shape[:2] == (HEIGHT, WIDTH)
    with pytest.raises(AnnotationOutOfImageError,
                       match=r"frame_00002\.jpg.*sample_idx=2.*is 64x48 px but its box.*lies "
                       r"entirely outside it.*on_bad_sample='skip'"):
        ds[2]
    assert issubclass(AnnotationOutOfImageError, BadSampleError)


def test_images_resized_after_annotation_are_skipped_and_counted(tmp_path, logged):
    # Samples 1 and 4 were shrunk to a quarter after annotation: their boxes
    # still overlap the small image, but most keypoints lie far outside it.
    data = make_human_data(num_samples=6)
    path = _write(tmp_path, data, image_sizes={1: (16, 12), 4: (16, 12)})
    strict = _dataset(path)
    with pytest.raises(AnnotationOutOfImageError, match=r'frame_00001\.jpg.*is 16x12 px but '
                       r'\d+ of its \d+ labelled 2D keypoints'):
        strict[1]
    ds = _dataset(path, on_bad_sample='skip')
    np.random.seed(0)
    for _ in range(3):
        for index in range(6):
            sample = ds[index]
            assert sample['sample_idx'] in (0, 2, 3, 5)
            assert sample['img'].shape[:2] == (HEIGHT, WIDTH)
    assert ds.skipped_indices == [1, 4] and ds.num_skipped >= 6
    skips = [m for m in logged if 'skipping sample' in m]
    assert len(skips) == 2 and all('16x12 px' in m for m in skips)
    # Evaluation never replaces samples.
    with pytest.raises(AnnotationOutOfImageError):
        _dataset(path, on_bad_sample='skip', test_mode=True)[4]


def test_stored_image_size_catches_outside_boxes_at_open(tmp_path, logged):
    data = make_human_data(num_samples=8)
    data['bbox_xywh'][3, :2] = (WIDTH + 1, 5)     # right of the image
    data['bbox_xywh'][6, 1] = -data['bbox_xywh'][6, 3] - 1  # above it
    sizes = np.tile(np.array(IMAGE_SIZE, np.float32), (8, 1))
    path = _write(tmp_path, data, image_size=sizes)
    ds = HumanDataDataset(ann_file='ann.npz', data_root=str(tmp_path))
    assert len(ds) == 8
    opened = [m for m in logged if 'outside their image_size' in m]
    assert opened == [f'{path}: 2 of 8 boxes in bbox_xywh lie entirely outside their '
                      "image_size (first at indices [3, 6]); those samples raise "
                      "(on_bad_sample='raise') when drawn."]
    with pytest.raises(BadSampleError, match=r"'bbox_xywh', index 6: box .* lies entirely "
                       r'outside its image_size 64x48 px'):
        ds.get_data_info(6)
    ds.get_data_info(5)  # its neighbours are fine
    skipping = _dataset(path, on_bad_sample='skip')
    np.random.seed(1)
    assert all(skipping[i]['sample_idx'] not in (3, 6) for i in range(8))
    assert skipping.skipped_indices == [3, 6]


def test_many_bad_samples_are_logged_as_counts(tmp_path, logged):
    """30 bad of 40: five lines with reasons, then one count at 10 (not 30 lines)."""
    data = make_human_data(num_samples=40)
    data['bbox_xywh'][10:, :2] = (1000, 1000)
    ds = _dataset(_write(tmp_path, data), on_bad_sample='skip')
    np.random.seed(0)
    for index in range(40):
        assert ds[index]['sample_idx'] < 10
    assert ds.skipped_indices == list(range(10, 40))
    skips = [m for m in logged if 'skipping sample' in m]
    counts = [m for m in logged if 'samples skipped so far' in m]
    assert len(skips) == 5
    assert len(counts) == 1 and counts[0].startswith(
        'HumanDataDataset(synthetic_test): 10 of 40 samples skipped so far (')
