"""The "predict the training set's mean camera" reference for the translation error."""
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mroi_plugin.datasets.mean_params import training_crop_cameras
from mroi_plugin.datasets.transforms.get_bbox_center_scale import (
    check_removed_box_args,
    pipeline_crop_box,
)
from mroi_plugin.geometry import (
    CROP_SCALE_PARAMS,
    DEFAULT_BBOX_PADDING,
    DEFAULT_CROP_SIZE,
    cam_crop_to_full,
    carry_crop_camera,
    decode_crop_camera,
    encode_crop_camera,
    fuse_full_cameras,
    relative_roi_layout,
)
from mroi_plugin.registry import METRICS

from .hmr_metric import LOG_S_BIAS_KEY, LOG_S_STD_KEY, HMRMetric

__all__ = ['ConstantCameraBaselineMetric', 'TEST_CAMERAS']

# How the model turns its RoIs' cameras into one at test time (MultiRoIHMR test_cfg.camera).
TEST_CAMERAS = ('roi0', 'mean')
# The sample fields the constant cameras are placed with.
_BOX_KEYS = ('roi_centers', 'roi_sizes', 'focal_length', 'principal_point')
_REPORTED = ('transl_error', )


def _training_crop_cameras(ann_file: str, crop_size: Tuple[int, int], padding: float) -> Tensor:
    """:func:`~mroi_plugin.datasets.mean_params.training_crop_cameras`, refusing none."""
    cameras = training_crop_cameras(ann_file, crop_size, padding)
    if not len(cameras):
        raise ValueError(
            f'{ann_file}: no sample has a translation (smpl.transl) in front of a camera, so '
            'there is no mean crop camera; the constant-camera baseline needs a training set '
            'with ground-truth translations (e.g. the synthetic data). Drop '
            'ConstantCameraBaselineMetric from the evaluator for data without them.')
    return torch.from_numpy(cameras)


@METRICS.register_module()
class ConstantCameraBaselineMetric(HMRMetric):
    """Translation error of a constant camera: the training set's mean crop camera.

    The model's body is kept and its camera replaced, so the difference to the model's
    ``transl_error`` is the camera alone; a camera no better than this constant carries no
    information about where the person is. Two constants (``per_roi``):

    * ``False`` (prefix ``'constant_camera'``): the training set's mean crop camera of the
      original box (RoI 0), placed in the full image with the sample's RoI-0 box
      (:func:`~mroi_plugin.geometry.cam_crop_to_full`), as the model's RoI-0 camera is.
      For the log-scale statistics every RoI gets this camera carried to its own box
      (:func:`~mroi_plugin.geometry.carry_crop_camera`, what LocalCamera starts from).
    * ``True`` (prefix ``'roi_constant_camera'``): each RoI's own mean crop camera over the
      training set (the mean of every training camera carried to that RoI's place relative
      to the original box, read from the test sample's RoIs), each placed in the full image
      with its RoI's box and fused as the model fuses at test time (``camera``). With
      ``camera='roi0'`` it equals the global constant (RoI 0's own mean camera *is* the
      global mean); with ``'mean'`` the RoIs' full cameras are fused in log depth
      (:func:`~mroi_plugin.geometry.fuse_full_cameras`).

    Means are taken in the model's crop-scale parameterisation (``scale_param``):
    ``'linear'`` averages ``s``, ``'log'`` averages ``log s`` (where a regressor of
    ``log s`` starts); ``tx, ty`` are averaged as they are. Reported: ``transl_error``
    (mm) and the per-RoI ``log_s_bias_roi{k}`` / ``log_s_std_roi{k}`` of the constant; the
    body errors would be the model's and are not repeated.

    Args:
        ann_file (str): The training HumanData ``.npz`` (with ``smpl.transl``).
        per_roi (bool): Each RoI's own mean camera instead of RoI 0's. Defaults to False.
        camera (str): Test-time fusion of the RoIs' cameras, the model's
            ``test_cfg.camera``: ``'roi0'`` or ``'mean'``. Only used with ``per_roi``.
        scale_param (str): ``'linear'`` or ``'log'``, the model's crop-scale
            parameterisation. Defaults to ``'linear'``.
        pipeline (Sequence[dict], optional): The training pipeline, whose
            ``GetBBoxCenterScale`` padding and crop size the training cameras are measured
            with (:func:`~mroi_plugin.datasets.transforms.pipeline_crop_box`). Defaults to
            None: padding 1.2 and 256x192 crops.
        crop_aspect: Removed; raises a ``ValueError`` (pass ``pipeline``).
        bbox_scale_factor: Removed; raises likewise.
        **kwargs: :class:`HMRMetric` arguments (``body_model_dir`` is required). The prefix
            defaults to ``'constant_camera'`` or ``'roi_constant_camera'``.

    Raises:
        ValueError: an unknown ``camera`` or ``scale_param``, no ``body_model_dir``, or a
            training set without translations.
    """

    default_prefix: Optional[str] = 'constant_camera'

    def __init__(self,
                 ann_file: str,
                 per_roi: bool = False,
                 camera: str = 'roi0',
                 scale_param: str = 'linear',
                 pipeline: Optional[Sequence[dict]] = None,
                 crop_aspect: Optional[float] = None,
                 bbox_scale_factor: Optional[float] = None,
                 **kwargs: Any) -> None:
        check_removed_box_args(type(self).__name__,
                               'pass the training pipeline instead (pipeline=train_pipeline).',
                               crop_aspect, bbox_scale_factor)
        if kwargs.get('prefix') is None:
            kwargs['prefix'] = 'roi_constant_camera' if per_roi else 'constant_camera'
        super().__init__(**kwargs)
        if self.body_model_dir is None:
            raise ValueError('ConstantCameraBaselineMetric needs body_model_dir: the '
                             'translation error compares pelvises of the ground-truth mesh.')
        if camera not in TEST_CAMERAS:
            raise ValueError(f'ConstantCameraBaselineMetric: camera must be one of '
                             f'{TEST_CAMERAS} (the model\'s test_cfg.camera), got {camera!r}.')
        if scale_param not in CROP_SCALE_PARAMS:
            raise ValueError(f'ConstantCameraBaselineMetric: scale_param must be one of '
                             f'{CROP_SCALE_PARAMS}, got {scale_param!r}.')
        self.per_roi = bool(per_roi)
        self.camera = camera
        self.scale_param = scale_param
        padding, crop_size = (DEFAULT_BBOX_PADDING, DEFAULT_CROP_SIZE) if pipeline is None \
            else pipeline_crop_box(pipeline)
        self.train_cameras = _training_crop_cameras(ann_file, crop_size, padding)
        self.mean_camera = self._mean(self.train_cameras)

    def _mean(self, cameras: Tensor) -> Tensor:
        """Mean over the first dimension of ``(M, .., 3)`` cameras, in ``scale_param``."""
        raw = encode_crop_camera(cameras, self.scale_param)
        return decode_crop_camera(raw.mean(dim=0), self.scale_param)

    def roi_mean_cameras(self, layout: Tensor) -> Tensor:
        """Each RoI's mean crop camera over the training set.

        Args:
            layout (Tensor): ``(N, 3)`` RoI layout
                (:func:`~mroi_plugin.geometry.relative_roi_layout`).

        Returns:
            Tensor: ``(N, 3)`` float64 crop cameras; row 0 is the global mean camera when
            RoI 0 is the original box.
        """
        carried = carry_crop_camera(self.train_cameras[:, None, :], layout[None].double())
        return self._mean(carried)

    def constant_cameras(self, sample: Mapping[str, Any]) -> Dict[str, Tensor]:
        """The constant's ``pred_cam_crop`` ``(N, 3)`` and ``pred_cam_full`` ``(3,)``.

        Args:
            sample (dict): A data sample with ``roi_centers`` ``(N, 2)``, ``roi_sizes``
                ``(N,)``, ``focal_length`` and ``principal_point`` ``(2,)``.

        Returns:
            dict[str, Tensor]: float64 ``pred_cam_crop`` and ``pred_cam_full``.
        """
        centers = torch.as_tensor(sample['roi_centers']).to(torch.float64).reshape(-1, 2)
        sizes = torch.as_tensor(sample['roi_sizes']).to(torch.float64).reshape(-1)
        num_rois = len(sizes)
        focal = torch.as_tensor(sample['focal_length']).to(torch.float64).reshape(-1)[:1]
        focal = focal.expand(num_rois)
        principal = torch.as_tensor(sample['principal_point']).to(
            torch.float64).reshape(2).expand(num_rois, 2)
        layout = relative_roi_layout(centers, sizes)
        if self.per_roi:
            cam_crop = self.roi_mean_cameras(layout)
        else:
            cam_crop = carry_crop_camera(self.mean_camera, layout)
        cam_full = cam_crop_to_full(cam_crop, centers, sizes, focal, principal)
        if self.per_roi and self.camera == 'mean':
            fused = fuse_full_cameras(cam_full)
        else:
            fused = cam_full[0]
        return dict(pred_cam_crop=cam_crop, pred_cam_full=fused)

    def process(self, data_batch: Any, data_samples: Sequence[Mapping[str, Any]]) -> None:
        """Score each sample's predicted body placed with the constant camera."""
        constant = []
        for i, sample in enumerate(data_samples):
            missing = [k for k in _BOX_KEYS if k not in sample]
            if missing:
                raise KeyError(
                    f'ConstantCameraBaselineMetric: {self._describe(sample, i)} has no '
                    f'{missing}; keep these fields in PackHMRInputs(keys=...) (the default '
                    'keys do).')
            constant.append(dict(sample, **self.constant_cameras(sample)))
        super().process(data_batch, constant)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """``transl_error`` and the log-scale statistics of the constant camera."""
        metrics = super().compute_metrics(results)
        return {k: v for k, v in metrics.items()
                if k in _REPORTED or k.startswith(LOG_S_BIAS_KEY.format(''))
                or k.startswith(LOG_S_STD_KEY.format(''))}
