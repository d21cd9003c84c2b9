"""The data sample of one person: per-RoI and shared targets of a multi-RoI crop."""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

__all__ = ['HMRDataSample', 'stack_data_samples', 'ROI_FIELDS', 'SHARED_FIELDS', 'META_FIELDS']

# Field names equal the keys of the pipeline's ``results`` dict (docs/CONVENTIONS.md).
ROI_FIELDS = ('roi_centers', 'roi_sizes', 'bbox_info', 'crop_trans', 'keypoints2d_crop',
              'roi_boxes_context')
SHARED_FIELDS = (
    'keypoints2d', 'keypoints3d', 'smpl_global_orient', 'smpl_body_pose', 'smpl_betas',
    'smpl_transl', 'has_keypoints2d', 'has_keypoints3d', 'has_smpl', 'has_transl',
    'focal_length', 'principal_point', 'context_trans')
META_FIELDS = (
    'img_path', 'img_shape', 'ori_shape', 'crop_size', 'context_size', 'flip', 'rotation', 'scale',
    'dataset_name', 'sample_idx', 'gender', 'bbox_padding')


class HMRDataSample(BaseDataElement):
    """Targets and geometry of one person seen through ``N`` RoIs.

    Written by ``PackHMRInputs``; every data field is a float32 tensor whose
    name equals the ``results`` key it came from. Geometry lives in the
    *virtual full image* ``I'`` (the input mirrored if flipped and rotated by
    ``rotation`` about the original box centre, docs/CONVENTIONS.md), so the
    CLIFF camera formulas hold exactly for every RoI with
    ``(focal_length, principal_point)``.

    Per-RoI data fields (``N`` RoIs, RoI 0 = the original box):

    - ``roi_centers`` (Tensor): ``(N, 2)`` RoI centres in ``I'``, pixels.
    - ``roi_sizes`` (Tensor): ``(N,)`` RoI heights, pixels.
    - ``bbox_info`` (Tensor): ``(N, 3)`` CLIFF bbox information.
    - ``crop_trans`` (Tensor): ``(N, 2, 3)`` affine ``I'`` pixels -> crop pixels.
    - ``keypoints2d_crop`` (Tensor): ``(N, K, 3)`` normalised crop coordinates
      ``(u - c) / (b / 2)`` and confidence.
    - ``roi_boxes_context`` (Tensor): ``(N, 4)`` feature-level RoIs only
      (``MultiRoIContextCrop``): each RoI crop's edges ``x1, y1, x2, y2`` in
      context-crop pixels.

    Shared data fields (one per person):

    - ``keypoints2d`` (Tensor): ``(K, 3)`` u, v in ``I'`` pixels, confidence.
    - ``keypoints3d`` (Tensor): ``(K, 4)`` x, y, z in the camera frame of ``I'``
      (metres), confidence.
    - ``smpl_global_orient`` (Tensor): ``(3,)`` axis-angle, camera frame of ``I'``.
    - ``smpl_body_pose`` (Tensor): ``(23, 3)`` axis-angle.
    - ``smpl_betas`` (Tensor): ``(10,)``.
    - ``smpl_transl`` (Tensor): ``(3,)`` metres, camera frame of ``I'``.
    - ``has_keypoints2d``, ``has_keypoints3d``, ``has_smpl``, ``has_transl``
      (Tensor): ``()`` availability flags, 0 or 1.
    - ``focal_length`` (Tensor): ``()`` or ``(2,)`` pixels.
    - ``principal_point`` (Tensor): ``(2,)`` pixels, the principal point of ``I'``.
    - ``context_trans`` (Tensor): ``(2, 3)`` feature-level RoIs only: affine
      ``I'`` pixels -> context-crop pixels.

    Metainfo: ``img_path``, ``img_shape`` and ``ori_shape`` ``(h, w)``,
    ``crop_size`` ``(crop_h, crop_w)``, ``context_size`` ``(context_h,
    context_w)`` (feature-level RoIs only), ``flip`` (bool), ``rotation`` (degrees,
    counter-clockwise on screen), ``scale``, ``dataset_name``, ``sample_idx``,
    ``gender``, ``bbox_padding`` (float, the total enlargement from the tight person box
    to RoI 0's box before the aspect is fixed and before ``scale``, e.g. 1.2).

    Fields absent from the pipeline's results (e.g. SMPL targets at test time)
    are absent here. Models may add predictions (e.g. ``pred_*``) to the same
    object.
    """

    @staticmethod
    def stack(samples: Sequence[BaseDataElement],
              keys: Optional[Sequence[str]] = None,
              device: Optional[Union[str, torch.device]] = None) -> Dict[str, Tensor]:
        """Stack tensor fields of a batch; see :func:`stack_data_samples`."""
        return stack_data_samples(samples, keys, device)


def stack_data_samples(samples: Sequence[BaseDataElement],
                       keys: Optional[Sequence[str]] = None,
                       device: Optional[Union[str, torch.device]] = None
                       ) -> Dict[str, Tensor]:
    """Stack the tensor fields of one data sample per person into batch tensors.

    Args:
        samples (Sequence[BaseDataElement]): ``B`` packed samples (the list that
            mmengine's ``pseudo_collate`` yields).
        keys (Sequence[str], optional): Fields to stack; each must be in every
            sample. None stacks every tensor data field present in all samples.
        device (str | torch.device, optional): Where the result goes; None
            keeps the samples' device.

    Returns:
        dict[str, Tensor]: ``key -> (B, ...)`` with each field's own dtype.

    Raises:
        ValueError: No samples, or a field's shape differs between samples
            (e.g. different ``num_rois`` or keypoint conventions).
        KeyError: A requested field is missing from a sample.
    """
    if len(samples) == 0:
        raise ValueError('stack_data_samples needs at least one data sample, got none.')
    if keys is None:
        common = set(samples[0].keys())
        for sample in samples[1:]:
            common &= set(sample.keys())
        keys = sorted(k for k in common if isinstance(samples[0].get(k), Tensor))
    batch = {}
    for key in keys:
        values = []
        for index, sample in enumerate(samples):
            if key not in sample:
                raise KeyError(
                    f"Data sample {index} has no field '{key}' (fields: {sorted(sample.keys())})"
                    '; the pipeline must end with MultiRoICrop and PackHMRInputs, and every '
                    'dataset of a batch must provide the field (with a has_* flag of 0 when '
                    'it has no ground truth).')
            values.append(torch.as_tensor(sample.get(key)))
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) != 1:
            raise ValueError(
                f"Field '{key}' has different shapes across the batch: {sorted(shapes)}; "
                'all samples need the same num_rois, crop_size and keypoint convention.')
        stacked = torch.stack(values)
        batch[key] = stacked if device is None else stacked.to(device)
    return batch
