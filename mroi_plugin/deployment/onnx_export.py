"""ONNX export of CLIFF and Multi-RoI models: a tensor-only module, export and checks.

The exported graph is the network of :class:`~mroi_plugin.models.MultiRoIHMR`
(``CLIFF`` is the same class with one RoI) between the data pipeline and the
body model: crop normalisation (the model's ``HMRDataPreprocessor``), backbone,
pooling, neck and head, and optionally the SMPL body model. The pipeline
(``MultiRoICrop``: crops, ``bbox_info``, RoI boxes) and the full-image camera
(``mroi_plugin.geometry.cam_crop_to_full``) stay outside, in NumPy or in the
caller's runtime (docs/deployment.md).

``onnx`` and ``onnxruntime`` are optional (``pip install mroi_plugin[onnx]``) and are
imported only when a function here needs them.
"""
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    'HMRExportModule', 'INPUT_NAMES', 'OUTPUT_NAMES', 'BODY_OUTPUT_NAMES',
    'crop_layout_from_config', 'example_inputs', 'export_onnx', 'run_onnx',
    'compare_with_pytorch', 'people_per_second', 'DEFAULT_OPSET'
]

#: Inputs of the exported graph, in order (a model that does not read the RoI
#: boxes, e.g. CLIFF, has only the first two: the exporter drops unused inputs).
INPUT_NAMES = ('crops', 'bbox_info', 'roi_centers', 'roi_sizes')
#: Outputs without the body model.
OUTPUT_NAMES = ('pred_rotmat', 'pred_betas', 'pred_cam_crop')
#: Extra outputs with the body model.
BODY_OUTPUT_NAMES = ('vertices', 'keypoints3d')
#: ONNX opset of the export; 17 runs on onnxruntime >= 1.13 and TensorRT >= 8.6.
DEFAULT_OPSET = 17
_ONNX_HINT = ('ONNX export needs the optional packages onnx and onnxruntime: '
              'pip install "mroi_plugin[onnx]" (or pip install onnx onnxruntime).')


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(f'{module} is not installed. {_ONNX_HINT}') from err


class HMRExportModule(nn.Module):
    """A :class:`~mroi_plugin.models.MultiRoIHMR` as a function of tensors only.

    ``forward(crops, bbox_info, roi_centers, roi_sizes)``:

    - ``crops`` ``(B, N, 3, H, W)`` float32, the crops ``MultiRoICrop`` makes
      (BGR, 0-255, as ``PackHMRInputs`` packs them); normalised inside, with
      the model's own ``HMRDataPreprocessor`` mean, std and channel order.
    - ``bbox_info`` ``(B, N, 3)``, ``roi_centers`` ``(B, N, 2)`` px,
      ``roi_sizes`` ``(B, N)`` px: the pipeline's fields of the same names.

    Returns a tuple in the order of :data:`OUTPUT_NAMES` (+ :data:`BODY_OUTPUT_NAMES`):
    ``pred_rotmat`` ``(B, 24, 3, 3)``, ``pred_betas`` ``(B, 10)``,
    ``pred_cam_crop`` ``(B, N, 3)`` (``s, tx, ty`` per RoI), and with the body
    model ``vertices`` ``(B, V, 3)`` and ``keypoints3d`` ``(B, K, 3)`` in the
    body frame, metres (the model's keypoint convention). The computation is
    the model's own :meth:`~mroi_plugin.models.MultiRoIHMR.extract_feat` and
    :meth:`~mroi_plugin.models.MultiRoIHMR.regress`; nothing is re-implemented.

    Args:
        model (nn.Module): A built ``MultiRoIHMR`` / ``CLIFF`` with crop-level
            RoIs (no ``roi_sampler``); put in eval mode here.
        num_rois (int): ``N``, RoIs per person (fixed in an exported graph).
        crop_size (tuple[int, int]): ``(crop_h, crop_w)`` (fixed in an exported graph).
        with_body_model (bool): Add the body model's vertices and keypoints.

    Raises:
        TypeError: ``model`` is not a ``MultiRoIHMR``, or its data preprocessor
            has no ``mean``/``std``.
        ValueError: the model samples RoIs from feature maps (``roi_sampler``).
    """

    def __init__(self, model: nn.Module, num_rois: int, crop_size: Tuple[int, int],
                 with_body_model: bool = False) -> None:
        super().__init__()
        from mroi_plugin.models.estimators import MultiRoIHMR
        if not isinstance(model, MultiRoIHMR):
            raise TypeError(f'HMRExportModule exports MultiRoIHMR / CLIFF models, got '
                            f'{type(model).__name__}.')
        if getattr(model, 'roi_sampler', None) is not None:
            raise ValueError(
                'ONNX export supports crop-level RoIs (MultiRoICrop) only; this model samples '
                'its RoIs from the feature maps of a context crop (roi_sampler). Export a '
                'crop-level config of the same model instead.')
        preprocessor = model.data_preprocessor
        if not all(hasattr(preprocessor, name) for name in ('mean', 'std')):
            raise TypeError(f'HMRExportModule needs the model\'s HMRDataPreprocessor (mean, std); '
                            f'got {type(preprocessor).__name__}.')
        if num_rois < 1 or len(crop_size) != 2 or min(crop_size) < 1:
            raise ValueError(f'HMRExportModule: num_rois must be >= 1 and crop_size (crop_h, '
                             f'crop_w) positive, got {num_rois} and {crop_size}.')
        self.model = model
        self.num_rois = int(num_rois)
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.with_body_model = with_body_model
        self.bgr_to_rgb = bool(getattr(preprocessor, 'bgr_to_rgb', False))
        # Eval mode for the whole wrapper, not only the model: torch.onnx.export restores the
        # wrapper's own mode afterwards, recursively, which would switch dropout and batch
        # statistics back on in the model if the wrapper were left in training mode.
        self.eval()

    @property
    def output_names(self) -> Tuple[str, ...]:
        """Names of :meth:`forward`'s outputs, in order."""
        return OUTPUT_NAMES + (BODY_OUTPUT_NAMES if self.with_body_model else ())

    def forward(self, crops: Tensor, bbox_info: Tensor, roi_centers: Tensor,
                roi_sizes: Tensor) -> Tuple[Tensor, ...]:
        """See the class docstring."""
        num_people = crops.shape[0]
        # A constant (-1, 3, H, W) shape, not flatten(0, 1) (whose traced shape is computed
        # from the input's): the graph keeps static image sizes through the backbone, which
        # ops such as adaptive pooling need to be exported.
        images = crops.reshape((-1, 3) + self.crop_size).float()
        if self.bgr_to_rgb:
            images = images.flip(1)
        preprocessor = self.model.data_preprocessor
        images = (images - preprocessor.mean) / preprocessor.std
        feats = self.model.extract_feat(images, num_people)
        preds = self.model.regress(feats, bbox_info, roi_centers, roi_sizes)
        outputs: Tuple[Tensor, ...] = (preds['pred_rotmat'], preds['pred_betas'],
                                       preds['pred_cam_crop'])
        if self.with_body_model:
            rotmat = preds['pred_rotmat']
            body = self.model.body_model(betas=preds['pred_betas'], body_pose=rotmat[:, 1:],
                                         global_orient=rotmat[:, :1])
            outputs += (body['vertices'], body['keypoints'])
        return outputs


def _find_crop_steps(node: Any, found: List[dict]) -> None:
    if isinstance(node, dict):
        if node.get('type') in ('MultiRoICrop', 'MultiRoIContextCrop'):
            found.append(node)
        for child in node.values():
            _find_crop_steps(child, found)
    elif isinstance(node, (list, tuple)):
        for child in node:
            _find_crop_steps(child, found)


def crop_layout_from_config(cfg: Any) -> Tuple[int, Tuple[int, int]]:
    """``(num_rois, (crop_h, crop_w))`` of a config's test pipeline.

    Args:
        cfg (Config | dict): An mroi config with a ``test_dataloader``.

    Returns:
        tuple: RoIs per person and the crop size of its ``MultiRoICrop``
        (defaults 5 and (256, 192), as the transform's).

    Raises:
        ValueError: no ``MultiRoICrop`` in the test pipeline, or a
            ``MultiRoIContextCrop`` (feature-level RoIs are not exportable).
    """
    found: List[dict] = []
    _find_crop_steps(cfg.get('test_dataloader', {}), found)
    if not found:
        raise ValueError('The config\'s test_dataloader has no MultiRoICrop step, so the crop '
                         'size and number of RoIs are unknown; pass --num-rois and --crop-size.')
    step = found[0]
    if step['type'] == 'MultiRoIContextCrop':
        raise ValueError('ONNX export supports crop-level RoIs (MultiRoICrop) only; this config '
                         'uses feature-level RoIs (MultiRoIContextCrop).')
    crop_h, crop_w = step.get('crop_size', (256, 192))
    return int(step.get('num_rois', 5)), (int(crop_h), int(crop_w))


def example_inputs(batch_size: int, num_rois: int, crop_size: Tuple[int, int],
                   seed: int = 0) -> Tuple[Tensor, ...]:
    """Plausible random inputs of :class:`HMRExportModule` (for tracing and checks).

    Crops are uniform in [0, 255]; boxes are a person box of 150-250 px near the
    image centre with RoIs shifted by up to 0.1 box and scaled 0.5-1.5 (RoI 0
    is the box itself), and ``bbox_info`` CLIFF's normalised one of those
    boxes with a 1000 px focal length.

    Returns:
        tuple[Tensor, ...]: ``crops``, ``bbox_info``, ``roi_centers``, ``roi_sizes``.
    """
    from mroi_plugin.geometry import compute_bbox_info
    gen = torch.Generator().manual_seed(seed)
    crops = torch.rand((batch_size, num_rois, 3) + tuple(crop_size), generator=gen) * 255
    size0 = 150 + 100 * torch.rand(batch_size, 1, generator=gen)
    center0 = 500 + 100 * torch.randn(batch_size, 1, 2, generator=gen)
    factors = 0.5 + torch.rand(batch_size, num_rois, generator=gen)
    shifts = 0.1 * (2 * torch.rand(batch_size, num_rois, 2, generator=gen) - 1)
    factors[:, 0], shifts[:, 0] = 1.0, 0.0
    roi_sizes = size0 * factors
    roi_centers = center0 + size0[..., None] * shifts
    bbox_info = compute_bbox_info(roi_centers, roi_sizes,
                                  torch.full_like(roi_sizes, 1000.0),
                                  torch.full_like(roi_centers, 500.0))
    return crops, bbox_info.float(), roi_centers, roi_sizes


def export_onnx(module: HMRExportModule, out_file: str,
                opset: int = DEFAULT_OPSET) -> List[str]:
    """Trace ``module`` and write it to ``out_file`` with a dynamic batch axis.

    Args:
        module (HMRExportModule): What to export.
        out_file (str): The ``.onnx`` file to write.
        opset (int): ONNX opset version.

    Returns:
        list[str]: The graph's input names (inputs the model does not read are dropped).

    Raises:
        ImportError: onnx is not installed.
    """
    onnx = _require('onnx')
    module.eval()
    # Trace at B = 2 so that no size-1 dimension is specialised away.
    args = example_inputs(2, module.num_rois, module.crop_size)
    names = module.output_names
    dynamic = {name: {0: 'batch'} for name in INPUT_NAMES + names}
    # The TorchScript exporter: torch.export (dynamo=True) needs onnxscript and does not
    # trace the models' input checks, which test Python values of the shapes.
    with torch.no_grad():
        torch.onnx.export(module, args, out_file, dynamo=False, opset_version=opset,
                          input_names=list(INPUT_NAMES), output_names=list(names),
                          dynamic_axes=dynamic, do_constant_folding=True)
    graph = onnx.load(out_file)
    onnx.checker.check_model(graph)
    return [value.name for value in graph.graph.input]


def _session(onnx_file: str, threads: Optional[int] = None) -> Any:
    ort = _require('onnxruntime')
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_file, options, providers=['CPUExecutionProvider'])


def run_onnx(session: Any, inputs: Sequence[Tensor]) -> List[np.ndarray]:
    """Run an onnxruntime session on :class:`HMRExportModule`'s inputs.

    Args:
        session (onnxruntime.InferenceSession): Of an exported file.
        inputs (Sequence[Tensor]): ``crops, bbox_info, roi_centers, roi_sizes``;
            those the graph dropped are not fed.

    Returns:
        list[np.ndarray]: The outputs, in the graph's order.
    """
    wanted = {value.name for value in session.get_inputs()}
    feed = {name: tensor.detach().cpu().numpy()
            for name, tensor in zip(INPUT_NAMES, inputs) if name in wanted}
    return session.run(None, feed)


def compare_with_pytorch(module: HMRExportModule, onnx_file: str,
                         batch_sizes: Sequence[int] = (1, 3),
                         seed: int = 1) -> Dict[str, float]:
    """Largest absolute difference of every output, onnxruntime against PyTorch.

    Args:
        module (HMRExportModule): The exported module.
        onnx_file (str): Its ``.onnx`` file.
        batch_sizes (Sequence[int]): Batch sizes to compare at (the graph's
            batch axis is dynamic; the export traced at 2).
        seed (int): Seed of the random inputs.

    Returns:
        dict[str, float]: ``{output name: max |onnx - torch|}`` over all batch sizes.
    """
    session = _session(onnx_file)
    module.eval()
    worst = {name: 0.0 for name in module.output_names}
    for offset, batch_size in enumerate(batch_sizes):
        inputs = example_inputs(batch_size, module.num_rois, module.crop_size,
                                seed=seed + offset)
        with torch.no_grad():
            expected = module(*inputs)
        got = run_onnx(session, inputs)
        for name, ref, out in zip(module.output_names, expected, got):
            if out.shape != tuple(ref.shape):
                raise AssertionError(f'ONNX output {name} has shape {out.shape} at batch size '
                                     f'{batch_size}, PyTorch {tuple(ref.shape)}.')
            diff = float(np.abs(out - ref.numpy()).max()) if out.size else 0.0
            worst[name] = max(worst[name], diff)
    return worst


def people_per_second(module: HMRExportModule, onnx_file: str, batch_size: int,
                      repeats: int = 5, threads: Optional[int] = None) -> Dict[str, float]:
    """CPU throughput of PyTorch and onnxruntime on the same inputs, people per second.

    One warm-up run each, then the best of ``repeats`` timed runs (the least
    disturbed by other processes). ``threads`` sets both runtimes' intra-op
    threads (None: their defaults; torch's setting is restored after).

    Returns:
        dict[str, float]: ``{'pytorch': ..., 'onnxruntime': ...}``.
    """
    inputs = example_inputs(batch_size, module.num_rois, module.crop_size, seed=2)
    session = _session(onnx_file, threads)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        timings = {}
        with torch.no_grad():
            for name, call in (('pytorch', lambda: module(*inputs)),
                               ('onnxruntime', lambda: run_onnx(session, inputs))):
                call()
                best = float('inf')
                for _ in range(repeats):
                    start = time.perf_counter()
                    call()
                    best = min(best, time.perf_counter() - start)
                timings[name] = batch_size / best
    finally:
        torch.set_num_threads(previous)
    return timings
