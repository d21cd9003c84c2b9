"""HMRVisualizer: pixels drawn where closed-form geometry puts them, on full images and crops.

The mesh is a 1 m square facing the camera at 2 m (two triangles): with f = 100 px and
c = (80, 60) it covers exactly the pixel centres of [55, 105] x [35, 85].
"""
import numpy as np
import pytest
import torch
from mmengine.visualization import LocalVisBackend

from mroi_plugin.geometry import get_crop_affine
from mroi_plugin.registry import VISUALIZERS
from mroi_plugin.structures import HMRDataSample
from mroi_plugin.utils import register_all_modules
from mroi_plugin.visualization import RGB_MESH_PALETTE, HMRVisualizer

SQUARE = np.array([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]])
FACES = np.array([[0, 1, 2], [0, 2, 3]])
DEPTH = 2.0
FOCAL = 100.0
PRINCIPAL = np.array([80.0, 60.0])
HEIGHT, WIDTH = 120, 160
_NAMES = iter(range(10**6))


def _visualizer(**kwargs) -> HMRVisualizer:
    return HMRVisualizer(name=f'test_hmr_visualizer_{next(_NAMES)}', faces=FACES, **kwargs)


def _square_mask(shape, u0, u1, v0, v1) -> np.ndarray:
    v, u = np.mgrid[:shape[0], :shape[1]]
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _sample() -> HMRDataSample:
    crop_size = (64, 48)
    centers = np.array([[80.0, 60.0], [80.0, 50.0]])
    sizes = np.array([80.0, 100.0])
    sample = HMRDataSample(metainfo=dict(crop_size=crop_size, img_path='x.jpg'))
    sample.set_data(dict(
        focal_length=torch.tensor(FOCAL),
        principal_point=torch.tensor(PRINCIPAL),
        roi_centers=torch.tensor(centers),
        roi_sizes=torch.tensor(sizes),
        crop_trans=torch.tensor(get_crop_affine(centers, sizes, crop_size)),
        keypoints2d=torch.tensor([[20.0, 20.0, 1.0], [140.0, 100.0, 1.0], [30.0, 100.0, 0.0]]),
        has_keypoints2d=torch.tensor(1.0),
        pred_vertices=torch.tensor(SQUARE),
        pred_cam_full=torch.tensor([0.0, 0.0, DEPTH]),
        pred_keypoints3d=torch.tensor(SQUARE[:2])))
    return sample


def test_registered_and_image_round_trip():
    register_all_modules()
    visualizer = VISUALIZERS.build(dict(type='HMRVisualizer', name='test_hmr_vis_registered'))
    image = np.random.default_rng(0).integers(0, 255, (7, 9, 3), dtype=np.uint8)
    visualizer.set_image(image)
    assert np.array_equal(visualizer.get_image(), image)
    # mmengine's matplotlib primitives still work on top.
    visualizer.draw_points(np.array([[4.0, 3.0]]), colors='r', sizes=np.array([40]))
    assert visualizer.get_image().shape == image.shape
    assert not np.array_equal(visualizer.get_image(), image)


def test_mesh_covers_exactly_the_projected_square():
    visualizer = _visualizer(mesh_alpha=1.0)
    visualizer.set_image(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    visualizer.draw_meshes(SQUARE + [0, 0, DEPTH], FOCAL, PRINCIPAL)
    covered = visualizer.get_image().any(axis=-1)
    assert np.array_equal(covered, _square_mask(covered.shape, 55, 105, 35, 85))


def test_mesh_in_a_crop_uses_the_crop_camera():
    """RoI k of the sample: the square lands where the crop affine maps it."""
    sample = _sample()
    del sample.pred_keypoints3d  # the mesh alone
    visualizer = _visualizer(mesh_alpha=1.0)
    visualizer.set_image(np.zeros((64, 48, 3), np.uint8))
    visualizer.draw_pred(sample, roi=1, draw_bbox=False)
    covered = visualizer.get_image().any(axis=-1)
    # RoI 1: centre (80, 50), height 100 -> scale 0.64, centre -> (24, 32).
    scale, tu, tv = 0.64, 24 - 0.64 * 80, 32 - 0.64 * 50
    bounds = np.array([55 * scale + tu, 105 * scale + tu, 35 * scale + tv, 85 * scale + tv])
    # Pixel centres exactly on an edge (u = 8 here) may fall either way in floating point.
    inner = _square_mask(covered.shape, *(bounds + [1e-6, -1e-6, 1e-6, -1e-6]))
    outer = _square_mask(covered.shape, *(bounds + [-1e-6, 1e-6, -1e-6, 1e-6]))
    assert not (inner & ~covered).any()
    assert not (covered & ~outer).any()


def test_keypoints_confidence_and_colour():
    visualizer = _visualizer(radius=2)
    visualizer.set_image(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    visualizer.draw_keypoints(np.array([[20.0, 30.0, 1.0], [100.0, 90.0, 0.0],
                                        [np.nan, 5.0, 1.0], [1e9, 1e9, 1.0]]),
                              color=(0, 255, 0))
    image = visualizer.get_image()
    assert tuple(image[30, 20]) == (0, 255, 0)
    assert not image[85:95, 95:105].any()  # confidence 0: not drawn
    drawn = np.argwhere(image.any(axis=-1))
    assert np.abs(drawn - [30, 20]).max() <= 4  # nothing else anywhere


def test_person_boxes_with_labels():
    visualizer = _visualizer(line_width=1)
    visualizer.set_image(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    visualizer.draw_person_boxes(np.array([[20.0, 30.0, 60.0, 90.0]]), colors=[(255, 0, 0)],
                                 scores=[0.5])
    image = visualizer.get_image()
    assert image[60, 20, 0] > 200 and image[60, 60, 0] > 200  # left and right edges
    assert not image[60, 40].any()  # inside stays
    assert image[:27, 20:60].any()  # the score above the box
    with pytest.raises(ValueError, match='1 boxes but 2 labels'):
        visualizer.draw_person_boxes(np.zeros((1, 4)), labels=['a', 'b'])


def test_add_datasample_gt_left_pred_right(tmp_path):
    sample = _sample()
    visualizer = _visualizer(mesh_alpha=1.0, radius=2, line_width=1)
    background = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    out_file = tmp_path / 'drawn.png'
    drawn = visualizer.add_datasample('s', background, sample, out_file=str(out_file))
    assert drawn.shape == (HEIGHT, 2 * WIDTH, 3)
    import mmcv
    assert np.array_equal(mmcv.imread(str(out_file), channel_order='rgb'), drawn)
    gt, pred = drawn[:, :WIDTH], drawn[:, WIDTH:]
    assert tuple(gt[20, 20]) == visualizer.gt_color and tuple(gt[100, 140]) == visualizer.gt_color
    assert tuple(gt[100, 30]) == (40, 40, 40)  # confidence 0
    # Predicted keypoints: the square's top corners at (55, 35) and (105, 35).
    assert tuple(pred[35, 55]) == visualizer.pred_color
    assert tuple(pred[35, 105]) == visualizer.pred_color
    # The mesh in the palette's first colour (shaded) inside the square, not on the GT side.
    assert (pred[60, 80] != 40).any() and tuple(gt[60, 80]) == (40, 40, 40)
    assert np.argmax(pred[60, 80]) == np.argmax(RGB_MESH_PALETTE[0])
    # RoI 0 box: centre (80, 60), height 80, width 60 -> x from 50 to 110.
    assert (np.abs(gt[60, 49:52].astype(int) - visualizer.bbox_color).sum(-1) < 200).any()


def test_add_datasample_goes_to_the_backends(tmp_path):
    visualizer = HMRVisualizer(name=f'test_hmr_vis_backend_{next(_NAMES)}', faces=FACES,
                               vis_backends=[dict(type='LocalVisBackend')],
                               save_dir=str(tmp_path))
    visualizer.add_datasample('val_img', np.zeros((HEIGHT, WIDTH, 3), np.uint8), _sample(),
                              step=7)
    backend = visualizer.get_backend('LocalVisBackend')
    assert isinstance(backend, LocalVisBackend)
    files = list((tmp_path / 'vis_data' / 'vis_image').iterdir())
    assert [f.name for f in files] == ['val_img_7.png']


def test_meshes_need_faces():
    visualizer = HMRVisualizer(name=f'test_hmr_vis_nofaces_{next(_NAMES)}')
    visualizer.set_image(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='set_body_model'):
        visualizer.draw_meshes(SQUARE + [0, 0, DEPTH], FOCAL, PRINCIPAL)
