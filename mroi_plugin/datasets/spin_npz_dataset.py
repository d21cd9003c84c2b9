"""``SPINNpzDataset``: SPIN/CLIFF-format ``.npz`` files with the crops they define."""
from typing import Any, Dict

import numpy as np

from mroi_plugin.registry import DATASETS

from .human_data import BadSampleError
from .human_data_dataset import MIN_BBOX_SIDE_PX, HumanDataDataset
from .spin_npz import SPIN_SCALE_PX, SPINNpzFile

__all__ = ['SPINNpzDataset']


@DATASETS.register_module()
class SPINNpzDataset(HumanDataDataset):
    """One person instance per row of a SPIN/CLIFF ``.npz`` (``3dpw_test.npz``, ...).

    The file is read by :class:`~mroi_plugin.datasets.spin_npz.SPINNpzFile` (its
    module docstring lists the keys and how each is used) and every sample is the
    ``results`` dict of :class:`HumanDataDataset`, so the pipeline, the bad-sample
    policy and :class:`~mroi_plugin.evaluation.HMRMetric` work unchanged. What
    differs is the crop: the file's own.

    - ``bbox_center`` = ``center`` and ``bbox_size`` (the RoI height) =
      ``200 * scale * bbox_scale_factor`` px, ``bbox_scale_factor`` 1 by default:
      ``scale`` already holds the enlargement SPIN/CLIFF chose. With a
      ``MultiRoICrop`` of ``crop_size=(256, 192)`` the crop is CLIFF's
      (``get_transform``: height ``200 * scale``, width ``0.75`` of it); a
      square ``crop_size`` gives SPIN's square crop of side ``200 * scale``.
      No ``bbox_xyxy``: the pipeline's ``GetBBoxCenterScale`` leaves this
      file-defined crop as it is.
    - No ``bbox_padding``: the file does not say how its crop was made from the
      person's box (SPIN pads keypoint boxes, square), so the box-fitted test
      camera (``test_cfg`` camera ``'fit'``), which needs that enlargement,
      refuses these samples with a clear error instead of fitting a wrong box.
    - ``keypoints2d`` come from ``openpose`` + ``part`` (convention
      ``'smpl_49'``), ``keypoints3d`` from ``S`` as the 17 H36M joints
      (``'h36m_17'``), both converted by name to ``keypoint_convention``. For
      the H36M protocols set ``keypoint_convention='h36m_17'`` so that the
      metric finds the pelvis and the 14 evaluation joints.
    - ``focal_length`` / ``principal_point`` from ``cam_int``, ``focal_length``
      or ``focal_l`` where the file has them; otherwise the image loading sets
      CLIFF's ``sqrt(W^2 + H^2)`` and the image centre.

    Args:
        ann_file (str): The ``.npz``, relative to ``data_root``.
        bbox_scale_factor (float): Extra enlargement of the file's crops.
            Defaults to 1.0 (the file's crops exactly). Unlike
            :class:`HumanDataDataset` (whose padding is the pipeline's), it stays
            here: the file, not a person box, defines these crops.
        **kwargs: The other arguments of :class:`HumanDataDataset`
            (``data_root``, ``data_prefix``, ``pipeline``, ``test_mode``,
            ``keypoint_convention``, ``on_bad_sample``, ...); ``cache_dir`` and
            ``use_mmap`` have no effect (the file is read into memory).
    """

    def __init__(self, ann_file: str, bbox_scale_factor: float = 1.0, **kwargs) -> None:
        if not bbox_scale_factor > 0:
            raise ValueError(f'SPINNpzDataset: bbox_scale_factor must be positive, got '
                             f'{bbox_scale_factor}.')
        self.bbox_scale_factor = float(bbox_scale_factor)
        super().__init__(ann_file=ann_file, **kwargs)

    def _open_file(self) -> SPINNpzFile:
        return SPINNpzFile(self.ann_file)

    def _bbox(self, index: int) -> Dict[str, Any]:
        """The file's crop: ``bbox_center`` and ``bbox_size``."""
        hd = self._opened
        center = np.asarray(hd.get('center', index), np.float64)
        scale = float(hd.get('scale', index))
        size = SPIN_SCALE_PX * scale * self.bbox_scale_factor
        if not (np.isfinite(center).all() and np.isfinite(size) and size > MIN_BBOX_SIDE_PX):
            raise BadSampleError(
                f'SPIN/CLIFF file {self.ann_file!r}, keys \'center\'/\'scale\', index {index}: '
                f'degenerate crop center={center.tolist()}, scale={scale} ({size:g} px); a crop '
                f'needs a finite centre and 200 * scale > {MIN_BBOX_SIDE_PX} px. Fix or drop '
                "the row, or set on_bad_sample='skip'.")
        return dict(bbox_center=center.astype(np.float32), bbox_size=float(size))
