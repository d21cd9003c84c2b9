"""The "predict the mean pose" reference, scored exactly like a model."""
from typing import Any, Mapping, Optional, Sequence

import torch

from mroi_plugin.body_models import SMPL
from mroi_plugin.datasets.mean_params import mean_smpl_params
from mroi_plugin.registry import METRICS

from .hmr_metric import HMRMetric

__all__ = ['MeanPoseBaselineMetric']


@METRICS.register_module()
class MeanPoseBaselineMetric(HMRMetric):
    """:class:`HMRMetric` of a constant prediction: the training set's mean body.

    Every person is predicted as the neutral body with the training set's mean
    betas and the chordal mean of each joint's rotation (global orientation
    included). It is the floor a trained model must clearly beat; PA-MPJPE is
    its fairest number, since MPJPE and PVE also charge it for not knowing the
    person's orientation. No translation is predicted, so it has no
    ``transl_error``; the camera's floor is
    :class:`~mroi_plugin.evaluation.ConstantCameraBaselineMetric` (the training
    set's mean crop camera).

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
        body_model_dir = self.body_model_dir
        if isinstance(body_model_dir, Mapping):
            if 'neutral' not in body_model_dir:
                raise ValueError('MeanPoseBaselineMetric builds the neutral mean body: '
                                 "body_model_dir needs a 'neutral' entry, it has "
                                 f'{sorted(body_model_dir)}.')
            body_model_dir = body_model_dir['neutral']
        rotmats, betas = mean_smpl_params(ann_file)
        model = SMPL(body_model_dir, gender='neutral', num_betas=len(betas))
        with torch.no_grad():
            body = model(betas=betas[None].float(), body_pose=rotmats[None, 1:].float(),
                         global_orient=rotmats[None, :1].float())
        self.mean_vertices = body['vertices'][0]

    def process(self, data_batch: Any, data_samples: Sequence[Mapping[str, Any]]) -> None:
        """Score the mean body against each sample's ground truth."""
        # The model's cameras are not part of this prediction: no transl_error, no log s.
        constant = [
            {k: v for k, v in dict(sample, pred_vertices=self.mean_vertices).items()
             if k not in ('pred_cam_full', 'pred_cam_crop')} for sample in data_samples
        ]
        super().process(data_batch, constant)
