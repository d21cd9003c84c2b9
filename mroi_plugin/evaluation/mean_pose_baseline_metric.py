"""The "predict the mean pose" reference, scored exactly like a model."""
from typing import Any, Optional, Sequence

import numpy as np
import torch

from mroi_plugin.body_models import SMPL
from mroi_plugin.datasets.human_data import HumanDataFile
from mroi_plugin.geometry import axis_angle_to_rotmat
from mroi_plugin.registry import METRICS

from .hmr_metric import HMRMetric

__all__ = ['MeanPoseBaselineMetric', 'mean_rotation']


def mean_rotation(rotmats: torch.Tensor) -> torch.Tensor:
    """Chordal L2 mean of rotations: the SO(3) projection of their average.

    Args:
        rotmats (Tensor): ``(M, ..., 3, 3)`` rotation matrices.

    Returns:
        Tensor: ``(..., 3, 3)`` the rotation closest (Frobenius) to the mean.
    """
    u, _, vh = torch.linalg.svd(rotmats.mean(dim=0))
    # Flip the last singular direction where needed so the result is a proper rotation.
    det = torch.det(u @ vh)
    fix = torch.ones_like(u[..., 0])
    fix[..., -1] = det
    return u @ torch.diag_embed(fix) @ vh


@METRICS.register_module()
class MeanPoseBaselineMetric(HMRMetric):
    """:class:`HMRMetric` of a constant prediction: the training set's mean body.

    Every person is predicted as the neutral body with the training set's mean
    betas and the chordal mean of each joint's rotation (global orientation
    included). It is the floor a trained model must clearly beat; PA-MPJPE is
    its fairest number, since MPJPE and PVE also charge it for not knowing the
    person's orientation. No translation is predicted, so it has no
    ``transl_error``.

    Args:
        ann_file (str): The training HumanData ``.npz`` with ``smpl`` parameters.
        **kwargs: :class:`HMRMetric` arguments (``body_model_dir`` is required).
            The prefix defaults to ``'mean_pose'``.
    """

    default_prefix: Optional[str] = 'mean_pose'

    def __init__(self, ann_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.body_model_dir is None:
            raise ValueError('MeanPoseBaselineMetric needs body_model_dir to build the mean body.')
        human_data = HumanDataFile(ann_file)
        for key in ('smpl.global_orient', 'smpl.body_pose', 'smpl.betas'):
            if key not in human_data:
                raise KeyError(f'MeanPoseBaselineMetric: {ann_file} has no {key!r}; the mean '
                               'pose needs SMPL parameters of the training set.')
        pose = np.concatenate([
            np.asarray(human_data.array('smpl.global_orient')).reshape(-1, 1, 3),
            np.asarray(human_data.array('smpl.body_pose')).reshape(-1, 23, 3)
        ], axis=1)
        betas = np.asarray(human_data.array('smpl.betas')).reshape(len(pose), -1)
        valid = np.isfinite(pose).all(axis=(1, 2)) & np.isfinite(betas).all(axis=1)
        rotmats = mean_rotation(axis_angle_to_rotmat(torch.from_numpy(pose[valid]).double()))
        model = SMPL(self.body_model_dir, gender='neutral', num_betas=betas.shape[1])
        with torch.no_grad():
            body = model(
                betas=torch.from_numpy(betas[valid].mean(axis=0, keepdims=True)).float(),
                body_pose=rotmats[None, 1:].float(),
                global_orient=rotmats[None, :1].float())
        self.mean_vertices = body['vertices'][0]

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score the mean body against each sample's ground truth."""
        constant = [
            {k: v for k, v in dict(sample, pred_vertices=self.mean_vertices).items()
             if k != 'pred_cam_full'} for sample in data_samples
        ]
        super().process(data_batch, constant)
