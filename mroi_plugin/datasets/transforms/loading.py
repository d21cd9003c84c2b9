"""``LoadImage``: read a sample's image and complete its camera intrinsics."""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile

from mroi_plugin.geometry import default_principal_point, estimate_focal_length
from mroi_plugin.registry import TRANSFORMS

from ..human_data import BadSampleError

__all__ = ['LoadImage', 'ImageLoadError']


class ImageLoadError(BadSampleError):
    """A sample's image is missing or cannot be decoded.

    A :class:`BadSampleError`, so ``HumanDataDataset(on_bad_sample='skip')``
    replaces the sample instead of stopping the run.
    """


@TRANSFORMS.register_module()
class LoadImage(LoadImageFromFile):
    """Load ``results['img_path']`` (mmcv's ``LoadImageFromFile``) for HMR.

    On top of mmcv's transform:

    - a missing or undecodable image raises :class:`ImageLoadError` naming
      the path, the sample and the dataset (mmcv raises a bare
      ``FileNotFoundError`` or ``AssertionError``), so that the dataset's
      ``on_bad_sample='skip'`` policy covers unreadable images;
    - ``focal_length`` / ``principal_point`` that the dataset left ``None``
      (HumanData files store no image size) are filled with CLIFF's defaults
      for the loaded ``W x H`` image: ``sqrt(W^2 + H^2)`` and ``(W/2, H/2)``
      (``mroi_plugin.geometry``).

    Added keys: ``img`` (H, W, 3) uint8 BGR, ``img_shape`` and ``ori_shape``
    ``(h, w)``. Modified keys: ``focal_length`` (float px),
    ``principal_point`` ((2,) float32 px), when they were None or absent.

    Args:
        to_float32 (bool): Return a float32 image. Defaults to False.
        color_type (str): mmcv ``imfrombytes`` flag. Defaults to 'color'.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(to_float32=to_float32, color_type=color_type,
                         imdecode_backend=imdecode_backend, ignore_empty=False,
                         backend_args=backend_args)

    def transform(self, results: dict) -> dict:
        """Load the image and complete the intrinsics.

        Args:
            results (dict): Needs ``img_path``; see the class docstring.

        Returns:
            dict: ``results`` with the image and intrinsics.

        Raises:
            ImageLoadError: the image is missing or cannot be decoded.
        """
        if 'img_path' not in results:
            raise KeyError("LoadImage: results has no 'img_path'; put it after a dataset that "
                           'sets it (e.g. HumanDataDataset).')
        where = (f"sample_idx={results.get('sample_idx')}, "
                 f"dataset={results.get('dataset_name')}")
        try:
            results = super().transform(results)
        except Exception as error:  # mmcv/mmengine raise several types here
            raise ImageLoadError(
                f"Cannot read image {results.get('img_path')!r} ({where}): "
                f'{type(error).__name__}: {error}. Check data_root / data_prefix.') from error
        if results['img'] is None or results['img'].size == 0:
            raise ImageLoadError(f"Empty image {results.get('img_path')!r} ({where}).")
        img_h, img_w = results['img'].shape[:2]
        if results.get('focal_length') is None:
            results['focal_length'] = float(estimate_focal_length(float(img_w), float(img_h)))
        if results.get('principal_point') is None:
            results['principal_point'] = np.asarray(
                default_principal_point(np.float32(img_w), np.float32(img_h)), dtype=np.float32)
        return results
