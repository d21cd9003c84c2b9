"""Multi-RoI HMR and CLIFF: one estimator, N = 1 RoI is CLIFF."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor

from mroi_plugin.geometry import (
    cam_crop_to_full,
    fit_translation_to_box,
    fuse_full_cameras,
    image_to_normalized_crop,
    perspective_projection,
    relative_roi_layout,
    rotmat_to_axis_angle,
)
from mroi_plugin.registry import MODELS
from mroi_plugin.structures import stack_data_samples
from mroi_plugin.utils.typing_utils import ConfigType, OptConfigType

__all__ = ['MultiRoIHMR', 'CLIFF', 'TEST_CAMERAS']


# Per-RoI and per-person fields the losses read from the packed data samples.
_ROI_KEYS = ('bbox_info', 'roi_centers', 'roi_sizes')
_TARGET_KEYS = ('keypoints2d_crop', 'keypoints3d', 'smpl_global_orient', 'smpl_body_pose',
                'smpl_betas', 'has_keypoints2d', 'has_keypoints3d', 'has_smpl')
_CAMERA_KEYS = ('focal_length', 'principal_point')
# Where pred_cam_full can come from at test time (test_cfg camera / extra_cameras).
TEST_CAMERAS = ('roi0', 'mean', 'fit')


@MODELS.register_module()
class MultiRoIHMR(BaseModel):
    """Multi-RoI human mesh recovery (ECCV'24) on top of CLIFF.

    Every RoI crop of a person goes through the shared backbone and pooling
    (``(B*N, D)``); the optional neck (``RoIAwareFusion``) mixes RoI features
    into RoI-specific ``F_i`` and the shared ``F̄``; the head predicts one SMPL
    pose and shape per person and one crop camera per RoI. The body model runs
    once per person, and its keypoints are projected into every RoI with that
    RoI's full-image camera (docs/method.md#heads).

    Args:
        backbone (dict): Backbone config; it returns a tuple of feature maps.
        head (dict): ``CliffHead`` or ``MultiRoIHead`` config.
        body_model (dict): ``SMPL`` config; its ``keypoint_convention`` must be
            the dataset's.
        feature_pooling (dict, optional): Turns backbone outputs into
            ``(B*N, D)``. Defaults to ``GlobalAveragePooling``.
        neck (dict, optional): RoI fusion neck; None uses ``F_i = f_i`` and
            ``F̄ = mean_i f_i``.
        roi_sampler (dict, optional): Feature-level RoIs (docs/feature_rois.md):
            ``dict(type='RoIFeatureSampler')`` runs the backbone once per person
            on the context crop of ``MultiRoIContextCrop`` and samples each RoI's
            maps from it (``(B*N, C, h, w)``, the shape its own crop would give)
            before ``feature_pooling``; everything after is unchanged. None
            (default): one backbone pass per RoI crop (``MultiRoICrop``).
        contrastive_pooling (dict, optional): Pooling of the backbone output
            that ``loss_contrastive`` sees, when it must differ from
            ``feature_pooling``. None (default) gives the loss the head's pooled
            features, which with ``GlobalAveragePooling`` is the paper's set-up.
            A layout-keeping ``feature_pooling`` (``SpatialFlattenPooling``)
            needs ``dict(type='GlobalAveragePooling')`` here: SupCon makes the
            features of a person's RoIs equal, and on a flattened grid that
            erases where the limbs are in each crop (docs/quickstart_recipe.md).
        loss_keypoints2d, loss_keypoints3d, loss_vertices, loss_smpl_pose,
        loss_smpl_betas, loss_camera_consistency, loss_contrastive (dict,
            optional): Loss configs; None switches the term off.
        test_cfg (dict, optional): ``camera`` gives ``pred_cam_full``:
            ``'roi0'`` (default, as the authors evaluate), ``'mean'`` (the RoIs'
            full cameras fused by :func:`~mroi_plugin.geometry.fuse_full_cameras`:
            geometric mean of the depths, mean of the image-plane directions) or
            ``'fit'`` (the translation at which the predicted mesh fills RoI 0 as
            the pipeline made it, :func:`~mroi_plugin.geometry.fit_translation_to_box`;
            needs ``bbox_padding`` and ``crop_size`` in each sample's metainfo).
            ``extra_cameras`` (tuple of those names, default none) adds
            ``pred_cam_full_<name>`` too, so one evaluation compares cameras
            (``HMRMetric`` reports ``transl_error_<name>``); an extra ``'fit'`` is
            left out of samples without the box facts (file-defined crops).
        data_preprocessor (dict, optional): Defaults to ``HMRDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 head: ConfigType,
                 body_model: ConfigType,
                 feature_pooling: OptConfigType = None,
                 neck: OptConfigType = None,
                 roi_sampler: OptConfigType = None,
                 contrastive_pooling: OptConfigType = None,
                 loss_keypoints2d: OptConfigType = None,
                 loss_keypoints3d: OptConfigType = None,
                 loss_vertices: OptConfigType = None,
                 loss_smpl_pose: OptConfigType = None,
                 loss_smpl_betas: OptConfigType = None,
                 loss_camera_consistency: OptConfigType = None,
                 loss_contrastive: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if feature_pooling is None:
            feature_pooling = dict(type='GlobalAveragePooling')
        if data_preprocessor is None:
            data_preprocessor = dict(type='HMRDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.feature_pooling = MODELS.build(feature_pooling)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.roi_sampler = MODELS.build(roi_sampler) if roi_sampler is not None else None
        self.contrastive_pooling = (
            MODELS.build(contrastive_pooling) if contrastive_pooling is not None else None)
        self.head = MODELS.build(head)
        self.body_model = MODELS.build(body_model)
        losses = dict(
            keypoints2d=loss_keypoints2d,
            keypoints3d=loss_keypoints3d,
            vertices=loss_vertices,
            smpl_pose=loss_smpl_pose,
            smpl_betas=loss_smpl_betas,
            camera_consistency=loss_camera_consistency,
            contrastive=loss_contrastive)
        for name, cfg in losses.items():
            setattr(self, f'loss_{name}', MODELS.build(cfg) if cfg is not None else None)
        self.test_cfg: Dict[str, Any] = dict(camera='roi0', extra_cameras=())
        self.test_cfg.update(test_cfg or {})
        self.test_cfg['extra_cameras'] = tuple(self.test_cfg['extra_cameras'])
        for camera in (self.test_cfg['camera'], ) + self.test_cfg['extra_cameras']:
            if camera not in TEST_CAMERAS:
                raise ValueError(f'test_cfg: camera and extra_cameras must be among '
                                 f'{TEST_CAMERAS}, got {camera!r}.')

    # ------------------------------------------------------------------ forward
    def extract_feat(self, inputs: Tensor, num_people: int,
                     data_samples: Optional[Sequence[BaseDataElement]] = None) -> Tensor:
        """Backbone + pooling: ``(B*N, 3, H, W)`` crops, or ``(B, 3, H, W)`` context crops
        with a ``roi_sampler`` (then ``data_samples`` place the RoIs), -> ``(B, N, D)``."""
        return self._extract_feats(inputs, num_people, contrastive=False,
                                   data_samples=data_samples)[0]

    def _roi_maps(self, inputs: Tensor, data_samples: Optional[Sequence[BaseDataElement]]
                  ) -> Tuple[Tensor, ...]:
        """Feature-level RoIs: one backbone pass per context crop, each RoI sampled from it."""
        if data_samples is None or inputs.shape[0] != len(data_samples):
            raise ValueError(
                f'Feature-level RoIs (roi_sampler) need one context crop per person, got '
                f'{inputs.shape[0]} images for '
                f'{"unknown" if data_samples is None else len(data_samples)} people; the '
                'pipeline must use MultiRoIContextCrop instead of MultiRoICrop.')
        try:
            boxes = stack_data_samples(data_samples, ('roi_boxes_context', ),
                                       inputs.device)['roi_boxes_context']
        except KeyError as err:
            raise KeyError(
                'Feature-level RoIs (roi_sampler) need roi_boxes_context in the data samples: '
                'use MultiRoIContextCrop (not MultiRoICrop) in the pipeline, or drop the '
                "model's roi_sampler for crop mode.") from err
        crop_size = tuple(data_samples[0].metainfo['crop_size'])
        maps = self.backbone(inputs)
        assert self.roi_sampler is not None  # only called with a roi_sampler
        return self.roi_sampler(maps, boxes, tuple(inputs.shape[-2:]), crop_size)

    def _extract_feats(self, inputs: Tensor, num_people: int, contrastive: bool,
                       data_samples: Optional[Sequence[BaseDataElement]] = None
                       ) -> Tuple[Tensor, Optional[Tensor]]:
        """Head features ``(B, N, D)`` and, if ``contrastive``, the features the
        contrastive loss sees (``(B, N, D')`` from ``contrastive_pooling``, else
        the head's), from one backbone pass; None when not asked for, so that
        inference does not pay for the loss's pooling."""
        if self.roi_sampler is not None:
            maps = self._roi_maps(inputs, data_samples)
            num_crops = maps[0].shape[0]
        else:
            if inputs.shape[0] % num_people:
                raise ValueError(
                    f'{inputs.shape[0]} crops cannot be split among {num_people} people.')
            maps = self.backbone(inputs)
            num_crops = inputs.shape[0]
        shape = (num_people, num_crops // num_people, -1)
        feats = self.feature_pooling(maps).view(shape)
        if not contrastive:
            return feats, None
        if self.contrastive_pooling is None:
            return feats, feats
        return feats, self.contrastive_pooling(maps).view(shape)

    def regress(self, feats: Tensor, bbox_info: Tensor, roi_centers: Tensor,
                roi_sizes: Tensor) -> Dict[str, Tensor]:
        """Neck and head: RoI features to SMPL and crop cameras, tensors only.

        Args:
            feats (Tensor): ``(B, N, D)`` pooled RoI features (:meth:`extract_feat`).
            bbox_info (Tensor): ``(B, N, 3)`` per-RoI box information.
            roi_centers (Tensor): ``(B, N, 2)`` RoI centres, pixels.
            roi_sizes (Tensor): ``(B, N)`` RoI heights, pixels.

        Returns:
            dict[str, Tensor]: The head's outputs, among them ``pred_rotmat``
            ``(B, 24, 3, 3)``, ``pred_betas`` ``(B, 10)`` and ``pred_cam_crop``
            ``(B, N, 3)``.
        """
        if self.neck is not None:
            roi_feats, shared_feat = self.neck(feats, bbox_info)
        else:
            roi_feats, shared_feat = feats, feats.mean(dim=1)
        return self.head(roi_feats, shared_feat, bbox_info,
                         relative_roi_layout(roi_centers, roi_sizes))

    def _predict_raw(self, inputs: Tensor, data_samples: Sequence[BaseDataElement],
                     contrastive: bool = False) -> Tuple[dict, dict]:
        """Run the network and the body model; returns (predictions, batch).

        ``contrastive`` adds ``contrastive_feats`` (the contrastive loss's input).
        """
        batch = stack_data_samples(data_samples, _ROI_KEYS + _CAMERA_KEYS, inputs.device)
        feats, contrastive_feats = self._extract_feats(inputs, len(data_samples), contrastive,
                                                       data_samples)
        preds = self.regress(feats, batch['bbox_info'], batch['roi_centers'], batch['roi_sizes'])
        rotmat = preds['pred_rotmat']
        body = self.body_model(
            betas=preds['pred_betas'], body_pose=rotmat[:, 1:], global_orient=rotmat[:, :1])
        focal = batch['focal_length'].unsqueeze(1).expand_as(batch['roi_sizes'])
        principal = batch['principal_point'].unsqueeze(1).expand_as(batch['roi_centers'])
        cam_full = cam_crop_to_full(preds['pred_cam_crop'], batch['roi_centers'],
                                    batch['roi_sizes'], focal, principal)
        keypoints = body['keypoints']
        num_rois = cam_full.shape[1]
        keypoints2d = perspective_projection(
            keypoints.unsqueeze(1).expand(-1, num_rois, -1, -1), cam_full, focal, principal)
        preds.update(
            feats=feats,
            vertices=body['vertices'],
            keypoints3d=keypoints,
            cam_full=cam_full,
            keypoints2d_crop=image_to_normalized_crop(keypoints2d, batch['roi_centers'],
                                                      batch['roi_sizes']))
        if contrastive_feats is not None:
            preds['contrastive_feats'] = contrastive_feats
        return preds, batch

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], list, dict]:
        """mmengine entry point: ``mode`` is ``'loss'``, ``'predict'`` or ``'tensor'``.

        Args:
            inputs (Tensor): ``(B*N, 3, H, W)`` normalised crops, or ``(B, 3, H, W)``
                context crops with a ``roi_sampler``.
            data_samples (list[BaseDataElement]): One packed sample per person.
            mode (str): What to return.
        """
        if data_samples is None:
            raise ValueError('MultiRoIHMR needs data_samples (RoI boxes and cameras).')
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._predict_raw(inputs, data_samples, contrastive=True)[0]
        raise ValueError(f"Invalid mode '{mode}': use 'loss', 'predict' or 'tensor'.")

    # --------------------------------------------------------------------- loss
    def loss(self, inputs: Tensor, data_samples: Sequence[BaseDataElement]) -> Dict[str, Tensor]:
        """Loss terms, each logged by mmengine under its ``loss_*`` key."""
        self._loss_batch = [
            sample.metainfo.get('img_path', sample.metainfo.get('sample_idx', '?'))
            for sample in data_samples
        ]
        preds, batch = self._predict_raw(
            inputs, data_samples, contrastive=self.loss_contrastive is not None)
        batch.update(stack_data_samples(data_samples, _TARGET_KEYS, inputs.device))
        num_rois = preds['cam_full'].shape[1]
        losses = {}
        if self.loss_keypoints2d is not None:
            # Per-RoI term: every RoI of a person counts, averaged over RoIs.
            has_2d = batch['has_keypoints2d'].unsqueeze(1).expand(-1, num_rois)
            target = batch['keypoints2d_crop']
            losses['loss_keypoints2d'] = self.loss_keypoints2d(
                preds['keypoints2d_crop'], target[..., :2], target[..., 2], has_2d)
        if self.loss_keypoints3d is not None:
            target = batch['keypoints3d']
            losses['loss_keypoints3d'] = self.loss_keypoints3d(
                preds['keypoints3d'], target[..., :3], target[..., 3], batch['has_keypoints3d'])
        has_smpl = batch['has_smpl']
        if self.loss_vertices is not None:
            with torch.no_grad():
                gt_vertices = self.body_model(
                    betas=batch['smpl_betas'],
                    body_pose=batch['smpl_body_pose'],
                    global_orient=batch['smpl_global_orient'])['vertices']
            losses['loss_vertices'] = self.loss_vertices(preds['vertices'], gt_vertices, has_smpl)
        if self.loss_smpl_pose is not None:
            gt_pose = torch.cat(
                [batch['smpl_global_orient'].unsqueeze(1), batch['smpl_body_pose']], dim=1)
            losses['loss_smpl_pose'] = self.loss_smpl_pose(preds['pred_rotmat'], gt_pose, has_smpl)
        if self.loss_smpl_betas is not None:
            losses['loss_smpl_betas'] = self.loss_smpl_betas(
                preds['pred_betas'], batch['smpl_betas'], has_smpl)
        if self.loss_camera_consistency is not None:
            losses['loss_camera_consistency'] = self.loss_camera_consistency(
                preds['pred_cam_crop'], batch['roi_centers'], batch['roi_sizes'],
                batch['focal_length'], batch['principal_point'])
        if self.loss_contrastive is not None:
            losses['loss_contrastive'] = self.loss_contrastive(preds['contrastive_feats'])
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's loss summation, refusing non-finite terms.

        A NaN/inf term raises before the optimiser step, so the weights (and the
        checkpoints already written) stay finite instead of training going on
        silently with NaN parameters.
        """
        for name, value in losses.items():
            if isinstance(value, Tensor) and not torch.isfinite(value.detach()).all():
                batch = getattr(self, '_loss_batch', [])
                shown = ', '.join(str(b) for b in batch[:4]) + (' ...' if len(batch) > 4 else '')
                raise FloatingPointError(
                    f'Loss term {name!r} is {value.detach().flatten()[:4].tolist()} on the batch '
                    f'[{shown}] ({len(batch)} people). The optimiser step was not applied, so the '
                    'weights and the last checkpoint in the work dir are finite. Inspect these '
                    'samples, lower the learning rate or this term\'s loss_weight, or clip '
                    'gradients (optim_wrapper.clip_grad), then resume.')
        return super().parse_losses(losses)

    # ------------------------------------------------------------------ predict
    def predict(self, inputs: Tensor,
                data_samples: Sequence[BaseDataElement]) -> List[BaseDataElement]:
        """Add ``pred_*`` fields to each data sample.

        Per person: ``pred_pose`` (24, 3) axis-angle, ``pred_rotmat`` (24, 3, 3),
        ``pred_betas`` (10,), ``pred_vertices`` (V, 3) and ``pred_keypoints3d``
        (K, 3) in the body frame (metres, no translation), ``pred_cam_full`` (3,)
        full-image camera translation and ``pred_cam_crop`` (N, 3).
        """
        preds, batch = self._predict_raw(inputs, data_samples)
        main = self.test_cfg['camera']
        cameras = {
            name: self._test_camera(name, preds, batch, data_samples, required=name == main)
            for name in dict.fromkeys((main, ) + self.test_cfg['extra_cameras'])
        }
        cam_full = cameras[main][0]
        pose = rotmat_to_axis_angle(preds['pred_rotmat'])
        for index, sample in enumerate(data_samples):
            sample.set_data(
                dict(
                    pred_pose=pose[index],
                    pred_rotmat=preds['pred_rotmat'][index],
                    pred_betas=preds['pred_betas'][index],
                    pred_vertices=preds['vertices'][index],
                    pred_keypoints3d=preds['keypoints3d'][index],
                    pred_cam_full=cam_full[index],
                    pred_cam_crop=preds['pred_cam_crop'][index]))
            sample.set_data({
                f'pred_cam_full_{name}': cameras[name][0][index]
                for name in self.test_cfg['extra_cameras'] if cameras[name][1][index]
            })
        return list(data_samples)

    @staticmethod
    def _test_camera(name: str, preds: dict, batch: dict, data_samples: Sequence[BaseDataElement],
                     required: bool = True) -> Tuple[Tensor, List[bool]]:
        """One full-image translation per person by ``test_cfg`` name, and who has one.

        A person whose sample cannot have the camera (``'fit'`` without the box facts, e.g. a
        file-defined SPIN crop) makes a ``required`` (main) camera fail; for an extra camera
        that person is marked unavailable (and left out of that sample).

        Returns:
            tuple: ``(B, 3)`` translations, metres (NaN where unavailable), and ``B`` flags.
        """
        everyone = [True] * len(data_samples)
        if name == 'roi0':
            return preds['cam_full'][:, 0], everyone
        if name == 'mean':
            return fuse_full_cameras(preds['cam_full']), everyone
        # 'fit': the box facts are the pipeline's, so they come with each sample.
        groups: Dict[Tuple[float, float], List[int]] = {}
        for index, sample in enumerate(data_samples):
            meta = sample.metainfo
            if 'bbox_padding' not in meta or 'crop_size' not in meta:
                if not required:
                    continue
                raise ValueError(
                    "test_cfg camera 'fit' needs 'bbox_padding' and 'crop_size' in every data "
                    f'sample\'s metainfo; sample {index} has {sorted(meta)}. Build the samples '
                    'with a pipeline that pads the person box (GetBBoxCenterScale) and crops '
                    "(MultiRoICrop), or use camera='roi0'.")
            crop_h, crop_w = meta['crop_size']
            key = (float(crop_w) / float(crop_h), float(meta['bbox_padding']))
            groups.setdefault(key, []).append(index)
        cam_full = preds['cam_full'].new_full((len(data_samples), 3), float('nan'))
        for (aspect, padding), rows in groups.items():
            cam_full[rows] = fit_translation_to_box(
                preds['vertices'][rows], batch['roi_centers'][rows, 0],
                batch['roi_sizes'][rows, 0], batch['focal_length'][rows],
                batch['principal_point'][rows], aspect, padding)
        fitted = {index for rows in groups.values() for index in rows}
        return cam_full, [index in fitted for index in range(len(data_samples))]


@MODELS.register_module()
class CLIFF(MultiRoIHMR):
    """CLIFF (ECCV'22): the single-RoI case of :class:`MultiRoIHMR`.

    Identical code path; configs pair it with ``MultiRoICrop(num_rois=1)``,
    no neck and a ``CliffHead``. Kept as its own name so configs and logs say
    which method they run.
    """
