"""``HMRVisualizer``: mesh overlays, 2D keypoints and boxes of HMR data samples.

An mmengine :class:`~mmengine.visualization.Visualizer`, so every vis backend of a run (local
files, TensorBoard, Weights & Biases) receives the drawn images, like mmpose's
``PoseLocalVisualizer``. The drawing itself is numpy/OpenCV on the current image (exact
pixels, no matplotlib round trip); mmengine's matplotlib primitives (``draw_texts``, ...) still
work on top of it.

Images are RGB uint8, as everywhere in mmengine's visualisation; colours are RGB tuples.
"""
import itertools
from typing import Any, List, Optional, Sequence, Tuple, Union, cast

import cv2
import numpy as np
import torch
from mmengine.structures import BaseDataElement
from mmengine.visualization import Visualizer

from mroi_plugin.geometry import (
    affine_intrinsics,
    apply_affine,
    invert_affine,
    perspective_projection,
)
from mroi_plugin.registry import VISUALIZERS

from .mesh_renderer import MESH_PALETTE, render_meshes

__all__ = ['HMRVisualizer', 'RGB_MESH_PALETTE']

ColorType = Tuple[int, int, int]

#: :data:`~mroi_plugin.visualization.MESH_PALETTE` (BGR) as RGB, the colour of person ``i``.
RGB_MESH_PALETTE: Tuple[ColorType, ...] = tuple(
    (int(c[2]), int(c[1]), int(c[0])) for c in MESH_PALETTE)
# OpenCV draws sub-pixel positions in fixed point with this many fractional bits.
_SHIFT_BITS = 4
_SHIFT = 1 << _SHIFT_BITS
# Outline of keypoint discs, so they stay visible on any background.
_OUTLINE_COLOR = (0, 0, 0)


def _numpy(value: Any, dtype: Any = np.float64) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _fixed(point: Union[Sequence[float], np.ndarray]) -> Tuple[int, int]:
    return int(round(float(point[0]) * _SHIFT)), int(round(float(point[1]) * _SHIFT))


@VISUALIZERS.register_module()
class HMRVisualizer(Visualizer):
    """Draw meshes, 2D keypoints and boxes of one person's data sample.

    :meth:`add_datasample` draws a data sample of :class:`~mroi_plugin.structures.HMRDataSample`
    (ground truth and/or the ``pred_*`` fields of ``MultiRoIHMR.predict``) on the image it came
    from, or on one of its RoI crops, and sends the result to the vis backends (or shows or
    writes it). The drawing primitives :meth:`draw_meshes`, :meth:`draw_keypoints` and
    :meth:`draw_person_boxes` work on any image set with :meth:`set_image`, so demos draw with
    the same code::

        visualizer = HMRVisualizer()
        visualizer.set_body_model(model.body_model)          # faces (and GT meshes)
        visualizer.set_image(rgb_image)
        visualizer.draw_meshes(vertices_cam, focal_length, principal_point)
        visualizer.draw_person_boxes(boxes_xyxy, scores=scores)
        drawn = visualizer.get_image()                       # (H, W, 3) uint8 RGB

    Meshes need the body model's faces: :meth:`set_body_model` (the visualization hook passes
    the model's body model) or ``faces``. Ground-truth meshes are posed with that body model
    (the model's gender, usually neutral), so for gendered ground truth they show the pose
    and placement, not the exact shape.

    Args:
        name (str): Instance name (mmengine's ``Visualizer.get_instance``).
        image (np.ndarray, optional): Image to start with, ``(H, W, 3)`` uint8 RGB.
        vis_backends (list[dict], optional): mmengine vis backend configs.
        save_dir (str, optional): Where file-writing backends save.
        faces (np.ndarray, optional): ``(F, 3)`` mesh faces. Defaults to None (set by
            :meth:`set_body_model`).
        gt_color (tuple): RGB of ground-truth keypoints. Defaults to green.
        gt_mesh_color (tuple): RGB of ground-truth meshes. Defaults to light orange
            (predicted meshes take :data:`RGB_MESH_PALETTE`).
        pred_color (tuple): RGB of predicted (projected) keypoints. Defaults to red.
        bbox_color (tuple): RGB of the RoI boxes. Defaults to yellow.
        mesh_alpha (float): Opacity of the mesh overlay in ``[0, 1]``. Defaults to 0.8.
        radius (float, optional): Keypoint disc radius, pixels; None scales it with the image
            (``max(2, min(H, W) / 100)``).
        line_width (int, optional): Box line width, pixels; None scales it with the image.
        keypoint_thr (float): Ground-truth keypoints with a confidence ``<=`` this are not
            drawn. Defaults to 0.
    """

    # The image being drawn on, kept by mmengine's Visualizer.
    _image: np.ndarray

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 faces: Optional[np.ndarray] = None,
                 gt_color: ColorType = (0, 255, 0),
                 gt_mesh_color: ColorType = RGB_MESH_PALETTE[1],
                 pred_color: ColorType = (255, 0, 0),
                 bbox_color: ColorType = (255, 255, 0),
                 mesh_alpha: float = 0.8,
                 radius: Optional[float] = None,
                 line_width: Optional[int] = None,
                 keypoint_thr: float = 0.0) -> None:
        if not 0.0 <= mesh_alpha <= 1.0:
            raise ValueError(f'HMRVisualizer: mesh_alpha must lie in [0, 1], got {mesh_alpha}.')
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        self.faces: Optional[np.ndarray] = None if faces is None else self._check_faces(faces)
        self.body_model: Optional[torch.nn.Module] = None
        self.gt_color = cast(ColorType, tuple(gt_color))
        self.gt_mesh_color = cast(ColorType, tuple(gt_mesh_color))
        self.pred_color = cast(ColorType, tuple(pred_color))
        self.bbox_color = cast(ColorType, tuple(bbox_color))
        self.mesh_alpha = float(mesh_alpha)
        self.radius = radius
        self.line_width = line_width
        self.keypoint_thr = float(keypoint_thr)

    # ---------------------------------------------------------------- set-up
    @staticmethod
    def _check_faces(faces: Any) -> np.ndarray:
        faces = _numpy(faces, np.int64)
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f'HMRVisualizer: faces must be (F, 3) vertex indices, got '
                             f'{faces.shape}.')
        return faces

    def set_body_model(self, body_model: torch.nn.Module) -> None:
        """Use ``body_model`` for the faces of every mesh and to pose ground-truth meshes.

        Args:
            body_model (nn.Module): An :class:`~mroi_plugin.body_models.SMPL` (anything with
                ``faces`` ``(F, 3)`` and SMPL's ``forward(betas, body_pose, global_orient,
                transl)``).
        """
        if getattr(body_model, 'faces', None) is None:
            raise ValueError(f'HMRVisualizer.set_body_model: {type(body_model).__name__} has no '
                             '`faces`; pass an SMPL body model (model.body_model).')
        self.faces = self._check_faces(body_model.faces)
        self.body_model = body_model

    def set_image(self, image: np.ndarray) -> None:
        """Set the ``(H, W, 3)`` uint8 RGB image to draw on."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'HMRVisualizer: the image must be (H, W, 3) RGB, got '
                             f'{image.shape}.')
        super().set_image(np.ascontiguousarray(image))
        self._image = self._image.copy()

    def get_image(self) -> np.ndarray:
        """The drawn image, ``(H, W, 3)`` uint8 RGB.

        Without matplotlib drawings (mmengine's ``draw_*``) this is the array drawn on, exact
        to the pixel and without rendering a figure.
        """
        assert self._image is not None, 'Please set image using `set_image`'
        ax = self.ax_save
        if ax.lines or ax.patches or ax.texts or ax.collections:
            return super().get_image()
        return self._image.copy()

    def _update(self, image: np.ndarray) -> None:
        """Replace the pixels drawn on, keeping matplotlib drawings made so far."""
        self._image = image
        if self.ax_save.images:
            self.ax_save.images[0].set_data(image)

    def _radius(self) -> float:
        if self.radius is not None:
            return float(self.radius)
        return max(2.0, min(self.width, self.height) / 100.0)

    def _line_width(self) -> int:
        if self.line_width is not None:
            return int(self.line_width)
        return max(1, int(round(min(self.width, self.height) / 300.0)))

    # ---------------------------------------------------------- primitives
    def draw_meshes(self,
                    vertices: Union[np.ndarray, Sequence[np.ndarray]],
                    focal_length: Union[float, Sequence[float], np.ndarray],
                    principal_point: Union[Sequence[float], np.ndarray],
                    colors: Optional[Sequence[ColorType]] = None,
                    alpha: Optional[float] = None,
                    faces: Optional[np.ndarray] = None) -> 'HMRVisualizer':
        """Render meshes over the current image with one z-buffer (the full camera).

        Args:
            vertices (np.ndarray | Sequence[np.ndarray]): ``(V, 3)`` or ``M`` arrays / an
                ``(M, V, 3)`` array in the camera frame of the image (x right, y down,
                z forward), metres.
            focal_length (float | Sequence[float]): ``f`` or ``(fx, fy)`` of the image, px.
            principal_point (Sequence[float]): ``(px, py)`` of the image, pixels.
            colors (Sequence[tuple], optional): One RGB colour per mesh; defaults to
                :data:`RGB_MESH_PALETTE` (person ``i`` gets colour ``i``).
            alpha (float, optional): Opacity; defaults to ``mesh_alpha``.
            faces (np.ndarray, optional): ``(F, 3)``; defaults to the body model's.

        Returns:
            HMRVisualizer: self, for chaining.
        """
        faces = self.faces if faces is None else self._check_faces(faces)
        if faces is None:
            raise ValueError('HMRVisualizer.draw_meshes: no mesh faces; call '
                             'set_body_model(model.body_model) or pass faces=.')
        if isinstance(vertices, (np.ndarray, torch.Tensor)) and np.ndim(vertices) == 2:
            vertices = [vertices]
        meshes = [_numpy(v) for v in vertices]
        if not meshes:
            return self
        if colors is None:
            colors = [RGB_MESH_PALETTE[i % len(RGB_MESH_PALETTE)] for i in range(len(meshes))]
        alpha = self.mesh_alpha if alpha is None else float(alpha)
        # The renderer is channel-order agnostic: RGB image and RGB colours stay RGB.
        rendered = render_meshes(self._image, meshes, faces, _numpy(focal_length),
                                 _numpy(principal_point), colors=list(colors), alpha=alpha)[0]
        self._update(rendered)
        return self

    def draw_keypoints(self,
                       keypoints: np.ndarray,
                       color: Optional[ColorType] = None,
                       radius: Optional[float] = None,
                       thr: Optional[float] = None) -> 'HMRVisualizer':
        """Draw 2D keypoints as outlined discs (sub-pixel positions).

        Args:
            keypoints (np.ndarray): ``(K, 2)``, ``(K, 3)`` or ``(M, K, 2|3)``: ``u, v`` pixels
                of the current image, optionally a confidence.
            color (tuple, optional): RGB; defaults to ``pred_color``.
            radius (float, optional): Pixels; defaults to the visualizer's.
            thr (float, optional): Points with a confidence ``<= thr`` are skipped; defaults
                to ``keypoint_thr``. Non-finite points are always skipped.

        Returns:
            HMRVisualizer: self, for chaining.
        """
        points = _numpy(keypoints)
        if points.ndim < 2 or points.shape[-1] not in (2, 3):
            raise ValueError(f'HMRVisualizer.draw_keypoints: keypoints must be (..., K, 2) or '
                             f'(..., K, 3), got {points.shape}.')
        points = points.reshape(-1, points.shape[-1])
        keep = np.isfinite(points[:, :2]).all(axis=1)
        if points.shape[1] == 3:
            keep &= points[:, 2] > (self.keypoint_thr if thr is None else thr)
        rgb = tuple(int(c) for c in (self.pred_color if color is None else color))
        radius = self._radius() if radius is None else float(radius)
        image = self._image
        height, width = image.shape[:2]
        fixed_radius = max(1, int(round(radius * _SHIFT)))
        outline = max(1, int(round(radius / 3)))
        for u, v in points[keep, :2]:
            # Far outside the image OpenCV's fixed-point coordinates would overflow.
            if not (-radius <= u <= width + radius and -radius <= v <= height + radius):
                continue
            center = _fixed((u, v))
            cv2.circle(image, center, fixed_radius + outline * _SHIFT, _OUTLINE_COLOR, -1,
                       cv2.LINE_AA, _SHIFT_BITS)
            cv2.circle(image, center, fixed_radius, rgb, -1, cv2.LINE_AA, _SHIFT_BITS)
        self._update(image)
        return self

    def draw_person_boxes(self,
                          bboxes: np.ndarray,
                          colors: Optional[Union[ColorType, Sequence[ColorType]]] = None,
                          scores: Optional[Sequence[float]] = None,
                          labels: Optional[Sequence[str]] = None,
                          line_width: Optional[int] = None) -> 'HMRVisualizer':
        """Draw ``[x1, y1, x2, y2]`` boxes, with an optional score or label above each.

        Args:
            bboxes (np.ndarray): ``(M, 4)`` or ``(4,)`` corners, pixels of the current image.
            colors (tuple | Sequence[tuple], optional): One RGB colour, or one per box;
                defaults to ``bbox_color``.
            scores (Sequence[float], optional): ``M`` scores, written as ``0.87``.
            labels (Sequence[str], optional): ``M`` texts (e.g. ``'id 3 0.87'``); override
                ``scores``.
            line_width (int, optional): Pixels; defaults to the visualizer's.

        Returns:
            HMRVisualizer: self, for chaining.
        """
        boxes = _numpy(bboxes).reshape(-1, 4) if np.size(bboxes) else np.zeros((0, 4))
        box_colors: List[Any]
        if colors is None:
            box_colors = [self.bbox_color] * len(boxes)
        elif len(colors) == 3 and np.isscalar(colors[0]):
            box_colors = [tuple(colors)] * len(boxes)
        else:
            box_colors = list(colors)
        if labels is None and scores is not None:
            labels = [f'{float(s):.2f}' for s in scores]
        for name, values in (('colors', box_colors), ('labels', labels)):
            if values is not None and len(values) != len(boxes):
                raise ValueError(f'HMRVisualizer.draw_person_boxes: {len(boxes)} boxes but '
                                 f'{len(values)} {name}.')
        width = self._line_width() if line_width is None else int(line_width)
        image = self._image
        font_scale = max(0.35, min(self.width, self.height) / 800.0)
        for index, box in enumerate(boxes):
            if not np.isfinite(box).all():
                continue
            color = tuple(int(c) for c in box_colors[index])
            cv2.rectangle(image, _fixed(box[:2]), _fixed(box[2:]), color, width, cv2.LINE_AA,
                          _SHIFT_BITS)
            if labels is not None:
                origin = (int(round(box[0])), max(int(round(box[1])) - 3, 10))
                cv2.putText(image, str(labels[index]), origin, cv2.FONT_HERSHEY_SIMPLEX,
                            font_scale, color, max(1, width), cv2.LINE_AA)
        self._update(image)
        return self

    # -------------------------------------------------------- data samples
    def _gt_vertices(self, sample: BaseDataElement) -> Optional[np.ndarray]:
        """The ground-truth mesh in the camera frame, or None if the sample cannot give it."""
        if self.body_model is None:
            return None
        needed = ('smpl_betas', 'smpl_body_pose', 'smpl_global_orient', 'smpl_transl')
        if any(key not in sample for key in needed):
            return None
        if 'has_smpl' in sample and float(sample.has_smpl) <= 0:
            return None
        if 'has_transl' in sample and float(sample.has_transl) <= 0:
            return None
        tensors = itertools.chain(self.body_model.parameters(), self.body_model.buffers())
        reference = next((t for t in tensors if t.is_floating_point()), None)
        dtype = reference.dtype if reference is not None else torch.float32
        device = reference.device if reference is not None else torch.device('cpu')

        def tensor(key: str) -> torch.Tensor:
            return torch.as_tensor(sample.get(key)).to(device=device, dtype=dtype)[None]

        num_betas = int(getattr(self.body_model, 'num_betas', tensor('smpl_betas').shape[1]))
        betas = tensor('smpl_betas')[:, :num_betas]
        if betas.shape[1] < num_betas:
            betas = torch.nn.functional.pad(betas, (0, num_betas - betas.shape[1]))
        with torch.no_grad():
            output = self.body_model(
                betas=betas, body_pose=tensor('smpl_body_pose').reshape(1, -1, 3),
                global_orient=tensor('smpl_global_orient').reshape(1, 3),
                transl=tensor('smpl_transl').reshape(1, 3))
        return output['vertices'][0].cpu().numpy().astype(np.float64)

    @staticmethod
    def _view(sample: BaseDataElement, roi: Optional[int]) -> np.ndarray:
        """Affine from the sample's virtual full image to the image drawn on."""
        if roi is None:
            return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        if 'crop_trans' not in sample:
            raise KeyError('HMRVisualizer.add_datasample: roi is given but the data sample has '
                           'no crop_trans (pack it with PackHMRInputs after MultiRoICrop).')
        crop_trans = _numpy(sample.crop_trans)
        if not 0 <= roi < len(crop_trans):
            raise IndexError(f'HMRVisualizer.add_datasample: roi={roi} but the sample has '
                             f'{len(crop_trans)} RoIs.')
        return crop_trans[roi]

    def _roi_boxes(self, sample: BaseDataElement, view: np.ndarray) -> np.ndarray:
        """``(N, 4)`` corners of the sample's RoIs in the image drawn on."""
        if 'crop_trans' not in sample or 'crop_size' not in sample.metainfo:
            return np.zeros((0, 4))
        crop_h, crop_w = (float(v) for v in sample.metainfo['crop_size'])
        # A crop spans [0, crop_w] x [0, crop_h] in its affine's coordinates: mapped back, its
        # corners are exactly the RoI box (docs/CONVENTIONS.md).
        corners = np.array([[0.0, 0.0], [crop_w, crop_h]])
        boxes = apply_affine(corners, invert_affine(_numpy(sample.crop_trans)))  # (N, 2, 2)
        boxes = apply_affine(boxes, view)
        return np.concatenate([np.minimum(boxes[:, 0], boxes[:, 1]),
                               np.maximum(boxes[:, 0], boxes[:, 1])], axis=1)

    def _draw_boxes_of(self, sample: BaseDataElement, view: np.ndarray) -> None:
        boxes = self._roi_boxes(sample, view)
        if len(boxes) > 1:
            self.draw_person_boxes(boxes[1:], line_width=max(1, self._line_width() // 2))
        if len(boxes):
            self.draw_person_boxes(boxes[:1], line_width=self._line_width() + 1)

    def _camera(self, sample: BaseDataElement,
                view: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        if 'focal_length' not in sample or 'principal_point' not in sample:
            return None
        return affine_intrinsics(view, _numpy(sample.focal_length),
                                 _numpy(sample.principal_point))

    def draw_gt(self, sample: BaseDataElement, roi: Optional[int] = None,
                draw_bbox: bool = True, draw_mesh: bool = True,
                draw_keypoints: bool = True) -> 'HMRVisualizer':
        """Draw the sample's ground truth on the current image.

        The RoI boxes, the ground-truth mesh (needs :meth:`set_body_model`, SMPL parameters
        and a translation) and the 2D keypoints ``keypoints2d`` (confidence above
        ``keypoint_thr``, when ``has_keypoints2d``).

        Args:
            sample (BaseDataElement): An ``HMRDataSample``.
            roi (int, optional): None when the image is the sample's full image (``I'``);
                ``k`` when it is the sample's RoI crop ``k``.
            draw_bbox (bool): Draw the RoI boxes.
            draw_mesh (bool): Draw the mesh.
            draw_keypoints (bool): Draw the keypoints.
        """
        view = self._view(sample, roi)
        camera = self._camera(sample, view)
        if draw_mesh and camera is not None and self.faces is not None:
            vertices = self._gt_vertices(sample)
            if vertices is not None:
                self.draw_meshes([vertices], *camera, colors=[self.gt_mesh_color])
        if draw_bbox:
            self._draw_boxes_of(sample, view)
        has_keypoints = 'has_keypoints2d' not in sample or float(sample.has_keypoints2d) > 0
        if draw_keypoints and 'keypoints2d' in sample and has_keypoints:
            self.draw_keypoints(apply_affine(_numpy(sample.keypoints2d), view),
                                color=self.gt_color)
        return self

    def draw_pred(self, sample: BaseDataElement, roi: Optional[int] = None,
                  draw_bbox: bool = True, draw_mesh: bool = True) -> 'HMRVisualizer':
        """Draw the sample's prediction on the current image.

        The predicted mesh ``pred_vertices + pred_cam_full`` and keypoints
        ``pred_keypoints3d`` projected with the full-image camera ``(focal_length,
        principal_point)`` (the camera the metrics and the demo use), and the RoI boxes.

        Args: as :meth:`draw_gt`.
        """
        view = self._view(sample, roi)
        camera = self._camera(sample, view)
        has_camera = camera is not None and 'pred_cam_full' in sample
        if (draw_mesh and camera is not None and has_camera and 'pred_vertices' in sample
                and self.faces is not None):
            vertices = _numpy(sample.pred_vertices) + _numpy(sample.pred_cam_full)
            self.draw_meshes([vertices], *camera)
        if draw_bbox:
            self._draw_boxes_of(sample, view)
        if camera is not None and has_camera and 'pred_keypoints3d' in sample:
            points = perspective_projection(_numpy(sample.pred_keypoints3d),
                                            _numpy(sample.pred_cam_full), camera[0], camera[1])
            self.draw_keypoints(points, color=self.pred_color)
        return self

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[BaseDataElement] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0.,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       roi: Optional[int] = None,
                       draw_bbox: bool = True,
                       draw_mesh: bool = True) -> np.ndarray:
        """Draw a data sample and show it, write it to ``out_file`` or send it to the backends.

        With both ``draw_gt`` and ``draw_pred`` the ground truth is on the left and the
        prediction on the right of one image (as mmpose/mmdet).

        Args:
            name (str): Image identifier for the backends (and the window title).
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB: the sample's image (its virtual full
                image ``I'``, i.e. the file at ``img_path`` when the sample is neither flipped
                nor rotated), or, with ``roi=k``, its RoI crop ``k``.
            data_sample (BaseDataElement, optional): ``HMRDataSample`` with ground truth
                and/or predictions. None draws the image alone.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction (when the sample has one). Defaults to True.
            show (bool): Show the image in a window. Defaults to False.
            wait_time (float): Seconds the window stays up (0: until a key).
            out_file (str, optional): Write the image (format from the extension) instead of
                sending it to the backends.
            step (int): Global step for the backends.
            roi (int, optional): See ``image``.
            draw_bbox (bool): Draw the RoI boxes. Defaults to True.
            draw_mesh (bool): Draw the meshes. Defaults to True.

        Returns:
            np.ndarray: The drawn image, uint8 RGB.
        """
        panels = []
        has_pred = data_sample is not None and 'pred_vertices' in data_sample
        if data_sample is not None and draw_gt:
            self.set_image(image)
            self.draw_gt(data_sample, roi, draw_bbox, draw_mesh)
            panels.append(self.get_image())
        if data_sample is not None and draw_pred and has_pred:
            self.set_image(image)
            self.draw_pred(data_sample, roi, draw_bbox, draw_mesh)
            panels.append(self.get_image())
        drawn = np.concatenate(panels, axis=1) if panels else np.array(image, dtype=np.uint8)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
        return drawn
