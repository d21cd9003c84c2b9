"""MPJPE, PA-MPJPE, PVE and translation error of predicted meshes (3DPW / H36M protocols)."""
import math
import os
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump
from mmengine.logging import MMLogger
from torch import Tensor

from mroi_plugin.body_models import (
    GenderedSMPL,
    get_keypoint_names,
    get_mapping,
    load_joint_regressor,
)
from mroi_plugin.body_models.smpl import GENDER_ALIASES
from mroi_plugin.geometry import cam_full_to_crop, similarity_procrustes
from mroi_plugin.registry import METRICS

__all__ = ['HMRMetric']

PathLike = Union[str, 'os.PathLike[str]']

METRES_TO_MM = 1000.0
GT_SOURCES = ('smpl', 'keypoints3d')
METRIC_KEYS = ('mpjpe', 'pa_mpjpe', 'pve', 'transl_error')
# A similarity transform is fixed by three non-collinear points; with fewer visible ground-truth
# joints PA-MPJPE is undefined, so such samples are skipped (and counted).
MIN_VISIBLE_JOINTS = 3
_SMPL_GT_KEYS = ('smpl_betas', 'smpl_body_pose', 'smpl_global_orient')
# What a sample needs for the per-RoI crop-scale error (besides the GT translation).
_CROP_CAMERA_KEYS = ('pred_cam_crop', 'roi_centers', 'roi_sizes', 'focal_length',
                     'principal_point')
# Per-RoI statistics of log s_pred - log s_gt over the test set: mean (bias) and standard
# deviation (spread), e.g. ``log_s_bias_roi0``.
LOG_S_BIAS_KEY = 'log_s_bias_roi{}'
LOG_S_STD_KEY = 'log_s_std_roi{}'


def _joint_names(joints: Union[str, Sequence[str]], what: str) -> List[str]:
    if isinstance(joints, str):
        return get_keypoint_names(joints)
    names = [str(n) for n in joints]
    if not names or len(set(names)) != len(names):
        raise ValueError(f'HMRMetric: {what} must be a keypoint convention name or a non-empty '
                         f'list of distinct joint names, got {joints!r}.')
    return names


def _gather_index(src: List[str], dst: List[str], what: str, hint: str) -> np.ndarray:
    """Index into ``src`` of every name of ``dst``; all must be present."""
    dst_idx, src_idx = get_mapping(src, dst)
    if len(dst_idx) != len(dst):
        missing = [dst[j] for j in range(len(dst)) if j not in set(dst_idx.tolist())]
        raise ValueError(f'HMRMetric: {what} has no joints {missing}; {hint}')
    return src_idx[np.argsort(dst_idx)]


@METRICS.register_module()
class HMRMetric(BaseMetric):
    """Mean per-joint and per-vertex errors of predicted meshes, in millimetres.

    Predicted joints are always regressed from the predicted (neutral-model)
    mesh ``pred_vertices`` with ``joint_regressor`` (the H36M 17-joint
    regressor by default), centred on its pelvis joint and reduced by name to
    ``joint_set`` (SPIN/CLIFF's 14 LSP joints by default). The ground truth
    depends on the protocol:

    * **3DPW** (``gt_source='smpl'``, the default): the ground-truth mesh comes
      from the sample's **gendered** SMPL (``gender`` metainfo: male, female or
      neutral) with its ``smpl_betas``, ``smpl_body_pose`` and
      ``smpl_global_orient``; its joints come from the same regressor, with the
      same centring and joint set. Samples without SMPL (``has_smpl`` 0) are
      skipped. A ``'neutral'`` sample uses the neutral model (the official
      code uses the male model for every sample that is not female). The
      official Multi-RoI code evaluates H36M this way too, on the MoSh fits
      (non-standard); run this protocol on an H36M file with SMPL to
      reproduce it.
    * **H36M** (``gt_source='keypoints3d'``): the ground-truth joints are the
      file's 3D joints ``keypoints3d`` ``(K, 4)`` (camera frame, metres,
      confidence), in the dataset's keypoint convention (``dataset_meta
      ['keypoint_convention']`` or ``gt_keypoint_convention``), centred on
      their own pelvis joint. That convention must name the pelvis and every
      joint of ``joint_set`` (use ``keypoint_convention='h36m_17'`` or
      ``'human_data'`` for the test set; ``smpl_24`` lacks the H36M hips and
      head top). Joints with confidence 0 are left out of the sample's means
      and of its Procrustes fit; samples without ``has_keypoints3d`` are
      skipped. Protocol 1 (S9 and S11, all four cameras) and Protocol 2 (S9
      and S11, frontal camera only, reported as PA-MPJPE) use the same metric
      with different annotation files, e.g. MMHuman3D's
      ``h36m_valid_protocol1.npz`` and ``h36m_valid_protocol2.npz``. For
      MPI-INF-3DHP use ``joint_set='h36m_17'``.

    Reported metrics (the mean over the samples that have each one):

    * ``mpjpe``: mean joint distance after pelvis centring.
    * ``pa_mpjpe``: the same after a per-sample similarity Procrustes
      alignment of the predicted joints to the ground truth.
    * ``pve``: mean vertex distance, each mesh centred on its regressed
      pelvis; needs a ground-truth mesh (``has_smpl`` and a body model).
    * ``transl_error``: full-camera translation error where the data has a
      ground-truth translation (``has_transl``): the distance between the
      predicted pelvis in the camera frame (``pred_vertices`` pelvis +
      ``pred_cam_full``) and the ground-truth one (GT mesh pelvis +
      ``smpl_transl``). Comparing pelvises rather than ``pred_cam_full`` with
      ``smpl_transl`` directly removes the offset between the root joints of
      bodies with different shapes or genders. ``transl_error_<name>``: the
      same for each other camera a sample carries as ``pred_cam_full_<name>``
      (the model's ``test_cfg.extra_cameras``, e.g. ``transl_error_fit``).
    * ``log_s_bias_roi{k}`` and ``log_s_std_roi{k}`` (dimensionless): mean and
      standard deviation over the test set of ``log s_pred - log s_gt``, the
      error of RoI ``k``'s crop scale, where a sample has ``pred_cam_crop``
      ``(N, 3)``, its RoI boxes and camera (``roi_centers``, ``roi_sizes``,
      ``focal_length``, ``principal_point``) and a ground-truth translation in
      front of the camera; ``s_gt`` is that translation seen from the RoI's box
      (:func:`~mroi_plugin.geometry.cam_full_to_crop`). A bias of 0.1 is a depth
      about 10 % too small (``Tz = 2 f / (b s)``). A predicted ``s <= 0`` has no
      logarithm: it is left out and counted in a warning.

    Every sample adds exactly one small dict of Python numbers to
    ``self.results`` (so mmengine's DDP collection keeps samples and results
    aligned); with ``outfile_prefix`` they are written to
    ``{outfile_prefix}.per_sample.json`` with per-joint errors, for analysis.

    Args:
        joint_regressor (str | PathLike): ``.npy`` vertex-to-joint regressor
            ``(J, 6890)`` in ``regressor_convention`` (``J_regressor_h36m.npy``;
            the stand-in tool writes one).
        body_model_dir (str | PathLike | dict, optional): Directory with
            ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``, or ``{gender: file}``;
            the ground-truth meshes come from it. Required for
            ``gt_source='smpl'``; with ``'keypoints3d'`` it adds PVE and the
            translation error for samples with SMPL. Defaults to None.
        gt_source (str): ``'smpl'`` (3DPW) or ``'keypoints3d'`` (H36M).
        joint_set (str | Sequence[str]): The joints the errors are computed
            on: a keypoint convention or a list of joint names, all present in
            ``regressor_convention``. Defaults to ``'lsp_14'``.
        regressor_convention (str | Sequence[str]): Names of the regressor's
            rows. Defaults to ``'h36m_17'``.
        pelvis_joint (str): Name of the centring joint. Defaults to
            ``'pelvis_extra'`` (H36M joint 0).
        gt_keypoint_convention (str, optional): Convention of ``keypoints3d``
            for ``gt_source='keypoints3d'``; None reads the dataset's
            ``keypoint_convention`` from ``dataset_meta``.
        num_betas (int): Shape coefficients of the ground truth. Defaults to 10.
        outfile_prefix (str, optional): Write the per-sample results to
            ``{outfile_prefix}.per_sample.json``. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for DDP collection.
        collect_dir (str, optional): Synchronisation folder for ``'cpu'``
            collection.
        prefix (str, optional): Metric name prefix. Defaults to ``'hmr'``.

    Raises:
        FileNotFoundError: the regressor or the body model folder is missing.
        ValueError: an unknown protocol, or joints that cannot be found by name.
    """

    default_prefix: Optional[str] = 'hmr'

    def __init__(self,
                 joint_regressor: PathLike,
                 body_model_dir: Optional[Union[PathLike, Mapping[str, PathLike]]] = None,
                 gt_source: str = 'smpl',
                 joint_set: Union[str, Sequence[str]] = 'lsp_14',
                 regressor_convention: Union[str, Sequence[str]] = 'h36m_17',
                 pelvis_joint: str = 'pelvis_extra',
                 gt_keypoint_convention: Optional[str] = None,
                 num_betas: int = 10,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, collect_dir=collect_dir, prefix=prefix)
        if gt_source not in GT_SOURCES:
            raise ValueError(f'HMRMetric: gt_source must be one of {GT_SOURCES}, got '
                             f'{gt_source!r}.')
        if gt_source == 'smpl' and body_model_dir is None:
            raise ValueError("HMRMetric: gt_source='smpl' (3DPW protocol) needs body_model_dir, "
                             'the folder with SMPL_{NEUTRAL,MALE,FEMALE}.pkl.')
        if isinstance(body_model_dir, (str, os.PathLike)) and not osp.exists(body_model_dir):
            raise FileNotFoundError(
                f'HMRMetric: body_model_dir {os.fspath(body_model_dir)} does not exist; point it '
                'at the folder with SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz} (or write the '
                'licence-free stand-in with tools/make_standin_smpl.py).')
        self.gt_source = gt_source
        self.body_model_dir = body_model_dir
        self.num_betas = num_betas
        self.gt_keypoint_convention = gt_keypoint_convention
        self.outfile_prefix = outfile_prefix

        self.regressor_names = _joint_names(regressor_convention, 'regressor_convention')
        self.joint_names = _joint_names(joint_set, 'joint_set')
        self.pelvis_joint = pelvis_joint
        self._joint_index = torch.as_tensor(_gather_index(
            self.regressor_names, self.joint_names, 'the regressor convention',
            'pick a joint_set whose joints the regressor provides.'))
        self._pelvis_index = int(_gather_index(
            self.regressor_names, [pelvis_joint], 'the regressor convention',
            'set pelvis_joint to one of its joints.')[0])
        self.regressor = torch.from_numpy(
            load_joint_regressor(joint_regressor, num_joints=len(self.regressor_names)))
        # Ground-truth body models, each loaded on first use: 3DPW needs male and female only.
        self._gt_body_model = None if body_model_dir is None else GenderedSMPL(
            body_model_dir, num_betas=num_betas, lazy=True)
        self._gt_index_cache: Dict[str, Tuple[Tensor, int]] = {}

    # ------------------------------------------------------------------ helpers
    def _gt_keypoint_index(self) -> Tuple[Tensor, int]:
        """Indices of ``joint_set`` and of the pelvis in the ground-truth ``keypoints3d``."""
        convention = self.gt_keypoint_convention or (self.dataset_meta or {}).get(
            'keypoint_convention')
        if convention is None:
            raise ValueError(
                "HMRMetric: gt_source='keypoints3d' needs the convention of keypoints3d: set "
                "gt_keypoint_convention, or give the dataset a 'keypoint_convention' in its "
                'metainfo (HumanDataDataset does).')
        if convention not in self._gt_index_cache:
            names = get_keypoint_names(convention)
            hint = ("evaluate with a dataset keypoint_convention that has them (e.g. "
                    "'h36m_17' or 'human_data') or change joint_set / pelvis_joint.")
            what = f"ground-truth keypoint convention '{convention}'"
            joint_index = torch.as_tensor(_gather_index(names, self.joint_names, what, hint))
            pelvis_index = int(_gather_index(names, [self.pelvis_joint], what, hint)[0])
            self._gt_index_cache[convention] = (joint_index, pelvis_index)
        return self._gt_index_cache[convention]

    @staticmethod
    def _describe(sample: Mapping[str, Any], index: int) -> str:
        return f"data sample {index} (img_path={sample.get('img_path', '?')!r})"

    def _has(self, sample: Mapping[str, Any], flag: str, keys: Sequence[str],
             index: int) -> bool:
        """Availability of a kind of ground truth: the ``has_*`` flag, else the keys' presence."""
        value = sample.get(flag)
        if value is None:
            return all(k in sample for k in keys)
        if float(value) <= 0:
            return False
        missing = [k for k in keys if k not in sample]
        if missing:
            raise KeyError(f'HMRMetric: {self._describe(sample, index)} has {flag}=1 but no '
                           f'{missing}; keep these fields in PackHMRInputs(keys=...).')
        return True

    def _gender(self, sample: Mapping[str, Any], index: int) -> str:
        raw = sample.get('gender', 'neutral')
        gender = GENDER_ALIASES.get(str(raw).strip().lower())
        if gender is None:
            raise ValueError(f'HMRMetric: {self._describe(sample, index)} has gender {raw!r}; '
                             f'expected one of {sorted(GENDER_ALIASES)}.')
        return gender

    def _gt_vertices(self, samples: Sequence[Mapping[str, Any]], rows: List[int],
                     genders: List[str], device: torch.device) -> Tensor:
        """``(len(rows), V, 3)`` float64 ground-truth meshes, one SMPL forward per gender."""
        params = {
            key: torch.stack([
                torch.as_tensor(samples[row][key]).to(device, torch.float32) for row in rows
            ]).reshape(len(rows), -1)
            for key in _SMPL_GT_KEYS}
        assert self._gt_body_model is not None  # gt_source='smpl' requires body_model_dir
        return self._gt_body_model(
            betas=params['smpl_betas'], body_pose=params['smpl_body_pose'],
            global_orient=params['smpl_global_orient'], genders=genders)['vertices'].double()

    # ------------------------------------------------------------------ process
    @torch.no_grad()
    def process(self, data_batch: Any, data_samples: Sequence[Mapping[str, Any]]) -> None:
        """Evaluate one batch; append one result dict per sample.

        Args:
            data_batch (Any): Unused (the data samples carry the ground truth).
            data_samples (Sequence[dict]): Data samples as dicts (mmengine's
                ``Evaluator`` converts them), each with ``pred_vertices``
                ``(V, 3)`` metres (body frame), optionally ``pred_cam_full``
                ``(3,)``, and the ground truth of the protocol.
        """
        if len(data_samples) == 0:
            return
        for i, sample in enumerate(data_samples):
            if 'pred_vertices' not in sample:
                raise KeyError(f'HMRMetric: {self._describe(sample, i)} has no pred_vertices; '
                               "the model's predict() must add them (MultiRoIHMR does).")
        pred_vertices = torch.stack([torch.as_tensor(s['pred_vertices']) for s in data_samples])
        num_vertices = self.regressor.shape[1]
        if pred_vertices.shape[1:] != (num_vertices, 3):
            raise ValueError(f'HMRMetric: pred_vertices must be ({num_vertices}, 3) per sample '
                             f'(the regressor has {num_vertices} columns), got '
                             f'{tuple(pred_vertices.shape[1:])}.')
        device = pred_vertices.device
        pred_vertices = pred_vertices.double()
        regressor = self.regressor.to(device)
        joint_index = self._joint_index.to(device)
        pred_all = torch.einsum('jv,bvc->bjc', regressor, pred_vertices)
        pred_pelvis = pred_all[:, self._pelvis_index]
        pred_joints = pred_all[:, joint_index] - pred_pelvis[:, None]

        records: List[Dict[str, Any]] = []
        for sample in data_samples:
            records.append(dict(
                sample_idx=int(sample.get('sample_idx', -1)),
                img_path=str(sample.get('img_path', '')),
                dataset_name=str(sample.get('dataset_name', '')),
                gender=str(sample.get('gender', 'neutral'))))

        # Ground-truth meshes where the protocol or the extra metrics need them.
        mesh_rows: List[int] = []
        if self.body_model_dir is not None:
            mesh_rows = [i for i, s in enumerate(data_samples)
                         if self._has(s, 'has_smpl', _SMPL_GT_KEYS, i)]
        gt_pelvis_mesh: Dict[int, Tensor] = {}
        num_joints = len(self.joint_names)
        gt_joints = pred_joints.new_zeros(pred_joints.shape)
        visible = torch.zeros(len(data_samples), num_joints, dtype=torch.bool, device=device)
        has_gt = [False] * len(data_samples)
        if mesh_rows:
            genders = [self._gender(data_samples[i], i) for i in mesh_rows]
            gt_vertices = self._gt_vertices(data_samples, mesh_rows, genders, device)
            gt_all = torch.einsum('jv,bvc->bjc', regressor, gt_vertices)
            gt_pelvis = gt_all[:, self._pelvis_index]
            rows = torch.as_tensor(mesh_rows, device=device)
            pve = ((pred_vertices[rows] - pred_pelvis[rows, None])
                   - (gt_vertices - gt_pelvis[:, None])).norm(dim=-1).mean(dim=-1)
            for k, i in enumerate(mesh_rows):
                gt_pelvis_mesh[i] = gt_pelvis[k]
                records[i]['pve'] = float(pve[k]) * METRES_TO_MM
            if self.gt_source == 'smpl':
                gt_joints[rows] = gt_all[:, joint_index] - gt_pelvis[:, None]
                visible[rows] = True
                for i in mesh_rows:
                    has_gt[i] = True
        if self.gt_source == 'smpl':
            for i in set(range(len(data_samples))) - set(mesh_rows):
                records[i]['skipped'] = 'no SMPL ground truth (has_smpl=0)'
        else:
            self._keypoints3d_gt(data_samples, gt_joints, visible, has_gt, records)

        self._transl_errors(data_samples, pred_pelvis, gt_pelvis_mesh, records)
        self._log_scale_errors(data_samples, records)
        self._joint_errors(pred_joints, gt_joints, visible, has_gt, records)
        self.results.extend(records)

    def _keypoints3d_gt(self, data_samples: Sequence[Mapping[str, Any]], gt_joints: Tensor,
                        visible: Tensor, has_gt: List[bool],
                        records: List[Dict[str, Any]]) -> None:
        """Fill the pelvis-centred ground truth from ``keypoints3d`` (in place)."""
        joint_index, pelvis_index = self._gt_keypoint_index()
        device = gt_joints.device
        joint_index = joint_index.to(device)
        for i, sample in enumerate(data_samples):
            if not self._has(sample, 'has_keypoints3d', ('keypoints3d', ), i):
                records[i]['skipped'] = 'no keypoints3d'
                continue
            keypoints = torch.as_tensor(sample['keypoints3d']).to(device, torch.float64)
            if keypoints.ndim != 2 or keypoints.shape[-1] != 4:
                raise ValueError(f'HMRMetric: {self._describe(sample, i)} has keypoints3d of '
                                 f'shape {tuple(keypoints.shape)}; expected (K, 4) '
                                 '(x, y, z, confidence).')
            if keypoints[pelvis_index, 3] <= 0:
                records[i]['skipped'] = f'ground-truth {self.pelvis_joint} not visible'
                continue
            gt_joints[i] = keypoints[joint_index, :3] - keypoints[pelvis_index, :3]
            visible[i] = keypoints[joint_index, 3] > 0
            has_gt[i] = True

    def _transl_errors(self, data_samples: Sequence[Mapping[str, Any]], pred_pelvis: Tensor,
                       gt_pelvis_mesh: Dict[int, Tensor],
                       records: List[Dict[str, Any]]) -> None:
        for i, sample in enumerate(data_samples):
            if i not in gt_pelvis_mesh or 'pred_cam_full' not in sample or not self._has(
                    sample, 'has_transl', ('smpl_transl', ), i):
                continue
            device = pred_pelvis.device
            gt = gt_pelvis_mesh[i] + torch.as_tensor(sample['smpl_transl']).to(
                device, torch.float64).reshape(3)
            # pred_cam_full_<name>: the model's extra test cameras (test_cfg extra_cameras).
            for key in sample.keys():
                if key == 'pred_cam_full' or key.startswith('pred_cam_full_'):
                    pred = pred_pelvis[i] + torch.as_tensor(sample[key]).to(
                        device, torch.float64).reshape(3)
                    records[i][key.replace('pred_cam_full', 'transl_error', 1)] = float(
                        (pred - gt).norm()) * METRES_TO_MM

    def _log_scale_errors(self, data_samples: Sequence[Mapping[str, Any]],
                          records: List[Dict[str, Any]]) -> None:
        """Per-RoI ``log s_pred - log s_gt`` (``None`` where ``s_pred <= 0``), in place."""
        for i, sample in enumerate(data_samples):
            if any(k not in sample for k in _CROP_CAMERA_KEYS) or not self._has(
                    sample, 'has_transl', ('smpl_transl', ), i):
                continue
            transl = torch.as_tensor(sample['smpl_transl']).to(torch.float64).reshape(3)
            if not transl[2] > 0:
                continue  # no crop scale for a body at or behind the camera
            pred = torch.as_tensor(sample['pred_cam_crop']).to(torch.float64).reshape(-1, 3)
            centers = torch.as_tensor(sample['roi_centers']).to(torch.float64).reshape(-1, 2)
            sizes = torch.as_tensor(sample['roi_sizes']).to(torch.float64).reshape(-1)
            if not len(pred) == len(centers) == len(sizes):
                raise ValueError(
                    f'HMRMetric: {self._describe(sample, i)} has {len(pred)} crop cameras '
                    f'(pred_cam_crop) for {len(centers)} RoI centres and {len(sizes)} RoI '
                    'sizes; the model must predict one crop camera per RoI.')
            num_rois = len(sizes)
            focal = torch.as_tensor(sample['focal_length']).to(torch.float64).reshape(-1)[:1]
            principal = torch.as_tensor(sample['principal_point']).to(torch.float64).reshape(2)
            gt = cam_full_to_crop(transl.expand(num_rois, 3), centers, sizes,
                                  focal.expand(num_rois), principal.expand(num_rois, 2))
            pred_s, gt_s = pred[:, 0], gt[:, 0]
            error = torch.where(pred_s > 0, pred_s.clamp_min(1e-300).log() - gt_s.log(),
                                torch.nan)
            records[i]['log_s_error'] = [None if math.isnan(e) else e for e in error.tolist()]

    def _joint_errors(self, pred_joints: Tensor, gt_joints: Tensor, visible: Tensor,
                      has_gt: List[bool], records: List[Dict[str, Any]]) -> None:
        """MPJPE and PA-MPJPE (and per-joint errors) of the samples with ground truth."""
        counts = visible.sum(dim=-1)
        errors = (pred_joints - gt_joints).norm(dim=-1)
        pa_errors = torch.full_like(errors, float('nan'))
        full = [i for i, ok in enumerate(has_gt) if ok and bool(visible[i].all())]
        if full:
            rows = torch.as_tensor(full, device=pred_joints.device)
            aligned = similarity_procrustes(pred_joints[rows], gt_joints[rows])
            pa_errors[rows] = (aligned - gt_joints[rows]).norm(dim=-1)
        for i, ok in enumerate(has_gt):
            if not ok:
                records[i].setdefault('skipped', 'no ground-truth joints')
                continue
            if int(counts[i]) < MIN_VISIBLE_JOINTS:
                records[i]['skipped'] = f'fewer than {MIN_VISIBLE_JOINTS} visible joints'
                continue
            vis = visible[i]
            if i not in full:
                # Partly visible: Procrustes on this sample's visible joints only.
                aligned = similarity_procrustes(pred_joints[i, vis], gt_joints[i, vis])
                pa_errors[i, vis] = (aligned - gt_joints[i, vis]).norm(dim=-1)
            joint_mm = torch.where(vis, errors[i] * METRES_TO_MM, torch.nan).tolist()
            pa_joint_mm = torch.where(vis, pa_errors[i] * METRES_TO_MM, torch.nan).tolist()
            records[i].update(
                mpjpe=float(errors[i, vis].mean()) * METRES_TO_MM,
                pa_mpjpe=float(pa_errors[i, vis].mean()) * METRES_TO_MM,
                joint_errors=[None if np.isnan(e) else e for e in joint_mm],
                pa_joint_errors=[None if np.isnan(e) else e for e in pa_joint_mm])

    # ------------------------------------------------------------ aggregation
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Mean of each error over the samples that have it, in mm.

        Args:
            results (list[dict]): Every sample's result (gathered from all ranks).

        Returns:
            dict[str, float]: ``mpjpe``, ``pa_mpjpe`` and, where available,
            ``pve``, ``transl_error`` (and ``transl_error_<name>`` for each extra test
            camera ``pred_cam_full_<name>``) and each RoI's ``log_s_bias_roi{k}`` and
            ``log_s_std_roi{k}``.

        Raises:
            ValueError: no sample had the ground truth of the protocol.
        """
        logger = MMLogger.get_current_instance()
        skipped = Counter(r['skipped'] for r in results if 'skipped' in r)
        if skipped:
            logger.warning(f'HMRMetric: {sum(skipped.values())} of {len(results)} samples have '
                           f'no joint errors: {dict(skipped)}.')
        metrics = {}
        extra = sorted({k for r in results for k in r if k.startswith('transl_error_')})
        for key in METRIC_KEYS + tuple(extra):
            values = [r[key] for r in results if key in r]
            if values:
                metrics[key] = float(np.mean(values))
        metrics.update(self._log_scale_statistics(results, logger))
        if 'mpjpe' not in metrics:
            raise ValueError(
                f"HMRMetric: none of the {len(results)} samples has the ground truth of "
                f"gt_source='{self.gt_source}' ({dict(skipped)}); use 'smpl' for data with SMPL "
                "parameters (3DPW) and 'keypoints3d' for data with 3D joints (H36M).")
        if self.outfile_prefix is not None:
            path = f'{self.outfile_prefix}.per_sample.json'
            if osp.dirname(path):
                os.makedirs(osp.dirname(path), exist_ok=True)
            dump(dict(units='mm', gt_source=self.gt_source, joint_names=self.joint_names,
                      metrics=metrics, samples=results), path, indent=1)
            logger.info(f'HMRMetric: per-sample errors written to {osp.abspath(path)}')
        return metrics

    @staticmethod
    def _log_scale_statistics(results: List[dict], logger: MMLogger) -> Dict[str, float]:
        """Bias (mean) and spread (std) of each RoI's ``log s`` error over the samples."""
        errors = [r['log_s_error'] for r in results if 'log_s_error' in r]
        metrics: Dict[str, float] = {}
        if not errors:
            return metrics
        num_rois = max(len(e) for e in errors)
        non_positive = 0
        for k in range(num_rois):
            values = [e[k] for e in errors if len(e) > k and e[k] is not None]
            non_positive += sum(1 for e in errors if len(e) > k and e[k] is None)
            if values:
                metrics[LOG_S_BIAS_KEY.format(k)] = float(np.mean(values))
                metrics[LOG_S_STD_KEY.format(k)] = float(np.std(values))
        if non_positive:
            logger.warning(f'HMRMetric: {non_positive} predicted crop scales s <= 0 have no '
                           'logarithm and are left out of the log s statistics.')
        return metrics
