"""Inference API: build a model from a config and recover meshes for given person boxes.

Typical use (as ``mmdet.apis.init_detector`` / ``inference_detector``)::

    from mroi_plugin.apis import inference_mesh, init_model
    model = init_model('configs/quickstart/mroi_synthetic.py', 'work_dirs/.../epoch_5.pth')
    people = inference_mesh(model, 'image.jpg', [[x1, y1, x2, y2]])
    people[0]['vertices']  # (V, 3) camera frame, metres

The boxes go through the config's own test pipeline (minus image loading): the same
``MultiRoICrop`` RoIs, crop size and ``bbox_info`` as in evaluation, and all people of an
image run in one batch.
"""
import copy
import os
import os.path as osp
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from torch import nn

from mroi_plugin.datasets.human_data_dataset import MIN_BBOX_SIDE_PX
from mroi_plugin.datasets.transforms.get_bbox_center_scale import (
    GetBBoxCenterScale,
    pipeline_crop_box,
    pipeline_step_type,
)
from mroi_plugin.geometry import bbox_xyxy_to_center_wh, default_intrinsics, roi_size
from mroi_plugin.registry import MODELS, TRANSFORMS
from mroi_plugin.utils.checkpoint_conversion import detect_format, extract_state_dict
from mroi_plugin.utils.config_rois import apply_num_rois
from mroi_plugin.utils.package_files import resolve_config_path
from mroi_plugin.utils.setup_env import register_all_modules

from .prepare_data import prepare_data

__all__ = [
    'init_model', 'inference_mesh', 'pack_people', 'unpack_people', 'load_model_checkpoint',
    'check_bboxes',
    'CheckpointMismatchError', 'InvalidBoxError'
]

PathLike = Union[str, os.PathLike]
ImageLike = Union[PathLike, np.ndarray]

#: Transforms that read the image from disk; inference is given the image instead.
LOADING_TRANSFORMS = ('LoadImage', 'LoadImageFromFile')
#: Offending keys named in a checkpoint-mismatch message, per kind.
MAX_KEYS_SHOWN = 5
#: Config key of the regressors' start values file (SPIN's ``smpl_mean_params.npz``).
MEAN_PARAMS_KEY = 'mean_params'
#: Optional top-level config key: enlargement of the person (detector) boxes given to
#: :func:`inference_mesh`, when it differs from the padding of the test pipeline's
#: ``GetBBoxCenterScale`` (CLIFF's demo enlarges detector boxes by 1.1, configs/cliff).
DETECTOR_BBOX_SCALE_KEY = 'detector_bbox_scale_factor'
_SCOPE = 'mroi'


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model built from the config."""


class InvalidBoxError(ValueError):
    """A person box is degenerate or lies outside the image."""


# ---------------------------------------------------------------------------------- model
def _load_config(config: Union[PathLike, Config]) -> Config:
    if isinstance(config, Config):
        return copy.deepcopy(config)
    if not isinstance(config, (str, os.PathLike)):
        raise TypeError(f'init_model(): config must be a file path or an mmengine Config, got '
                        f'{type(config).__name__}.')
    config = resolve_config_path(os.fspath(config))
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config file not found: {config}')
    return apply_num_rois(Config.fromfile(os.fspath(config)))


def _prepare_body_model(cfg: Config) -> None:
    """Write the licence-free stand-in body model if the config asks for it (cheap, once).

    The quickstart configs point their ``SMPL`` at a stand-in written on first use; the demo
    of a model trained with them must work on a fresh clone too. The synthetic dataset, also
    in ``prepare_data``, is not needed for inference and is not generated.
    """
    spec = cfg.get('prepare_data') or {}
    standin = spec.get('standin_body_model')
    if standin:
        prepare_data(Config(dict(prepare_data=dict(standin_body_model=dict(standin)))))


def _drop_missing_mean_params(node: Any, where: str = 'model') -> List[str]:
    """Set every ``mean_params`` path that does not exist to None; returns where it did.

    The regressors keep their start values (SPIN's mean pose, shape and camera) as persistent
    buffers, so a checkpoint restores them: inference needs the file only to build the model
    (e.g. the quickstart's ``data/synthetic/mean_params.npz`` on another machine).
    """
    dropped = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == MEAN_PARAMS_KEY and isinstance(value, str) and not osp.isfile(value):
                node[key] = None
                dropped.append(f'{where}.{key} ({value})')
            else:
                dropped += _drop_missing_mean_params(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            dropped += _drop_missing_mean_params(value, f'{where}[{index}]')
    return dropped


def _state_dict_mismatch(model_state: Mapping[str, torch.Tensor],
                         state: Mapping[str, Any]) -> List[str]:
    """One line per kind of mismatch (missing / unexpected / shape), naming a few keys."""

    def shown(keys: Sequence[str]) -> str:
        more = f', ... ({len(keys) - MAX_KEYS_SHOWN} more)' if len(keys) > MAX_KEYS_SHOWN else ''
        return ', '.join(keys[:MAX_KEYS_SHOWN]) + more

    missing = [k for k in model_state if k not in state]
    unexpected = [k for k in state if k not in model_state]
    shapes = [
        f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(model_state[k].shape)})'
        for k in state if k in model_state and state[k].shape != model_state[k].shape
    ]
    lines = []
    if missing:
        lines.append(f'{len(missing)} missing key(s) in the checkpoint: {shown(missing)}')
    if unexpected:
        lines.append(f'{len(unexpected)} unexpected key(s) in the checkpoint: '
                     f'{shown(unexpected)}')
    if shapes:
        lines.append(f'{len(shapes)} shape mismatch(es): {shown(shapes)}')
    return lines


def load_model_checkpoint(model: nn.Module, checkpoint: PathLike) -> Dict[str, Any]:
    """Load a checkpoint strictly, with one clear error when it does not fit the model.

    The file is read with safe loading (``weights_only=True``; importing ``mroi_plugin``
    allow-lists what mmengine checkpoints contain); the weights may be the file itself or
    under ``'state_dict'`` / ``'model'``, with an optional ``module.`` prefix.

    Args:
        model (nn.Module): The model built from the config.
        checkpoint (str | PathLike): A ``.pth`` file.

    Returns:
        dict: The loaded file's ``meta`` entry (empty when absent).

    Raises:
        FileNotFoundError: No such file.
        ValueError: The file cannot be read or holds no state dict.
        CheckpointMismatchError: Missing / unexpected keys or shape mismatches; the message
            names a few of each and, for a released CLIFF / Multi-RoI / mmpose file, says how
            to convert it.
    """
    path = os.fspath(checkpoint)
    if not osp.isfile(path):
        hint = ' (it is a directory; give the .pth file inside it)' if osp.isdir(path) else ''
        raise FileNotFoundError(f'Checkpoint not found: {path}{hint}.')
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for corrupt / foreign files
        first_line = str(error).splitlines()[0] if str(error) else ''
        raise ValueError(f'Cannot read checkpoint {path}: {type(error).__name__}: '
                         f'{first_line}') from error
    state = extract_state_dict(loaded, source=path)
    problems = _state_dict_mismatch(model.state_dict(), state)
    if problems:
        try:
            source_format = detect_format(state)
        except ValueError:
            source_format = None
        hint = (f' It looks like a released {source_format!r} checkpoint: convert it first with '
                '`python tools/model_converters/convert_checkpoint.py '
                f'{path} OUT.pth --config CONFIG`.'
                if source_format else
                ' Use the config the checkpoint was trained with (the same backbone widths, '
                'head, neck and number of RoIs).')
        model_name = type(model).__name__
        raise CheckpointMismatchError(
            f'Checkpoint {path} does not match the {model_name} built from the config: ' +
            '; '.join(problems) + '.' + hint)
    model.load_state_dict(state, strict=True)
    meta = loaded.get('meta') if isinstance(loaded, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def init_model(config: Union[PathLike, Config],
               checkpoint: Optional[PathLike] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a mesh recovery model from a config and load its weights.

    Args:
        config (str | PathLike | Config): Config file (or a packaged
            ``mroi_plugin::REL`` config) or object (not modified).
        checkpoint (str | PathLike, optional): ``.pth`` file; None keeps random weights
            (with a warning). With a checkpoint, a ``mean_params`` file the config names but
            that does not exist is not needed (the checkpoint holds those values): it is
            dropped with a warning.
        device (str | torch.device): Where the model runs. Defaults to ``'cpu'``.
        cfg_options (dict, optional): ``cfg-options``-style dotted overrides.

    Returns:
        nn.Module: The model in eval mode, with the (merged) config as ``model.cfg``.

    Raises:
        FileNotFoundError: The config or the checkpoint does not exist.
        KeyError: The config has no ``model``.
        CheckpointMismatchError: The checkpoint does not fit the config's model.
    """
    cfg = _load_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('model') is None:
        raise KeyError(f'Config {getattr(cfg, "filename", None) or config} has no `model`.')
    register_all_modules(init_default_scope=False)
    _prepare_body_model(cfg)
    if checkpoint is not None:
        dropped = _drop_missing_mean_params(cfg.model)
        if dropped:
            warnings.warn(f'init_model(): {", ".join(dropped)} not found; building without it, '
                          'the checkpoint restores the start values.', stacklevel=2)
    with DefaultScope.overwrite_default_scope(_SCOPE):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_model_checkpoint(model, checkpoint)
    else:
        warnings.warn('init_model(): no checkpoint given; the model keeps random weights.',
                      stacklevel=2)
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model


# ------------------------------------------------------------------------------- pipeline
def _test_dataset_cfg(cfg: Config) -> dict:
    """The config's test dataset, unwrapped from ConcatDataset / RepeatDataset-style wrappers."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset')
    while isinstance(dataset, dict) and 'pipeline' not in dataset and (
            'dataset' in dataset or 'datasets' in dataset):
        dataset = dataset.get('dataset', (dataset.get('datasets') or [None])[0])
    return dataset if isinstance(dataset, dict) else {}


def _find_test_pipeline(cfg: Config) -> List[Any]:
    """The config's test pipeline (``test_dataloader.dataset.pipeline`` or ``test_pipeline``)."""
    pipeline = _test_dataset_cfg(cfg).get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise KeyError('The model config has no test pipeline (test_dataloader.dataset.pipeline '
                       'or test_pipeline); inference needs its MultiRoICrop and PackHMRInputs.')
    return list(pipeline)


def _inference_steps(cfg: Config, pipeline: Sequence[Any]) -> List[Any]:
    """The test pipeline without its loading step, with the detector boxes' padding.

    Person boxes go through the pipeline's own ``GetBBoxCenterScale`` and crop step, so their
    RoIs are made as the test set's; the config's ``detector_bbox_scale_factor``, when set,
    replaces that step's padding (CLIFF's demo: 1.1 on detector boxes).
    """
    steps = [step for step in pipeline if pipeline_step_type(step) not in LOADING_TRANSFORMS]
    pipeline_crop_box(steps)  # one clear error for a pipeline that cannot make RoIs
    padding = cfg.get(DETECTOR_BBOX_SCALE_KEY)
    if padding is None:
        return steps
    if isinstance(padding, bool) or not isinstance(
            padding, (int, float)) or not 0 < padding < float('inf'):
        raise ValueError(f'The config\'s {DETECTOR_BBOX_SCALE_KEY} must be a positive number (the '
                         f'enlargement of person boxes, e.g. 1.1 as CLIFF\'s demo), got '
                         f'{padding!r}; remove it to use the test pipeline\'s GetBBoxCenterScale.')
    return [GetBBoxCenterScale(padding=float(padding))
            if pipeline_step_type(step) == GetBBoxCenterScale.__name__ else step for step in steps]


def _build_inference_pipeline(steps: Sequence[Any]) -> Compose:
    with DefaultScope.overwrite_default_scope(_SCOPE):
        built = [TRANSFORMS.build(step) if isinstance(step, dict) else step for step in steps]
    return Compose(built)


# ---------------------------------------------------------------------------------- boxes
def check_bboxes(bboxes: Any, image_shape: Sequence[int]) -> np.ndarray:
    """Validate person boxes against an image.

    A box must be finite, wider and taller than ``MIN_BBOX_SIDE_PX`` and overlap the image;
    boxes crossing the border are kept (truncated people; the crop pads them).

    Args:
        bboxes (array-like): ``(M, 4)`` ``x1, y1, x2, y2`` pixels, or ``(M, 5)`` with a score.
        image_shape (Sequence[int]): ``(H, W)``.

    Returns:
        np.ndarray: ``(M, 4|5)`` float64 copy.

    Raises:
        InvalidBoxError: The array has another shape, or box ``i`` is degenerate or outside the
            image (the message names ``i``).
    """
    boxes = np.array(bboxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise InvalidBoxError(f'bboxes must be an (M, 4) array of [x1, y1, x2, y2] pixels or '
                              f'(M, 5) with a score, got shape {boxes.shape}.')
    height, width = int(image_shape[0]), int(image_shape[1])
    for index, box in enumerate(boxes):
        x1, y1, x2, y2 = box[:4]
        if not np.isfinite(box[:4]).all() or x2 - x1 <= MIN_BBOX_SIDE_PX or (
                y2 - y1 <= MIN_BBOX_SIDE_PX):
            raise InvalidBoxError(
                f'Box {index} {box[:4].tolist()} is degenerate: boxes are [x1, y1, x2, y2] '
                f'pixels with x2 - x1 and y2 - y1 > {MIN_BBOX_SIDE_PX}. (Boxes in [x, y, w, h] '
                'must be converted first.)')
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise InvalidBoxError(
                f'Box {index} {box[:4].tolist()} lies outside the {width}x{height} image '
                '(x in [0, W], y in [0, H]); check that the boxes belong to this image and '
                'its resolution.')
    return boxes


# ---------------------------------------------------------------------------------- image
def _read_image(image: ImageLike) -> Tuple[np.ndarray, Optional[str]]:
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if not osp.isfile(path):
            raise FileNotFoundError(f'Image not found: {path}')
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None or img.size == 0:
            raise ValueError(f'Cannot decode image {path}: not an image file OpenCV can read, '
                             'or the file is corrupt.')
        return img, path
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.size == 0:
        raise ValueError(f'image must be a file path or an (H, W, 3) uint8 BGR array, got '
                         f'{img.dtype} {img.shape}.')
    return img, None


def _positive(value: Any, name: str) -> float:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size != 1 or not np.isfinite(array[0]) or array[0] <= 0:
        raise ValueError(f'{name} must be one positive number of pixels, got {value}.')
    return float(array[0])


def _to_numpy(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy().astype(np.float32)


@torch.no_grad()
def inference_mesh(model: Any,
                   image: ImageLike,
                   bboxes: Any,
                   focal_length: Optional[float] = None,
                   principal_point: Optional[Sequence[float]] = None) -> List[Dict[str, Any]]:
    """Recover one SMPL mesh per person box, all people in one forward pass.

    Each box becomes the results dict of ``HumanDataDataset`` (the box as ``bbox_xyxy``) and
    runs through the config's test pipeline without its loading step, so its RoI is made as
    the test set's: padded by the pipeline's ``GetBBoxCenterScale`` (or by the config's
    ``detector_bbox_scale_factor`` when set), the aspect fixed by the crop's ``crop_size``.
    With ``configs/cliff`` and a converted CLIFF checkpoint this is CLIFF's demo computation
    (1.1 box, ``MultiRoICrop(crop_mode='cliff')``; docs/released_checkpoints.md).

    Args:
        model (nn.Module): From :func:`init_model` (needs ``model.cfg``).
        image (str | PathLike | np.ndarray): Image file or ``(H, W, 3)`` uint8 BGR array.
        bboxes (array-like): ``(M, 4)`` ``x1, y1, x2, y2`` pixels or ``(M, 5)`` with scores.
        focal_length (float, optional): Pixels; None uses CLIFF's ``sqrt(W^2 + H^2)``.
        principal_point (Sequence[float], optional): ``(px, py)`` pixels; None uses
            ``(W / 2, H / 2)``.

    Returns:
        list[dict]: One dict per box, in order (numpy float32 arrays, metres and pixels):
        ``pose`` (24, 3) axis-angle (global orientation first), ``betas`` (10,),
        ``vertices`` (V, 3) and ``joints3d`` (K, 3) in the camera frame (``cam_full``
        applied), ``vertices_local`` / ``joints3d_local`` the same without translation,
        ``cam_full`` (3,) translation, ``cam_crop`` (N, 3) per-RoI crop cameras,
        ``focal_length`` (float), ``principal_point`` (2,), ``bbox`` (4,) ``x1, y1, x2, y2``,
        ``score`` (float | None), ``bbox_center`` (2,), ``bbox_size`` (float).
        Empty for zero boxes.

    Raises:
        FileNotFoundError / ValueError: Unreadable image or bad intrinsics.
        InvalidBoxError: A degenerate box or one outside the image (named by index).
    """
    img, img_path = _read_image(image)
    if np.size(bboxes) == 0:
        return []
    inputs, data_samples, meta = pack_people(model, img, bboxes, focal_length,
                                             principal_point, img_path=img_path)
    predictions = model.test_step(dict(inputs=inputs, data_samples=data_samples))
    return unpack_people(predictions, meta)


def pack_people(model: nn.Module,
                img: np.ndarray,
                bboxes: Any,
                focal_length: Optional[float] = None,
                principal_point: Optional[Sequence[float]] = None,
                img_path: Optional[str] = None) -> Tuple[list, list, Dict[str, Any]]:
    """The test-pipeline inputs of the people of one image (:func:`inference_mesh`'s first half).

    Lets a caller batch the people of several images into one ``model.test_step`` (concatenate
    the lists, then split the predictions and give each image's part to
    :func:`unpack_people`).

    Args:
        model (nn.Module): From :func:`init_model` (needs ``model.cfg``).
        img (np.ndarray): ``(H, W, 3)`` uint8 BGR.
        bboxes (array-like): ``(M, 4|5)``, M >= 1; see :func:`inference_mesh`.
        focal_length (float, optional): Pixels; see :func:`inference_mesh`.
        principal_point (Sequence[float], optional): Pixels; see :func:`inference_mesh`.
        img_path (str, optional): Recorded in the data samples.

    Returns:
        tuple: ``inputs`` (M packed crops), ``data_samples`` (M) and ``meta``, the box and
        camera values :func:`unpack_people` adds to each person.
    """
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise AttributeError('pack_people(): model.cfg is missing; build the model with '
                             'init_model(config, checkpoint).')
    height, width = img.shape[:2]
    boxes = check_bboxes(bboxes, img.shape[:2])
    focal = (default_intrinsics(width, height)[0]
             if focal_length is None else _positive(focal_length, 'focal_length'))
    if principal_point is None:
        principal = default_intrinsics(width, height)[1]
    else:
        principal = np.asarray(principal_point, dtype=np.float64).reshape(-1)
        if principal.shape != (2, ) or not np.isfinite(principal).all():
            raise ValueError(f'principal_point must be (px, py) pixels, got {principal_point}.')
    principal = principal.astype(np.float32)

    steps = _inference_steps(cfg, _find_test_pipeline(cfg))
    pipeline = _build_inference_pipeline(steps)
    # What the pipeline computes for RoI 0, for the returned people (same functions, values).
    padding, (crop_h, crop_w) = pipeline_crop_box(steps)
    centers, wh = bbox_xyxy_to_center_wh(boxes)
    sizes = roi_size(wh, crop_w / crop_h, padding)

    inputs, data_samples = [], []
    for index in range(len(boxes)):
        results = dict(
            img=img,
            img_shape=(height, width),
            ori_shape=(height, width),
            bbox_xyxy=boxes[index, :4],
            focal_length=focal,
            principal_point=principal.copy(),
            sample_idx=index)
        if img_path is not None:
            results['img_path'] = img_path
        packed = pipeline(results)
        inputs.append(packed['inputs'])
        data_samples.append(packed['data_samples'])
    meta = dict(boxes=boxes, centers=centers, sizes=sizes, focal_length=focal,
                principal_point=principal)
    return inputs, data_samples, meta


def unpack_people(predictions: Sequence[Any], meta: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One person dict per prediction (:func:`inference_mesh`'s second half).

    Args:
        predictions (Sequence[HMRDataSample]): ``model.test_step``'s outputs for the inputs
            of one :func:`pack_people` call, in order.
        meta (dict): That call's ``meta``.

    Returns:
        list[dict]: As :func:`inference_mesh`.
    """
    boxes, centers, sizes = meta['boxes'], meta['centers'], meta['sizes']
    focal, principal = meta['focal_length'], meta['principal_point']

    people = []
    for index, sample in enumerate(predictions):
        cam_full = _to_numpy(sample.pred_cam_full)
        vertices_local = _to_numpy(sample.pred_vertices)
        joints_local = _to_numpy(sample.pred_keypoints3d)
        people.append(
            dict(
                pose=_to_numpy(sample.pred_pose),
                betas=_to_numpy(sample.pred_betas),
                vertices=vertices_local + cam_full,
                vertices_local=vertices_local,
                joints3d=joints_local + cam_full,
                joints3d_local=joints_local,
                cam_full=cam_full,
                cam_crop=_to_numpy(sample.pred_cam_crop),
                focal_length=focal,
                principal_point=principal.copy(),
                bbox=boxes[index, :4].astype(np.float32),
                score=float(boxes[index, 4]) if boxes.shape[1] == 5 else None,
                bbox_center=centers[index].astype(np.float32),
                bbox_size=float(sizes[index])))
    return people
