"""``MeshInferencer``: meshes of the people in images, folders and videos, as mmpose's inferencers.

Typical use (docs/inference.md)::

    from mroi_plugin.apis import MeshInferencer
    inferencer = MeshInferencer('configs/quickstart/mroi_synthetic.py', 'epoch_12.pth',
                                detector='rtmdet_person.onnx')
    result = inferencer('photo.jpg', vis_out_dir='vis', pred_out_dir='preds')
    result['predictions'][0][0]['cam_full']  # first image, first person

A call returns ``{'predictions': [...], 'visualization': [...], 'failures': [...]}`` with one
entry per image or video frame, like mmengine's ``BaseInferencer`` (mmpose's
``MMPoseInferencer`` yields the same per-image dicts from a generator).
"""
import json
import logging
import os
import os.path as osp
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.infer import BaseInferencer
from mmengine.logging import print_log
from torch import nn

from mroi_plugin.geometry import (
    axis_angle_to_rotmat,
    default_principal_point,
    estimate_focal_length,
    mean_rotation,
    rotmat_to_axis_angle,
)
from mroi_plugin.utils.package_files import resolve_config_path
from mroi_plugin.visualization import (
    MESH_PALETTE,
    HMRVisualizer,
    person_to_json_dict,
    render_overlay,
    render_side_view,
    side_by_side,
    write_obj,
)

from .detectors import (
    BoxTable,
    HOGPersonDetector,
    build_person_detector,
    clip_boxes,
    filter_boxes,
    load_bbox_file,
)
from .inference import init_model, pack_people, unpack_people
from .smoothing import PersonSmoother
from .tracking import PersonTracker
from .video_io import VIDEO_EXTENSIONS, VideoWriter, iter_video, probe_video

__all__ = ['MeshInferencer', 'draw_people', 'IMAGE_EXTENSIONS']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
DEFAULT_BBOX_THR = 0.5
# Boxes are drawn in the person's mesh colour darkened by this factor (visible on the mesh).
_BOX_SHADE = 0.6

Frame = Dict[str, Any]


def _progress(total: int, enabled: bool) -> Any:
    """tqdm when installed, else mmengine's ProgressBar; a no-op when disabled."""

    class _Silent:

        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    if not enabled:
        return _Silent()
    try:
        from tqdm import tqdm
        return tqdm(total=total or None, unit='frame', leave=False)
    except ImportError:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(max(total, 0))
        bar.close = lambda: None
        return bar


def _report(message: str) -> None:
    print_log(message, logger='current', level=logging.WARNING)


def list_images(folder: str) -> List[str]:
    """Image files directly inside ``folder`` (by extension), sorted by name."""
    return sorted(
        osp.join(folder, name) for name in os.listdir(folder)
        if name.lower().endswith(IMAGE_EXTENSIONS) and osp.isfile(osp.join(folder, name)))


def is_video(path: Any) -> bool:
    """Whether ``path`` is a file name with a video extension."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(
        VIDEO_EXTENSIONS)


def _draw_boxes(image: np.ndarray, people: Sequence[Dict[str, Any]],
                colors: Sequence[Sequence[int]], drawer: HMRVisualizer) -> np.ndarray:
    """Each person's box, labelled ``#track_id score``, in its darkened mesh colour."""
    labels = []
    for person in people:
        parts = [] if person.get('track_id') is None else [f'#{person["track_id"]}']
        if person.get('score') is not None:
            parts.append(f'{person["score"]:.2f}')
        labels.append(' '.join(parts))
    # HMRVisualizer draws on RGB images; these are BGR.
    rgb_colors = [(int(color[2] * _BOX_SHADE), int(color[1] * _BOX_SHADE),
                   int(color[0] * _BOX_SHADE)) for color in colors]
    drawer.set_image(image[..., ::-1])
    drawer.draw_person_boxes(np.stack([np.asarray(p['bbox'])[:4] for p in people]),
                             colors=rgb_colors, labels=labels)
    return np.ascontiguousarray(drawer.get_image()[..., ::-1])


def draw_people(img: np.ndarray,
                people: Sequence[Dict[str, Any]],
                faces: np.ndarray,
                draw_bbox: bool = True,
                side_view: bool = True,
                focal_length: Optional[float] = None,
                box_drawer: Optional[HMRVisualizer] = None) -> np.ndarray:
    """The overlay of ``people`` on ``img`` (boxes drawn) and, right of it, the side view.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8 BGR.
        people (Sequence[dict]): :func:`~mroi_plugin.apis.inference_mesh` dicts (``vertices``,
            ``focal_length``, ``principal_point``, ``bbox``, ``score``; ``track_id`` picks the
            colour when present, else the index).
        faces (np.ndarray): ``(F, 3)`` mesh faces.
        draw_bbox (bool): Draw the boxes with their scores (and track ids).
        side_view (bool): Append the side view (:func:`render_side_view`).
        focal_length (float, optional): Pixels, for a frame without people (no camera).
        box_drawer (HMRVisualizer, optional): Reused between calls; made when None.

    Returns:
        np.ndarray: ``(H, W, 3)`` or ``(H, 2 W, 3)`` uint8 BGR.
    """
    height, width = img.shape[:2]
    if people:
        focal, principal = people[0]['focal_length'], people[0]['principal_point']
    else:
        focal = focal_length or estimate_focal_length(float(width), float(height))
        principal = default_principal_point(float(width), float(height))
    colors = [MESH_PALETTE[person.get('track_id', index) % len(MESH_PALETTE)]
              for index, person in enumerate(people)]
    vertices = [person['vertices'] for person in people]
    overlay = render_overlay(img, vertices, faces, focal, principal, colors=colors)
    if draw_bbox and people:
        overlay = _draw_boxes(overlay, people, colors,
                              box_drawer or HMRVisualizer(name=f'draw_people_{id(img)}'))
    if not side_view:
        return overlay
    side = render_side_view(vertices, faces, focal, principal, (height, width), colors=colors)
    return side_by_side(overlay, side)


class MeshInferencer(BaseInferencer):
    """Recover SMPL meshes of the people in images, arrays, folders and videos.

    People come from, in this order: ``bboxes=`` given to the call; the ``detector`` given
    here; otherwise OpenCV's HOG detector (coarse; a warning says so). All people of a batch
    of ``batch_size`` frames run in one forward pass.

    Args:
        model (str | Config): Config file (or a packaged ``mroi_plugin::REL`` config) or
            object of the mesh model.
        weights (str, optional): Its checkpoint; None keeps random weights (a warning).
        device (str, optional): ``'cpu'``, ``'cuda:0'``, ...; None picks the available one.
        detector: Person detector, see
            :func:`~mroi_plugin.apis.detectors.build_person_detector` (``'hog'``, a ``.onnx``
            file, an mmdet config with ``det_weights``, a dict, or a callable).
        det_weights (str, optional): The mmdet detector's checkpoint.
        cfg_options (dict, optional): Dotted overrides of the model config.
        show_progress (bool): Progress bars over folders and videos.

    Raises:
        FileNotFoundError: A config, checkpoint or detector file does not exist.
        CheckpointMismatchError: The checkpoint does not fit the config.
        ImportError: The detector needs a package that is not installed (the message says which).
    """

    preprocess_kwargs: set = {'bboxes', 'bbox_thr'}
    forward_kwargs: set = {'focal_length'}
    visualize_kwargs: set = {'return_vis', 'vis_out_dir', 'draw_bbox', 'side_view'}
    postprocess_kwargs: set = {'pred_out_dir', 'save_obj', 'return_vertices'}
    #: Arguments of video inputs, used by ``__call__`` itself.
    video_kwargs: set = {'track', 'smooth', 'smooth_min_cutoff', 'smooth_beta', 'video_codec'}

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 detector: Any = None,
                 det_weights: Optional[str] = None,
                 cfg_options: Optional[dict] = None,
                 scope: str = 'mroi',
                 show_progress: bool = True) -> None:
        if isinstance(model, str):
            model = resolve_config_path(model)  # a packaged mroi_plugin::REL config
        if isinstance(model, (str, os.PathLike)) and not osp.isfile(model):
            raise FileNotFoundError(f'Config file not found: {model}')
        self._cfg_options = cfg_options
        super().__init__(model=os.fspath(model) if isinstance(model, os.PathLike) else model,
                         weights=weights, device=device, scope=scope,
                         show_progress=show_progress)
        self.device = next(self.model.parameters()).device
        self.detector = build_person_detector(detector, det_weights, device=str(self.device))
        self.faces = np.asarray(self.model.body_model.faces)
        self._box_drawer: Optional[HMRVisualizer] = None

    # ---------------------------------------------------------- BaseInferencer's setup
    def _init_model(self, cfg: Union[Config, ConfigDict], weights: Optional[str],
                    device: str = 'cpu') -> nn.Module:
        """:func:`~mroi_plugin.apis.init_model` (strict, safe loading, clear mismatch errors)."""
        if isinstance(cfg, ConfigDict):
            cfg = Config(cfg.to_dict())
        return init_model(cfg, weights, device=device, cfg_options=self._cfg_options)

    def _init_pipeline(self, cfg: Union[Config, ConfigDict]) -> Callable:
        """Crops are made per person by :func:`~mroi_plugin.apis.inference.pack_people`."""
        return lambda item: item

    def _init_collate(self, cfg: Union[Config, ConfigDict]) -> Callable:
        return lambda batch: batch

    def _init_visualizer(self, cfg: Union[Config, ConfigDict]) -> None:
        return None  # the overlays are drawn by :meth:`visualize`

    # ------------------------------------------------------------------------- inputs
    def _inputs_to_list(self, inputs: Any) -> List[Any]:
        """A folder becomes its images (sorted); a path, array or video becomes a list of one."""
        if isinstance(inputs, (str, os.PathLike)):
            path = os.fspath(inputs)
            if osp.isdir(path):
                images = list_images(path)
                if not images:
                    raise ValueError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {path}.')
                return images
            if not osp.isfile(path):
                raise FileNotFoundError(f'Input not found: {path} (give an image, a folder of '
                                        'images, a video, an array or a list of them).')
            return [path]
        if isinstance(inputs, np.ndarray):
            return [inputs]
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        raise TypeError(f'inputs must be a path, an (H, W, 3) uint8 BGR array or a list of '
                        f'them, got {type(inputs).__name__}.')

    @staticmethod
    def _names(inputs: Sequence[Any], root: Optional[str]) -> List[Tuple[str, List[str]]]:
        """``(name, box-table candidates)`` per input; names are unique output stems."""
        named: List[Tuple[str, List[str]]] = []
        seen: Dict[str, int] = {}
        for index, item in enumerate(inputs):
            if isinstance(item, np.ndarray):
                stem = f'{index:06d}'
                candidates = [stem, str(index)]
            else:
                path = os.fspath(item)
                file_name = osp.basename(path)
                stem = osp.splitext(file_name)[0]
                candidates = [file_name, stem, path, str(index)]
                if root is not None:
                    candidates.insert(0, osp.relpath(path, root))
            count = seen.get(stem, 0)
            seen[stem] = count + 1
            named.append((stem if count == 0 else f'{stem}_{count}', candidates))
        return named

    def _box_source(self, bboxes: Any, num_inputs: int, video: bool) -> Optional[BoxTable]:
        if bboxes is None:
            return None
        if isinstance(bboxes, BoxTable):
            return bboxes
        if isinstance(bboxes, (str, os.PathLike)):
            return load_bbox_file(bboxes)
        if isinstance(bboxes, dict):
            return BoxTable(bboxes)
        if num_inputs != 1 or video:
            what = 'a video' if video else f'{num_inputs} inputs'
            raise ValueError(f'bboxes= as one list of boxes is for one image; for {what} give a '
                             'dict keyed by image name or frame index, or a box file.')
        return BoxTable({'0': bboxes}, source='bboxes')

    def _people_boxes(self, img: np.ndarray, name: str, candidates: Sequence[str],
                      table: Optional[BoxTable], bbox_thr: float) -> np.ndarray:
        if table is not None:
            boxes = table.lookup(candidates)
        else:
            if self.detector is None:
                print_log('No bboxes= and no detector: using OpenCV HOG people detector '
                          '(coarse boxes; give boxes or an ONNX/mmdet detector for better '
                          'results).', logger='current', level=logging.WARNING)
                self.detector = HOGPersonDetector()
            boxes = np.asarray(self.detector(img, name), dtype=np.float64).reshape(-1, 5)
            boxes = clip_boxes(boxes, img.shape[:2])
        return filter_boxes(boxes, bbox_thr)

    # --------------------------------------------------------------- the four stages
    def preprocess(self, inputs: Iterable[Tuple[str, List[str], Any]], batch_size: int = 1,
                   bboxes: Optional[BoxTable] = None,
                   bbox_thr: float = DEFAULT_BBOX_THR) -> Iterator[List[Frame]]:
        """Read the frames and find their people, ``batch_size`` frames at a time.

        Args:
            inputs: ``(name, candidates, image path or array)`` per frame.
            batch_size (int): Frames per forward pass.
            bboxes (BoxTable, optional): Boxes by name; None runs the detector.
            bbox_thr (float): Boxes with a lower score are dropped.

        Yields:
            list[dict]: Frames with ``name``, ``img`` (None when unreadable), ``boxes``
            ``(M, 4|5)`` and ``error`` (None or a message).
        """
        chunk: List[Frame] = []
        for name, candidates, source in inputs:
            frame: Frame = dict(name=name, img=None, boxes=np.zeros((0, 4)), error=None,
                                source=source if isinstance(source, str) else name)
            try:
                if isinstance(source, np.ndarray):
                    img = source
                    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                        raise ValueError(f'an image array must be (H, W, 3) uint8 BGR, got '
                                         f'{img.dtype} {img.shape}.')
                else:
                    read = cv2.imread(source, cv2.IMREAD_COLOR)
                    if read is None or read.size == 0:
                        raise ValueError(f'cannot read image {source}: not an image OpenCV '
                                         'can decode, or the file is corrupt.')
                    img = read
                frame['img'] = img
                frame['boxes'] = self._people_boxes(img, name, candidates, bboxes, bbox_thr)
            except Exception as error:  # one bad input must not stop a folder run
                frame['error'] = f'{type(error).__name__}: {error}'
            chunk.append(frame)
            if len(chunk) == batch_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    @torch.no_grad()
    def forward(self, frames: List[Frame], focal_length: Optional[float] = None
                ) -> List[List[Dict[str, Any]]]:
        """All people of all frames in one ``model.test_step``; frames with errors get none.

        Returns:
            list[list[dict]]: Per frame, :func:`~mroi_plugin.apis.inference_mesh`'s dicts.
        """
        inputs: List[Any] = []
        samples: List[Any] = []
        metas: List[Any] = []
        for frame in frames:
            metas.append(None)
            if frame['error'] is not None or frame['img'] is None or not len(frame['boxes']):
                continue
            try:
                packed, packed_samples, meta = pack_people(
                    self.model, frame['img'], frame['boxes'], focal_length)
            except ValueError as error:  # a box outside the image, bad intrinsics
                frame['error'] = f'{type(error).__name__}: {error}'
                continue
            metas[-1] = (len(inputs), len(packed), meta)
            inputs += packed
            samples += packed_samples
        predictions = self.model.test_step(dict(inputs=inputs, data_samples=samples)) if (
            inputs) else []
        people: List[Any] = []
        for meta in metas:
            if meta is None:
                people.append([])
                continue
            start, count, values = meta
            people.append(unpack_people(predictions[start:start + count], values))
        return people

    def visualize(self, frames: List[Frame], people: List[List[Dict[str, Any]]],
                  return_vis: bool = False, vis_out_dir: Optional[str] = None,
                  draw_bbox: bool = True, side_view: bool = True,
                  focal_length: Optional[float] = None) -> List[Optional[np.ndarray]]:
        """Overlay (meshes by the full camera, boxes) and side view, side by side.

        Returns:
            list: Per frame the ``(H, W or 2 W, 3)`` uint8 BGR image when ``return_vis`` or
            ``vis_out_dir`` asks for it (else None); written as ``{name}_mesh.jpg``.
        """
        if not (return_vis or vis_out_dir):
            return [None] * len(frames)
        images: List[Any] = []
        for frame, persons in zip(frames, people):
            if frame['img'] is None:
                images.append(None)
                continue
            image = self.render(frame['img'], persons, draw_bbox=draw_bbox,
                                side_view=side_view, focal_length=focal_length)
            if vis_out_dir and not frame.get('video'):
                os.makedirs(vis_out_dir, exist_ok=True)
                path = osp.join(vis_out_dir, f'{frame["name"]}_mesh.jpg')
                if not cv2.imwrite(path, image):
                    raise OSError(f'Cannot write {path}.')
            images.append(image if (return_vis or frame.get('video')) else None)
        return images

    def postprocess(self, frames: List[Frame], people: List[List[Dict[str, Any]]],
                    return_datasamples: bool = False, pred_out_dir: Optional[str] = None,
                    save_obj: bool = False, return_vertices: bool = False) -> List[Any]:
        """JSON-able predictions per frame; writes ``{name}.json`` (and ``.obj`` per person).

        Returns:
            list[list[dict]]: Per frame, per person the fields of
            :func:`~mroi_plugin.visualization.person_to_json_dict` (plus
            ``track_id`` for video and ``vertices`` when asked) as lists and floats; with
            ``return_datasamples`` the numpy dicts of :func:`inference_mesh` instead.
        """
        outputs = []
        for frame, persons in zip(frames, people):
            records = []
            for person in persons:
                extra: Dict[str, Any] = {}
                if 'track_id' in person:
                    extra['track_id'] = int(person['track_id'])
                if return_vertices:
                    extra['vertices'] = np.asarray(person['vertices']).tolist()
                records.append(person_to_json_dict(person, **extra))
            if pred_out_dir:
                os.makedirs(pred_out_dir, exist_ok=True)
                if not frame.get('video') and frame['img'] is not None:
                    self._write_json(osp.join(pred_out_dir, f'{frame["name"]}.json'),
                                     self._frame_record(frame, persons))
                if save_obj:
                    for index, person in enumerate(persons):
                        label = person.get('track_id', index)
                        stem = osp.join(pred_out_dir, f'{frame["name"]}_person{label:02d}')
                        write_obj(stem + '.obj', person['vertices'], self.faces,
                                  comment=f'mroi: {frame["name"]}, person {label}\n'
                                  'camera frame (x right, y down, z forward), metres')
            outputs.append(persons if return_datasamples else records)
        return outputs

    # ---------------------------------------------------------------------- helpers
    @staticmethod
    def _frame_record(frame: Frame, persons: List[Dict[str, Any]]) -> Dict[str, Any]:
        record: Dict[str, Any] = dict(image=frame['name'])
        if frame.get('img') is not None:
            record['image_size'] = [int(frame['img'].shape[1]), int(frame['img'].shape[0])]
        if 'frame_index' in frame:
            record['frame_index'] = frame['frame_index']
        extra = [dict(track_id=int(p['track_id'])) if 'track_id' in p else {} for p in persons]
        record['people'] = [person_to_json_dict(p, **e) for p, e in zip(persons, extra)]
        if frame.get('error'):
            record['error'] = frame['error']
        return record

    @staticmethod
    def _write_json(path: str, data: Any) -> None:
        with open(path, 'w') as f:
            json.dump(data, f, indent=1)
            f.write('\n')

    def render(self, img: np.ndarray, people: Sequence[Dict[str, Any]], draw_bbox: bool = True,
               side_view: bool = True, focal_length: Optional[float] = None) -> np.ndarray:
        """:func:`draw_people` with this model's faces."""
        if self._box_drawer is None:
            self._box_drawer = HMRVisualizer(name=f'mesh_inferencer_{id(self)}')
        return draw_people(img, people, self.faces, draw_bbox=draw_bbox, side_view=side_view,
                           focal_length=focal_length, box_drawer=self._box_drawer)

    def _smooth(self, smoother: PersonSmoother, persons: List[Dict[str, Any]]) -> None:
        """Filter pose, shape and camera per track and pose the body again."""
        if not persons:
            return
        rotmats, betas, cams = [], [], []
        for person in persons:
            rotmat = axis_angle_to_rotmat(np.asarray(person['pose'], dtype=np.float64))
            smoothed = smoother(person['track_id'], dict(
                rotmat=rotmat, betas=person['betas'], cam_full=person['cam_full']))
            # The element-wise average of rotations is projected back onto SO(3).
            rotmats.append(mean_rotation(torch.as_tensor(smoothed['rotmat'])[None]).numpy())
            betas.append(smoothed['betas'])
            cams.append(smoothed['cam_full'])
        rotmat = torch.as_tensor(np.stack(rotmats), dtype=torch.float32, device=self.device)
        body = self.model.body_model(
            betas=torch.as_tensor(np.stack(betas), dtype=torch.float32, device=self.device),
            body_pose=rotmat[:, 1:], global_orient=rotmat[:, :1])
        for index, person in enumerate(persons):
            cam = np.asarray(cams[index], dtype=np.float32)
            local = body['vertices'][index].detach().cpu().numpy().astype(np.float32)
            joints = body['keypoints'][index].detach().cpu().numpy().astype(np.float32)
            person.update(
                pose=rotmat_to_axis_angle(rotmats[index]).astype(np.float32),
                betas=np.asarray(betas[index], dtype=np.float32), cam_full=cam,
                vertices_local=local, vertices=local + cam, joints3d_local=joints,
                joints3d=joints + cam)

    # ------------------------------------------------------------------------- calls
    def __call__(self,
                 inputs: Any,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 **kwargs) -> Dict[str, Any]:
        """Run on an image path, an array, a list of them, a folder or a video.

        Args:
            inputs: An image file, an ``(H, W, 3)`` uint8 BGR array, a folder (its images,
                sorted by name), a video file, or a list of images / arrays / videos.
            return_datasamples (bool): Predictions as :func:`inference_mesh`'s numpy dicts
                (with vertices) instead of JSON-able lists.
            batch_size (int): Frames whose people run in one forward pass.
            **kwargs: ``bboxes`` (boxes ``[[x1, y1, x2, y2(, score)], ...]`` for one image, a
                dict ``{image name or frame index: boxes}`` or a box-file path),
                ``bbox_thr`` (0.5), ``out_dir`` (sets ``vis_out_dir`` / ``pred_out_dir`` to
                its ``visualizations`` / ``predictions`` folders, as mmpose), ``focal_length``
                (pixels; default ``sqrt(W^2 + H^2)``),
                ``vis_out_dir``, ``return_vis``, ``draw_bbox`` (True), ``side_view`` (True),
                ``pred_out_dir``, ``save_obj`` (False), ``return_vertices`` (False), and for
                video ``track`` (True), ``smooth`` (False), ``smooth_min_cutoff`` (1.0 Hz),
                ``smooth_beta`` (0.0), ``video_codec`` (``'auto'``).

        Returns:
            dict: ``predictions`` (per frame, per person), ``visualization`` (per frame, the
            drawn image when ``return_vis``, else None), ``failures`` (``'input: message'``
            for each unreadable input or frame, skipped), ``names`` (per frame) and
            ``videos`` (``path``, ``codec`` and ``frames`` of each video written).

        Raises:
            ValueError: An unknown argument, an empty folder, or bad boxes arguments.
        """
        out_dir = kwargs.pop('out_dir', None)
        if out_dir is not None:  # as MMPoseInferencer
            kwargs.setdefault('vis_out_dir', osp.join(out_dir, 'visualizations'))
            kwargs.setdefault('pred_out_dir', osp.join(out_dir, 'predictions'))
        video_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key in self.video_kwargs}
        pre_kw, fwd_kw, vis_kw, post_kw = self._dispatch_kwargs(**kwargs)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
        vis_kw.setdefault('focal_length', fwd_kw.get('focal_length'))
        root = os.fspath(inputs) if isinstance(inputs, (str, os.PathLike)) and osp.isdir(
            inputs) else None
        items = self._inputs_to_list(inputs)
        pre_kw['bboxes'] = self._box_source(pre_kw.get('bboxes'), len(items),
                                            any(is_video(item) for item in items))
        result: Dict[str, Any] = dict(predictions=[], visualization=[], failures=[], names=[],
                                      videos=[])
        images = [(name, candidates, item) for (name, candidates), item in zip(
            self._names(items, root), items) if not is_video(item)]
        if images:
            self._run_frames(images, len(images), batch_size, pre_kw, fwd_kw, vis_kw, post_kw,
                             return_datasamples, result)
        for item in items:
            if is_video(item):
                self._run_video(os.fspath(item), batch_size, pre_kw, fwd_kw, vis_kw, post_kw,
                                return_datasamples, video_kwargs, result)
        return result

    def _run_frames(self, frames: Iterable[Tuple[str, List[str], Any]], total: int,
                    batch_size: int, pre_kw: dict, fwd_kw: dict, vis_kw: dict, post_kw: dict,
                    return_datasamples: bool, result: Dict[str, Any],
                    video: Optional[Dict[str, Any]] = None) -> None:
        progress = _progress(total, self.show_progress)
        try:
            for chunk in self.preprocess(frames, batch_size=batch_size, **pre_kw):
                for frame in chunk:
                    if video is not None:
                        frame.update(video=True, frame_index=video['index'](frame['name']))
                people = self.forward(chunk, **fwd_kw)
                if video is not None:
                    video['track'](chunk, people)
                images = self.visualize(chunk, people, **vis_kw)
                records = self.postprocess(chunk, people, return_datasamples, **post_kw)
                for frame, persons, image, record in zip(chunk, people, images, records):
                    if frame['error'] is not None:
                        where = (f'{video["path"]}, frame {frame["frame_index"]}'
                                 if video is not None else frame['source'])
                        result['failures'].append(f'{where}: {frame["error"]}')
                        _report(f'{where}: {frame["error"]} (skipped)')
                    elif not persons and video is None:
                        _report(f'{frame["name"]}: no person found.')
                    if video is not None:
                        video['write'](frame, persons, image)
                        image = image if vis_kw.get('return_vis') else None
                    result['names'].append(frame['name'])
                    result['predictions'].append(record)
                    result['visualization'].append(image)
                    progress.update(1)
        finally:
            progress.close()

    def _run_video(self, path: str, batch_size: int, pre_kw: dict, fwd_kw: dict,
                   vis_kw: dict, post_kw: dict, return_datasamples: bool,
                   video_kwargs: dict, result: Dict[str, Any]) -> None:
        stem = osp.splitext(osp.basename(path))[0]
        total, fps = probe_video(path)
        tracker = PersonTracker() if video_kwargs.get('track', True) else None
        smoother = (PersonSmoother(fps, video_kwargs.get('smooth_min_cutoff', 1.0),
                                   video_kwargs.get('smooth_beta', 0.0))
                    if video_kwargs.get('smooth', False) else None)
        if smoother is not None and tracker is None:
            raise ValueError('smooth=True needs track=True (filters follow track ids).')
        vis_out_dir, pred_out_dir = vis_kw.get('vis_out_dir'), post_kw.get('pred_out_dir')
        writer = (VideoWriter(osp.join(vis_out_dir, f'{stem}_mesh.mp4'), fps,
                              codec=video_kwargs.get('video_codec', 'auto'))
                  if vis_out_dir else None)
        frames_json: List[Dict[str, Any]] = []

        def track(chunk: List[Frame], people: List[List[Dict[str, Any]]]) -> None:
            for persons in people:
                if tracker is not None:
                    ids = tracker.update(np.stack([p['bbox'] for p in persons])
                                         if persons else np.zeros((0, 4)))
                    for person, track_id in zip(persons, ids):
                        person['track_id'] = int(track_id)
                if smoother is not None:
                    self._smooth(smoother, persons)

        def write(frame: Frame, persons: List[Dict[str, Any]], image: Optional[np.ndarray]
                  ) -> None:
            if writer is not None:
                if image is None:  # an unreadable frame cannot occur mid-video; be safe
                    return
                writer.write(image)
            if pred_out_dir:
                frames_json.append(self._frame_record(frame, persons))

        def frames() -> Iterator[Tuple[str, List[str], np.ndarray]]:
            for index, img in iter_video(path):
                name = f'{stem}_{index:06d}'
                yield name, [str(index), name], img

        video = dict(path=path, track=track, write=write,
                     index=lambda name: int(name.rsplit('_', 1)[1]))
        vis_kw = dict(vis_kw, vis_out_dir=vis_out_dir)
        try:
            self._run_frames(frames(), total, batch_size, pre_kw, fwd_kw, vis_kw, post_kw,
                             return_datasamples, result, video=video)
        except (ValueError, OSError) as error:  # unreadable video, unwritable output
            result['failures'].append(f'{path}: {type(error).__name__}: {error}')
            _report(f'{path}: {type(error).__name__}: {error} (skipped)')
        finally:
            if writer is not None:
                writer.close()
                if writer.num_frames:
                    result['videos'].append(dict(path=writer.path, codec=writer.backend,
                                                 frames=writer.num_frames))
        if pred_out_dir and frames_json:
            os.makedirs(pred_out_dir, exist_ok=True)
            self._write_json(osp.join(pred_out_dir, f'{stem}.json'),
                             dict(video=osp.basename(path), fps=fps, frames=frames_json))
