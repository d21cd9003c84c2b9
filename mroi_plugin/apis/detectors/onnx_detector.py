"""A person detector exported to ONNX (RTMDet / YOLOX as commonly shipped), no compiled ops.

Supported output layouts (chosen from the model's outputs, see :class:`ONNXPersonDetector`):

- ``'end2end'``: mmdeploy's end-to-end detection export (RTMDet, YOLOX, ... with NMS inside):
  ``dets (1, N, 5)`` = ``x1, y1, x2, y2, score`` in model-input pixels and ``labels (1, N)``
  class indices. Only :attr:`person_label` boxes are kept.
- ``'dets'``: one output ``(1, N, 5)`` as above with NMS inside and no labels: every box is a
  person (the person-only RTMDet/YOLOX files rtmlib ships).
- ``'yolox'``: YOLOX's raw head ``(1, A, 5 + C)`` = ``cx, cy, log w, log h`` offsets on the
  stride-8/16/32 grids, objectness and ``C`` class scores (the exports of the YOLOX
  repository and rtmlib's "no NMS" files); decoded here, scored ``objectness * class``, NMS here.

Input: one ``(1, 3, h, w)`` float32 image, letterboxed as those projects do: resized by
``min(h / H, w / W)`` keeping the aspect ratio, pasted at the top-left corner of an ``h x w``
canvas filled with 114, channels BGR unless ``to_rgb``, values 0-255 unless ``mean`` / ``std``
are given (mmdeploy's RTMDet end2end files need ``mean=(103.53, 116.28, 123.675)``,
``std=(57.375, 57.12, 58.395)``; rtmlib's files have the normalisation inside).
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from mroi_plugin.registry import TASK_UTILS

from .box_ops import empty_detections, nms

__all__ = ['ONNXPersonDetector', 'ONNX_LAYOUTS', 'letterbox']

#: Output layouts understood (module docstring).
ONNX_LAYOUTS = ('end2end', 'dets', 'yolox')
#: Grey of the letterbox padding (YOLOX / RTMDet).
LETTERBOX_FILL = 114
#: YOLOX head strides, pixels of the model input.
YOLOX_STRIDES = (8, 16, 32)
DEFAULT_INPUT_SIZE = (640, 640)


def letterbox(img: np.ndarray, input_size: Tuple[int, int]) -> Tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio and paste at the top-left of a grey canvas.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8.
        input_size (tuple): ``(h, w)`` of the model input.

    Returns:
        tuple: ``(h, w, 3)`` uint8 canvas and the ratio (input pixels per image pixel).
    """
    in_h, in_w = input_size
    ratio = min(in_h / img.shape[0], in_w / img.shape[1])
    new_w, new_h = int(img.shape[1] * ratio), int(img.shape[0] * ratio)
    canvas = np.full((in_h, in_w, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, ratio


class _OrtSession:
    """onnxruntime: ``(input_size or None, run(blob) -> outputs, output names)``."""

    def __init__(self, path: str, device: str) -> None:
        import onnxruntime as ort
        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda') and 'CUDAExecutionProvider' in (
                ort.get_available_providers()):
            providers.insert(0, 'CUDAExecutionProvider')
        self.session = ort.InferenceSession(path, providers=providers)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        shape = list(first.shape)
        self.input_size = ((int(shape[2]), int(shape[3])) if len(shape) == 4 and all(
            isinstance(v, int) for v in shape[2:]) else None)
        self.output_names = [output.name for output in self.session.get_outputs()]

    def run(self, blob: np.ndarray) -> List[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: blob})


class _OpenCVSession:
    """OpenCV's DNN module (no input size from the file: give ``input_size``)."""

    def __init__(self, path: str, device: str) -> None:
        self.net = cv2.dnn.readNetFromONNX(path)
        self.input_size = None
        self.output_names = list(self.net.getUnconnectedOutLayersNames())

    def run(self, blob: np.ndarray) -> List[np.ndarray]:
        self.net.setInput(blob)
        return list(self.net.forward(self.output_names))


@TASK_UTILS.register_module()
class ONNXPersonDetector:
    """Run a person detector exported to ONNX with onnxruntime or OpenCV's DNN module.

    Args:
        model (str): ``.onnx`` file.
        backend (str): ``'onnxruntime'``, ``'opencv'`` or ``'auto'`` (onnxruntime when it is
            installed, else OpenCV).
        layout (str): One of :data:`ONNX_LAYOUTS`, or ``'auto'``: two outputs -> ``'end2end'``
            (the ``(1, N, 5)`` one is ``dets``), one output with 5 columns -> ``'dets'``,
            more -> ``'yolox'``.
        input_size (tuple, optional): ``(h, w)`` of the model input; None reads it from the
            file (onnxruntime, static shapes) or uses 640x640.
        mean (Sequence[float], optional): Subtracted per channel (after ``to_rgb``).
        std (Sequence[float], optional): Divides per channel.
        to_rgb (bool): Feed RGB instead of BGR.
        person_label (int): Class index of "person" (0 in COCO-trained detectors).
        nms_thr (float): IoU threshold of the NMS run for ``'yolox'`` outputs.
        min_score (float): Boxes scoring less are dropped before anything else (the empty
            rows end2end files pad with, and YOLOX's background anchors before its NMS).
        device (str): ``'cuda...'`` uses onnxruntime's CUDA provider when available.

    Raises:
        FileNotFoundError: No such file.
        ImportError: ``backend='onnxruntime'`` and it is not installed.
        ValueError: An unknown backend or layout, or outputs that fit no layout (on the first
            call).
    """

    def __init__(self,
                 model: str,
                 backend: str = 'auto',
                 layout: str = 'auto',
                 input_size: Optional[Sequence[int]] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 person_label: int = 0,
                 nms_thr: float = 0.45,
                 min_score: float = 0.05,
                 device: str = 'cpu') -> None:
        path = os.fspath(model)
        if not osp.isfile(path):
            raise FileNotFoundError(f'ONNX detector not found: {path}')
        if layout not in ONNX_LAYOUTS + ('auto', ):
            raise ValueError(f'ONNXPersonDetector: layout must be one of {ONNX_LAYOUTS} or '
                             f"'auto', got {layout!r}.")
        if backend == 'auto':
            try:
                import onnxruntime  # noqa: F401
                backend = 'onnxruntime'
            except ImportError:
                backend = 'opencv'
        if backend == 'onnxruntime':
            try:
                self.session: Union[_OrtSession, _OpenCVSession] = _OrtSession(path, device)
            except ImportError as error:
                raise ImportError(
                    'ONNXPersonDetector(backend="onnxruntime") needs onnxruntime: '
                    '`pip install onnxruntime` (or `pip install -e ".[onnx]"`), or use '
                    'backend="opencv".') from error
        elif backend == 'opencv':
            self.session = _OpenCVSession(path, device)
        else:
            raise ValueError(f"ONNXPersonDetector: backend must be 'onnxruntime', 'opencv' or "
                             f"'auto', got {backend!r}.")
        self.backend = backend
        self.path = path
        fixed = self.session.input_size
        if input_size is not None and fixed is not None and tuple(input_size) != fixed:
            raise ValueError(f'{path} takes a fixed {fixed[1]}x{fixed[0]} input; input_size='
                             f'{tuple(input_size)} contradicts it (leave it out).')
        size = input_size if input_size is not None else fixed
        height, width = size or DEFAULT_INPUT_SIZE
        self.input_size = (int(height), int(width))
        self.layout = layout
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)
        self.to_rgb = bool(to_rgb)
        self.person_label = int(person_label)
        self.nms_thr = float(nms_thr)
        self.min_score = float(min_score)

    # ------------------------------------------------------------------------- helpers
    def _blob(self, img: np.ndarray) -> Tuple[np.ndarray, float]:
        canvas, ratio = letterbox(img, self.input_size)
        data = canvas.astype(np.float32)
        if self.to_rgb:
            data = data[..., ::-1]
        if self.mean is not None:
            data = data - self.mean
        if self.std is not None:
            data = data / self.std
        return np.ascontiguousarray(data.transpose(2, 0, 1)[None]), ratio

    def _resolve_layout(self, outputs: List[np.ndarray]) -> str:
        if self.layout != 'auto':
            return self.layout
        if len(outputs) == 2:
            return 'end2end'
        if len(outputs) == 1 and outputs[0].shape[-1] == 5:
            return 'dets'
        if len(outputs) == 1 and outputs[0].ndim == 3 and outputs[0].shape[-1] > 5:
            return 'yolox'
        shapes = [tuple(o.shape) for o in outputs]
        raise ValueError(
            f'{self.path}: cannot tell the output layout from the outputs {shapes}. Supported: '
            "mmdeploy end2end (dets (1, N, 5) + labels (1, N)), one (1, N, 5) output, or "
            "YOLOX's raw (1, A, 5 + C) head; pass layout= explicitly.")

    def _decode_yolox(self, raw: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        in_h, in_w = self.input_size
        grids, strides = [], []
        for stride in YOLOX_STRIDES:
            xs, ys = np.meshgrid(np.arange(in_w // stride), np.arange(in_h // stride))
            grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
            strides.append(np.full((grids[-1].shape[0], 1), stride))
        grid, stride_col = np.concatenate(grids), np.concatenate(strides)
        pred = raw.reshape(-1, raw.shape[-1]).astype(np.float64)
        if len(pred) != len(grid):
            raise ValueError(
                f'{self.path}: a YOLOX head on a {in_w}x{in_h} input has {len(grid)} anchors '
                f'(strides {YOLOX_STRIDES}), the output has {len(pred)}; give input_size=.')
        centers = (pred[:, :2] + grid) * stride_col
        sizes = np.exp(np.clip(pred[:, 2:4], None, 20.0)) * stride_col
        boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
        scores = pred[:, 4] * pred[:, 5 + self.person_label]
        return boxes, scores

    # ---------------------------------------------------------------------------- call
    def __call__(self, img: np.ndarray, name: Optional[str] = None) -> np.ndarray:
        """Detect people in one image.

        Args:
            img (np.ndarray): ``(H, W, 3)`` uint8 BGR.
            name (str, optional): Unused (the common detector signature).

        Returns:
            np.ndarray: ``(M, 5)`` ``x1, y1, x2, y2, score`` in pixels of ``img``, best first.
        """
        blob, ratio = self._blob(img)
        outputs = [np.asarray(o) for o in self.session.run(blob)]
        layout = self._resolve_layout(outputs)
        if layout == 'yolox':
            boxes, scores = self._decode_yolox(outputs[0])
            confident = scores >= self.min_score
            boxes, scores = boxes[confident], scores[confident]
            keep = nms(boxes, scores, self.nms_thr)
            boxes, scores = boxes[keep], scores[keep]
        else:
            dets_index = 0
            if layout == 'end2end' and outputs[0].shape[-1] != 5:
                dets_index = 1
            dets = outputs[dets_index].reshape(-1, 5).astype(np.float64)
            if layout == 'end2end':
                labels = outputs[1 - dets_index].reshape(-1)
                dets = dets[np.round(labels).astype(np.int64) == self.person_label]
            dets = dets[dets[:, 4] >= self.min_score]
            boxes, scores = dets[:, :4], dets[:, 4]
        if not len(boxes):
            return empty_detections()
        order = np.argsort(-scores, kind='stable')
        return np.concatenate([boxes[order] / ratio, scores[order, None]], axis=1)
