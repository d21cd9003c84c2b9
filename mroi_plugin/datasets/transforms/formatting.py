"""``PackHMRInputs``: crops to a uint8 tensor, targets to an ``HMRDataSample``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mroi_plugin.registry import TRANSFORMS
from mroi_plugin.structures import META_FIELDS, ROI_FIELDS, SHARED_FIELDS, HMRDataSample

__all__ = ['PackHMRInputs']


@TRANSFORMS.register_module()
class PackHMRInputs(BaseTransform):
    """Pack the output of ``MultiRoICrop`` for the model.

    Returns ``dict(inputs=Tensor, data_samples=HMRDataSample)``:

    - ``inputs``: ``(N, 3, crop_h, crop_w)`` uint8, channels as in the image
      (BGR); normalisation and the RGB swap happen in the model's data
      preprocessor. A single ``(H, W, 3)`` image becomes ``(1, 3, H, W)``.
    - ``data_samples``: every key of ``keys`` present in ``results`` becomes a
      data field of the same name, as a float32 tensor (float64 geometry from
      ``MultiRoICrop`` is cast too: float32 keeps ~1e-7 relative precision,
      ample for pixels and metres, and matches the model). Per-RoI fields:
      ``roi_centers`` ``(N, 2)``, ``roi_sizes`` ``(N,)``, ``bbox_info``
      ``(N, 3)``, ``crop_trans`` ``(N, 2, 3)``, ``keypoints2d_crop``
      ``(N, K, 3)``; shared fields: ``keypoints2d`` ``(K, 3)``, ``keypoints3d``
      ``(K, 4)``, ``smpl_global_orient`` ``(3,)``, ``smpl_body_pose``
      ``(23, 3)``, ``smpl_betas`` ``(10,)``, ``smpl_transl`` ``(3,)``,
      ``has_keypoints2d``/``has_keypoints3d``/``has_smpl``/``has_transl`` ``()``,
      ``focal_length`` ``()``, ``principal_point`` ``(2,)`` (see
      :class:`~mroi_plugin.structures.HMRDataSample`). Every key of
      ``meta_keys`` present in ``results`` goes to the metainfo unchanged
      (``img_path``, ``img_shape``, ``ori_shape``, ``crop_size``, ``flip``,
      ``rotation``, ``scale``, ``dataset_name``, ``sample_idx``, ``gender``).

    Missing keys are skipped (e.g. SMPL targets at test time); stacking a
    batch (``HMRDataSample.stack``) then names any field a sample lacks.

    Args:
        keys (Sequence[str]): Data fields to pack. Defaults to
            ``ROI_FIELDS + SHARED_FIELDS``.
        meta_keys (Sequence[str]): Metainfo keys. Defaults to ``META_FIELDS``.
    """

    def __init__(self,
                 keys: Sequence[str] = ROI_FIELDS + SHARED_FIELDS,
                 meta_keys: Sequence[str] = META_FIELDS) -> None:
        self.keys = tuple(keys)
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _pack_image(img: np.ndarray) -> torch.Tensor:
        if img.ndim == 3:
            img = img[None]
        if img.ndim != 4:
            raise ValueError(
                f"PackHMRInputs: results['img'] must be (N, H, W, C) crops (MultiRoICrop) or "
                f'one (H, W, C) image, got shape {img.shape}.')
        return torch.from_numpy(np.ascontiguousarray(img.transpose(0, 3, 1, 2)))

    def transform(self, results: dict) -> dict:
        """Return ``dict(inputs=(N, 3, H, W) uint8 Tensor, data_samples=HMRDataSample)``."""
        if 'img' not in results:
            raise KeyError(
                "PackHMRInputs: results has no 'img'; the pipeline must load the image "
                '(LoadImageFromFile) and crop it (MultiRoICrop) before packing.')
        inputs = self._pack_image(np.asarray(results['img']))
        data_sample = HMRDataSample()
        for key in self.keys:
            if key in results:
                value = results[key]
                try:
                    tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
                except (TypeError, ValueError) as err:
                    raise TypeError(
                        f"PackHMRInputs: results['{key}'] cannot become a float tensor "
                        f'({type(value).__name__}): {err}') from err
                data_sample.set_field(tensor, key)
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys}, meta_keys={self.meta_keys})'
