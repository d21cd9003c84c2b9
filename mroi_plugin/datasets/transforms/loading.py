"""``LoadImage``: read a sample's image and complete its camera intrinsics."""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile

from mroi_plugin.geometry import default_intrinsics
from mroi_plugin.registry import TRANSFORMS

from ..human_data import BadSampleError

__all__ = ['LoadImage', 'ImageLoadError', 'AnnotationOutOfImageError']

#: A 2D keypoint counts as outside the image beyond this fraction of its longer
#: side: annotators and projections put joints of truncated people a little
#: past the border, an image resized after annotation puts them far past it.
KEYPOINT_MARGIN = 0.1
#: Fewer labelled 2D keypoints than this say too little about the image size.
MIN_LABELLED_KEYPOINTS = 4


class ImageLoadError(BadSampleError):
    """A sample's image is missing or cannot be decoded.

    A :class:`BadSampleError`, so ``HumanDataDataset(on_bad_sample='skip')``
    replaces the sample instead of stopping the run.
    """


class AnnotationOutOfImageError(BadSampleError):
    """A sample's box or keypoints do not lie in the image that was read.

    The box is entirely outside it, or most labelled 2D keypoints are: the
    image was resized or replaced after annotation, or the annotation belongs
    to another image. Training on it gives huge, meaningless 2D losses. A
    :class:`BadSampleError`, so the dataset's ``on_bad_sample`` policy applies.
    """


def annotation_outside_image(results: dict, width: int, height: int) -> Optional[str]:
    """Why the sample's annotation does not fit a ``width x height`` image, or None.

    Args:
        results (dict): ``bbox_xyxy`` ((4,) px, the person box), or a file's
            ``bbox_center`` ((2,) px) and ``bbox_size`` (px, the RoI height); and/or
            ``keypoints2d`` ((K, 3) px + confidence), full
            image coordinates; missing keys are not checked.
        width (int): Image width in pixels.
        height (int): Image height in pixels.

    Returns:
        str | None: A description of the mismatch.
    """
    center, size = results.get('bbox_center'), results.get('bbox_size')
    box = results.get('bbox_xyxy')
    if box is not None and size is None:
        # The person box itself (before GetBBoxCenterScale), as the dataset checks it.
        x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(-1)[:4])
        if x2 <= 0 or x1 >= width or y2 <= 0 or y1 >= height:
            return (f'its box (x1, y1, x2, y2 = {x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f} px) '
                    'lies entirely outside it')
    elif center is not None and size is not None:
        # A square of side bbox_size holds the RoI of a crop with aspect
        # w/h <= 1 (CLIFF's 192/256), which holds the annotated box.
        half = 0.5 * float(size)
        cx, cy = (float(v) for v in np.asarray(center).reshape(2))
        if cx + half < 0 or cx - half > width or cy + half < 0 or cy - half > height:
            return (f'its box (RoI centre ({cx:.1f}, {cy:.1f}) px, size {float(size):.1f} px) '
                    'lies entirely outside it')
    keypoints = results.get('keypoints2d')
    if keypoints is not None:
        keypoints = np.asarray(keypoints)
        labelled = keypoints[keypoints[:, 2] > 0, :2]
        if len(labelled) >= MIN_LABELLED_KEYPOINTS:
            margin = KEYPOINT_MARGIN * max(width, height)
            outside = ((labelled[:, 0] < -margin) | (labelled[:, 0] > width + margin)
                       | (labelled[:, 1] < -margin) | (labelled[:, 1] > height + margin))
            if 2 * int(outside.sum()) > len(labelled):
                far = labelled.max(axis=0)
                return (f'{int(outside.sum())} of its {len(labelled)} labelled 2D keypoints lie '
                        f'more than {margin:.0f} px outside it (up to x={far[0]:.0f}, '
                        f'y={far[1]:.0f} px)')
    return None


@TRANSFORMS.register_module()
class LoadImage(LoadImageFromFile):
    """Load ``results['img_path']`` (mmcv's ``LoadImageFromFile``) for HMR.

    On top of mmcv's transform:

    - a missing or undecodable image raises :class:`ImageLoadError` naming
      the path, the sample and the dataset (mmcv raises a bare
      ``FileNotFoundError`` or ``AssertionError``), so that the dataset's
      ``on_bad_sample='skip'`` policy covers unreadable images;
    - a sample whose box lies entirely outside the loaded image, or most of
      whose labelled 2D keypoints do (an image resized or replaced after
      annotation), raises :class:`AnnotationOutOfImageError` (also a
      ``BadSampleError``) on every read, instead of training on it;
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
            AnnotationOutOfImageError: the box or keypoints are not in it.
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
        mismatch = annotation_outside_image(results, img_w, img_h)
        if mismatch is not None:
            raise AnnotationOutOfImageError(
                f"Image {results.get('img_path')!r} ({where}) is {img_w}x{img_h} px but "
                f'{mismatch}. Was the image resized or replaced after annotation? Fix the '
                "annotation or the image, or set the dataset's on_bad_sample='skip'.")
        focal, principal = default_intrinsics(img_w, img_h, results.get('focal_length'),
                                              results.get('principal_point'))
        results['focal_length'] = focal
        if results.get('principal_point') is None:
            results['principal_point'] = principal.astype(np.float32)
        return results
