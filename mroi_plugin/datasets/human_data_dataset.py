"""``HumanDataDataset``: MMHuman3D HumanData ``.npz`` files as mmengine datasets."""
import copy
import logging
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from mroi_plugin.body_models.keypoint_conventions import convert_keypoints, get_keypoint_num
from mroi_plugin.geometry import default_intrinsics
from mroi_plugin.registry import DATASETS

from .human_data import BadSampleError, HumanDataError, HumanDataFile
from .root_joint import compute_root_joints
from .sample_seed import SampleIndex, seeded_random_state
from .transforms.get_bbox_center_scale import check_removed_box_args

__all__ = ['HumanDataDataset']

#: Boxes with a side at or below this many pixels cannot be cropped sensibly.
MIN_BBOX_SIDE_PX = 1.0
#: Source convention of MMHuman3D keypoints unless the file says otherwise.
HUMAN_DATA_CONVENTION = 'human_data'
ON_BAD_SAMPLE_POLICIES = ('raise', 'skip')
#: Skipped samples logged one by one; later ones are counted at 10, 100, ...
LOGGED_BAD_SAMPLES = 5
#: HumanData extension (mroi): (N, 3) rest-pose root joints J0(betas), body frame, metres.
ROOT_JOINT_KEY = 'smpl_root_joint'
# Transforms that move the posed body and therefore need the root joint to move transl.
_BODY_MOVING_TRANSFORMS = ('RandomFlipHMR', 'RandomScaleRotation')

_SMPL_BODY_JOINTS = 23
_SMPL_NUM_BETAS = 10
_GENDERS = {
    'm': 'male', 'male': 'male', 'f': 'female', 'female': 'female',
    'n': 'neutral', 'neutral': 'neutral'
}


@DATASETS.register_module()
class HumanDataDataset(BaseDataset):
    """One person instance per sample from an MMHuman3D HumanData file.

    Reads the preprocessed files MMHuman3D distributes (``h36m_train.npz``,
    ``coco_2014_train.npz``, ``pw3d_train.npz``, ...; layout in
    :mod:`mroi_plugin.datasets.human_data`) and returns, per index, the
    ``results`` dict of docs/CONVENTIONS.md ("Data pipeline"):

    - ``img_path`` (str): ``data_prefix['img']`` joined with the file's
      ``image_path``.
    - ``bbox_xyxy`` (np.ndarray): (4,) float64 px, the annotated person box
      ``x1, y1, x2, y2`` (the file's ``bbox_xywh``; float64 because ``x + w`` of
      the file's float32 numbers is exact there). The dataset does not know the
      crop: the pipeline's :class:`~mroi_plugin.datasets.transforms.
      GetBBoxCenterScale` (padding) and crop step (``crop_size``, hence the
      aspect) turn it into the RoI.
    - ``focal_length`` (float | None), ``principal_point`` ((2,) float32 |
      None): px, from the file's per-sample ``cam_param`` (``(fx, fy)`` is
      averaged to one focal length). Where the file has no camera, CLIFF's
      estimate ``sqrt(W^2 + H^2)`` and ``(W / 2, H / 2)`` are used: from the
      file's per-sample ``image_size`` ``[W, H]`` if stored (mroi's synthetic
      data), else they stay None here and :class:`~mroi_plugin.datasets.
      transforms.LoadImage` fills them once the image is read (MMHuman3D
      files store no image size).
    - ``keypoints2d`` (K, 3) / ``keypoints3d`` (K, 4) float32 in
      ``keypoint_convention``, converted by joint name; the file's keypoint mask
      multiplies the confidence, and non-finite joints get confidence 0.
      ``keypoints3d`` are passed on as stored (camera frame, metres).
    - ``smpl_global_orient`` (3,), ``smpl_body_pose`` (23, 3) axis-angle,
      ``smpl_betas`` (10,), ``smpl_transl`` (3,) float32; zeros when absent.
    - ``smpl_root_joint`` (3,) float32: the rest-pose root joint ``J0(betas)``
      (body frame, metres) about which SMPL turns the body, so that flip and
      rotation augmentation move ``smpl_transl`` with the body
      (``rigid_move_about_root``). Taken from the file's ``smpl_root_joint``
      (the synthetic data stores it), else computed once at open from the
      betas with the sample's gendered model in ``body_model_dir``; zeros for
      samples without SMPL. Absent when neither exists: the augmentation then
      moves the translation about the camera origin, which misses the body by
      ``(R - I) J0`` (about 10 cm at 25 deg), and a warning says so if the
      pipeline flips or rotates.
    - ``has_keypoints2d`` / ``has_keypoints3d`` (any confidence > 0),
      ``has_smpl`` (SMPL present, finite and not flagged off by the file's
      ``has_smpl``), ``has_transl`` (and ``transl`` present and finite):
      float 0/1.
    - ``gender`` (str): ``'male' | 'female' | 'neutral'`` from ``meta.gender``
      (``'m'``/``'f'`` as MMHuman3D stores it), ``'neutral'`` by default.
    - ``sample_idx`` (int): index in this dataset; ``dataset_name`` (str).

    Storage is lazy (see :class:`~mroi_plugin.datasets.human_data.
    HumanDataFile`): per-key arrays are memory-mapped, no per-sample dict is
    ever built ahead of time, and ``__getstate__`` of the reader sends only
    paths, so DataLoader workers share one copy through the page cache.

    Bad samples: a degenerate box (non-finite, or a side <= 1 px), a box
    entirely outside the file's ``image_size`` (where stored; counted when the
    file is opened), or an image that is unreadable or does not hold the
    sample's box or keypoints (:class:`~mroi_plugin.datasets.transforms.
    LoadImage` raises a :class:`~mroi_plugin.datasets.human_data.
    BadSampleError`) either raises (``on_bad_sample='raise'``, the default)
    or, with ``'skip'``, is counted (:attr:`num_skipped`, shared across
    DataLoader workers) and replaced by a random other sample, like mmengine's
    ``_rand_another``. The first ``LOGGED_BAD_SAMPLES`` skipped samples are
    logged with their reason, then the count at 10, 100, 1000, ... samples.
    In ``test_mode`` bad samples always raise: replacing them would bias the
    evaluation. A pipeline that returns None asks for
    another sample in training, as in mmengine (not counted as skipped).

    Args:
        ann_file (str): The HumanData ``.npz``, relative to ``data_root``.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
        data_prefix (dict, optional): ``dict(img=...)``, image root (relative
            to ``data_root``) to which ``image_path`` is relative. Defaults to
            ``dict(img='')``.
        pipeline (Sequence[dict | Callable]): Transforms.
        test_mode (bool): Evaluation mode.
        metainfo (dict, optional): Extra meta information.
        dataset_name (str, optional): Name in the results; defaults to the
            file's ``config`` entry, else the file's stem.
        keypoint_convention (str): Training convention of the keypoints.
        approximate_keypoints (bool): Let near-equivalent joints stand in for
            each other in the conversion (e.g. COCO's ``left_hip_extra`` for
            SMPL's ``left_hip``); see ``convert_keypoints``.
        bbox_scale_factor: Removed; raises a ``ValueError`` that says where the
            padding went (``GetBBoxCenterScale(padding)`` in the pipeline).
        crop_aspect: Removed; raises likewise (the crop step's ``crop_size``).
        on_bad_sample (str): ``'raise'`` or ``'skip'``.
        cache_dir (str, optional): Where the reader extracts the arrays once;
            see :class:`HumanDataFile`.
        use_mmap (bool): Memory-map the arrays (default); False loads them.
        indices (int | Sequence[int], optional): Use a subset (first ``n`` /
            given indices), as in mmengine's ``BaseDataset``.
        lazy_init (bool): Defer opening the file to ``full_init``.
        max_refetch (int): Attempts to find a valid sample before giving up.
        body_model_dir (str | dict, optional): Directory with
            ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``, or ``{gender: file}``,
            used to compute ``smpl_root_joint`` from the betas when the file
            does not store it. Defaults to None.
    """

    METAINFO: dict = dict()

    # Set by mmengine's BaseDataset (False) and by full_init.
    _fully_initialized: bool

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 dataset_name: Optional[str] = None,
                 keypoint_convention: str = 'smpl_24',
                 approximate_keypoints: bool = False,
                 bbox_scale_factor: Optional[float] = None,
                 crop_aspect: Optional[float] = None,
                 on_bad_sample: str = 'raise',
                 cache_dir: Optional[str] = None,
                 use_mmap: bool = True,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 body_model_dir: Optional[Union[str, Dict[str, str]]] = None) -> None:
        data_prefix = dict(img='') if data_prefix is None else data_prefix
        if not ann_file:
            raise ValueError('HumanDataDataset: `ann_file` (a HumanData .npz) is required.')
        if set(data_prefix) != {'img'}:
            raise ValueError(f'HumanDataDataset: data_prefix must be dict(img=...), got '
                             f'{data_prefix}.')
        if on_bad_sample not in ON_BAD_SAMPLE_POLICIES:
            raise ValueError(f'HumanDataDataset: on_bad_sample must be one of '
                             f'{ON_BAD_SAMPLE_POLICIES}, got {on_bad_sample!r}.')
        check_removed_box_args(
            type(self).__name__, "add dict(type='GetBBoxCenterScale') to its pipeline if it is "
            'not there.', crop_aspect, bbox_scale_factor)
        self.num_keypoints = get_keypoint_num(keypoint_convention)  # fails on unknown names
        self.keypoint_convention = keypoint_convention
        self.approximate_keypoints = approximate_keypoints
        self.on_bad_sample = on_bad_sample
        self.cache_dir = cache_dir
        self.use_mmap = use_mmap
        self._dataset_name = dataset_name
        self._human_data: Optional[HumanDataFile] = None
        self._index_map: Optional[np.ndarray] = None
        self._skip_counts: Optional[torch.Tensor] = None
        self._warned_genders: set = set()
        self.body_model_dir = body_model_dir
        self._root_joints: Optional[np.ndarray] = None
        # Outside a Runner no default scope is set and mmengine's Compose would
        # look transforms up in its root registry only; build them in mroi's.
        scope = None if DefaultScope.get_current_instance() is not None else 'mroi'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(
                ann_file=ann_file,
                metainfo=metainfo,
                data_root=data_root,
                data_prefix=copy.copy(data_prefix),
                filter_cfg=None,
                indices=indices,
                serialize_data=False,
                pipeline=list(pipeline),
                test_mode=test_mode,
                lazy_init=lazy_init,
                max_refetch=max_refetch)
        # Set after mmengine's _load_metainfo, which reads str values as file names.
        self._metainfo.setdefault('keypoint_convention', keypoint_convention)
        self._metainfo.setdefault('num_keypoints', self.num_keypoints)

    # ------------------------------------------------------------ initialising
    def full_init(self) -> None:
        """Open (and on first use extract) the HumanData file.

        Replaces mmengine's ``load_data_list`` + ``serialize_data``: per-key
        arrays stay in the reader and samples are assembled in
        :meth:`get_data_info`.
        """
        if self._fully_initialized:
            return
        self._human_data = self._open_file()
        if self._dataset_name is None:
            config = self._opened.scalars.get('config')
            stem = osp.splitext(osp.basename(self.ann_file))[0]
            self._dataset_name = config if isinstance(config, str) and config else stem
        self._index_map = None
        if self._indices is not None:
            self._index_map = self._resolve_indices(self._indices, len(self._opened))
        self._check_keypoint_conventions()
        self._root_joints = self._load_root_joints()
        self._fully_initialized = True
        self._reset_skip_counts()
        self._report_degenerate_boxes()

    def _open_file(self) -> HumanDataFile:
        """The reader of ``ann_file``; subclasses read other layouts through it."""
        return HumanDataFile(self.ann_file, cache_dir=self.cache_dir, mmap=self.use_mmap)

    def load_data_list(self) -> List[dict]:
        """Not used: samples are built on demand from per-key arrays.

        A list of per-sample dicts for a 300k-sample file would take seconds
        to build and be copied by every worker; :meth:`full_init` opens the
        file instead. Returns an empty list so that ``data_list`` stays empty.
        """
        return []

    @staticmethod
    def _resolve_indices(indices: Union[int, Sequence[int]], length: int) -> np.ndarray:
        if isinstance(indices, int):
            return np.arange(length)[:indices] if indices >= 0 else np.arange(length)[indices:]
        resolved = np.asarray(indices, dtype=np.int64).reshape(-1)
        if resolved.size and (resolved.max() >= length or resolved.min() < -length):
            raise IndexError(f'HumanDataDataset: indices out of range for {length} samples.')
        return np.where(resolved < 0, resolved + length, resolved)

    def _reset_skip_counts(self) -> None:
        # In shared memory so that the counts of DataLoader workers are seen by
        # the main process (forked or spawned: torch shares the storage).
        self._skip_counts = torch.zeros(len(self), dtype=torch.int32).share_memory_()

    def _check_keypoint_conventions(self) -> None:
        """Fail at open, not mid-run, when stored keypoints cannot be converted."""
        hd = self._opened
        for key in ('keypoints2d', 'keypoints3d'):
            if key not in hd:
                continue
            src = hd.scalars.get(f'{key}_convention', HUMAN_DATA_CONVENTION)
            try:
                num = get_keypoint_num(src)
            except (KeyError, ValueError) as error:
                raise HumanDataError(
                    f'HumanData file {self.ann_file!r}, key {key + "_convention"!r}: unknown '
                    f'keypoint convention {src!r} ({error}).') from error
            if hd.keypoint_mask(key).shape[0] != num:
                raise HumanDataError(
                    f'HumanData file {self.ann_file!r}, key {key + "_mask"!r}: has '
                    f'{hd.keypoint_mask(key).shape[0]} joints but convention {src!r} has {num}.')

    def _report_degenerate_boxes(self) -> None:
        bbox = np.asarray(self._opened.array('bbox_xywh')[:, :4], dtype=np.float64)
        valid = _valid_boxes(bbox)
        bad = np.flatnonzero(~valid)
        outcome = ("raise (on_bad_sample='raise')" if self.on_bad_sample == 'raise' else
                   'are skipped')
        if bad.size:
            print_log(f'{self.ann_file}: {bad.size} of {len(bbox)} boxes in bbox_xywh are '
                      f'degenerate (first at indices {bad[:5].tolist()}); those samples '
                      f'{outcome} when drawn.', logger='current', level=logging.WARNING)
        if 'image_size' in self._opened:
            size = np.asarray(self._opened.array('image_size'), dtype=np.float64)
            outside = np.flatnonzero(valid & _boxes_outside(bbox, size))
            if outside.size:
                print_log(f'{self.ann_file}: {outside.size} of {len(bbox)} boxes in bbox_xywh '
                          f'lie entirely outside their image_size (first at indices '
                          f'{outside[:5].tolist()}); those samples {outcome} when drawn.',
                          logger='current', level=logging.WARNING)

    # --------------------------------------------------------------- indexing
    @property
    def _opened(self) -> HumanDataFile:
        """The reader :meth:`full_init` opened."""
        assert self._human_data is not None, 'full_init() opens the file'
        return self._human_data

    @property
    def human_data(self) -> HumanDataFile:
        """The underlying :class:`HumanDataFile` (opens it if needed)."""
        if not self._fully_initialized:
            self.full_init()
        return self._opened

    @property
    def dataset_name(self) -> str:
        """Name written into every sample's ``dataset_name``."""
        if not self._fully_initialized:
            self.full_init()
        assert self._dataset_name is not None  # full_init names it
        return self._dataset_name

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        if self._index_map is not None:
            return len(self._index_map)
        return len(self._opened)

    def _file_index(self, idx: int) -> int:
        length = len(self)
        if not -length <= idx < length:
            raise IndexError(f'HumanDataDataset: index {idx} out of range for {length} samples '
                             f'({self.ann_file}).')
        idx = idx % length
        return int(self._index_map[idx]) if self._index_map is not None else idx

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """Restrict this dataset in place to ``indices`` (see mmengine)."""
        if not self._fully_initialized:
            self.full_init()
        current = self._index_map if self._index_map is not None else np.arange(len(self))
        self._index_map = current[self._resolve_indices(indices, len(current))]
        self._reset_skip_counts()

    def get_subset(self, indices: Union[Sequence[int], int]) -> 'HumanDataDataset':
        """A subset sharing this dataset's (read-only) arrays (see mmengine)."""
        if not self._fully_initialized:
            self.full_init()
        subset = copy.copy(self)
        subset.pipeline = copy.deepcopy(self.pipeline)
        subset._warned_genders = set()
        subset.get_subset_(indices)
        return subset

    # ----------------------------------------------------------------- sample
    def get_data_info(self, idx: int) -> dict:
        """The ``results`` dict of sample ``idx`` (before the pipeline).

        Raises:
            BadSampleError: the sample's box is degenerate; the message names
                the file, the key and the index.
        """
        if not self._fully_initialized:
            self.full_init()
        index = self._file_index(idx)
        hd = self._opened
        focal, principal = hd.camera(index)
        if (focal is None or principal is None) and 'image_size' in hd:
            width, height = hd.get('image_size', index).astype(np.float64)
            focal, principal = default_intrinsics(width, height, focal, principal)
        keypoints2d = self._keypoints('keypoints2d', index)
        keypoints3d = self._keypoints('keypoints3d', index)
        smpl, has_smpl, has_transl = self._smpl(index)
        if self._root_joints is not None:
            smpl['smpl_root_joint'] = (self._root_joints[index] if has_smpl else
                                       np.zeros(3, dtype=np.float32))
        return dict(
            img_path=osp.join(self.data_prefix['img'], str(hd.get('image_path', index))),
            **self._bbox(index),
            focal_length=None if focal is None else float(np.mean(focal)),
            principal_point=None if principal is None else principal.astype(np.float32),
            keypoints2d=keypoints2d,
            keypoints3d=keypoints3d,
            **smpl,
            has_keypoints2d=float((keypoints2d[:, -1] > 0).any()),
            has_keypoints3d=float((keypoints3d[:, -1] > 0).any()),
            has_smpl=has_smpl,
            has_transl=has_transl,
            gender=self._gender(index),
            sample_idx=idx if idx >= 0 else idx + len(self),
            dataset_name=self.dataset_name)

    def _bbox(self, index: int) -> Dict[str, Any]:
        """The box keys of sample ``index``: ``bbox_xyxy``."""
        x, y, w, h = np.asarray(self._opened.get('bbox_xywh', index)[:4], np.float64).tolist()
        if not _valid_boxes(np.array([[x, y, w, h]]))[0]:
            raise BadSampleError(
                f'HumanData file {self.ann_file!r}, key \'bbox_xywh\', index {index}: degenerate '
                f'box [x, y, w, h] = {[x, y, w, h]}; boxes need finite values and w, h > '
                f'{MIN_BBOX_SIDE_PX} px. Fix or drop the sample, or set on_bad_sample=\'skip\'.')
        if 'image_size' in self._opened:
            image_size = np.asarray(self._opened.get('image_size', index), np.float64)
            if _boxes_outside(np.array([[x, y, w, h]]), image_size[None])[0]:
                width, height = image_size.tolist()
                raise BadSampleError(
                    f'HumanData file {self.ann_file!r}, key \'bbox_xywh\', index {index}: box '
                    f'[x, y, w, h] = {[x, y, w, h]} lies entirely outside its image_size '
                    f'{width:g}x{height:g} px. Fix or drop the sample, or set '
                    'on_bad_sample=\'skip\'.')
        return dict(bbox_xyxy=np.array([x, y, x + w, y + h]))

    def _keypoints(self, key: str, index: int) -> np.ndarray:
        hd = self._opened
        dim = 3 if key == 'keypoints2d' else 4
        if key not in hd:
            return np.zeros((self.num_keypoints, dim), dtype=np.float32)
        full = hd.keypoints(key, index)
        mask = hd.keypoint_mask(key)
        # A NaN joint must not reach a loss: it becomes an unlabelled joint.
        finite = np.isfinite(full).all(axis=-1)
        full = np.where(finite[:, None], full, 0).astype(np.float32)
        src = hd.scalars.get(f'{key}_convention', HUMAN_DATA_CONVENTION)
        converted, converted_mask = convert_keypoints(
            full, src, self.keypoint_convention, mask=mask * finite,
            approximate=self.approximate_keypoints)
        converted[:, -1] *= converted_mask
        return converted.astype(np.float32)

    def _smpl(self, index: int) -> Tuple[Dict[str, np.ndarray], float, float]:
        hd = self._opened
        smpl = dict(
            smpl_global_orient=np.zeros(3, dtype=np.float32),
            smpl_body_pose=np.zeros((_SMPL_BODY_JOINTS, 3), dtype=np.float32),
            smpl_betas=np.zeros(_SMPL_NUM_BETAS, dtype=np.float32),
            smpl_transl=np.zeros(3, dtype=np.float32))
        if 'smpl.global_orient' not in hd:
            return smpl, 0.0, 0.0
        values = dict(
            smpl_global_orient=hd.get('smpl.global_orient', index).reshape(3),
            smpl_body_pose=hd.get('smpl.body_pose', index).reshape(_SMPL_BODY_JOINTS, 3),
            smpl_betas=hd.get('smpl.betas', index).reshape(-1)[:_SMPL_NUM_BETAS])
        flagged = 'has_smpl' not in hd or bool(hd.get('has_smpl', index))
        has_smpl = flagged and all(np.isfinite(v).all() for v in values.values())
        if not has_smpl:
            return smpl, 0.0, 0.0
        smpl.update({k: v.astype(np.float32) for k, v in values.items()})
        has_transl = False
        if 'smpl.transl' in hd:
            transl = hd.get('smpl.transl', index).reshape(3)
            has_transl = bool(np.isfinite(transl).all())
            if has_transl:
                smpl['smpl_transl'] = transl.astype(np.float32)
        return smpl, 1.0, float(has_transl)

    def _load_root_joints(self) -> Optional[np.ndarray]:
        """``(N, 3)`` float32 ``J0(betas)`` of every file sample, or None (see the class)."""
        hd = self._opened
        if 'smpl.betas' not in hd:
            return None
        if ROOT_JOINT_KEY in hd:
            roots = np.asarray(hd.array(ROOT_JOINT_KEY))
            if roots.shape != (len(hd), 3):
                raise HumanDataError(
                    f'HumanData file {self.ann_file!r}, key {ROOT_JOINT_KEY!r}: expected shape '
                    f'({len(hd)}, 3) (the rest-pose root joint of each sample), got '
                    f'{roots.shape}. Rewrite the file, or delete the key and set '
                    'body_model_dir to compute it.')
            return np.where(np.isfinite(roots), roots, 0).astype(np.float32)
        if self.body_model_dir is not None:
            betas = np.asarray(hd.array('smpl.betas')).reshape(len(hd), -1)[:, :_SMPL_NUM_BETAS]
            if 'meta.gender' in hd:
                values, inverse = np.unique(np.asarray(hd.array('meta.gender')).astype(str),
                                            return_inverse=True)
                names = [_GENDERS.get(v.strip().lower(), 'neutral') for v in values]
                genders = np.asarray(names, dtype=str)[inverse.reshape(-1)]
            else:
                genders = np.asarray([self._gender(0)] * len(hd), dtype=str)
            return compute_root_joints(betas, genders, self.body_model_dir)
        moves_body = [type(t).__name__ for t in getattr(self.pipeline, 'transforms', [])
                      if type(t).__name__ in _BODY_MOVING_TRANSFORMS]
        if 'smpl.transl' in hd and moves_body:
            print_log(
                f'{self.ann_file}: no {ROOT_JOINT_KEY!r} in the file and no body_model_dir, so '
                f'{moves_body} move smpl_transl about the camera origin instead of the root '
                'joint; the augmented translation is approximate (off by (R - I) J0, about 10 '
                'cm at 25 deg). Set body_model_dir (the SMPL model folder) on this dataset to '
                'compute J0 from the betas.', logger='current', level=logging.WARNING)
        return None

    def _gender(self, index: int) -> str:
        hd = self._opened
        if 'meta.gender' in hd:
            value = hd.get('meta.gender', index)
        else:
            value = hd.scalars.get('meta.gender', 'neutral')
        name = str(value.item() if isinstance(value, np.ndarray) else value).strip().lower()
        if name not in _GENDERS:
            if name not in self._warned_genders:
                self._warned_genders.add(name)
                print_log(f"{self.ann_file}: unknown gender {name!r} in meta.gender (index "
                          f"{index}); using 'neutral'.", logger='current', level=logging.WARNING)
            return 'neutral'
        return _GENDERS[name]

    # ------------------------------------------------------- bad-sample policy
    @property
    def num_skipped(self) -> int:
        """How many times a bad sample was replaced (all workers together)."""
        if self._skip_counts is None:
            return 0
        return int(self._skip_counts.sum())

    @property
    def skipped_indices(self) -> List[int]:
        """Dataset indices of the samples that were skipped at least once."""
        if self._skip_counts is None:
            return []
        return torch.nonzero(self._skip_counts).flatten().tolist()

    def _record_bad_sample(self, idx: int, error: Exception) -> None:
        skip_counts = self._skip_counts
        assert skip_counts is not None  # full_init allocates it
        first_time = int(skip_counts[idx]) == 0
        skip_counts[idx] += 1
        if not first_time:
            return
        # The first few bad samples are logged with their reason; after that a
        # count at 10, 100, 1000, ... distinct samples, not one line per sample
        # (a whole folder of resized images would flood the log).
        distinct = int(torch.count_nonzero(skip_counts))
        if distinct <= LOGGED_BAD_SAMPLES:
            print_log(f'HumanDataDataset({self.dataset_name}): skipping sample {idx} '
                      f'(on_bad_sample=\'skip\'): {error}', logger='current',
                      level=logging.WARNING)
        elif distinct == 10 ** round(np.log10(distinct)):
            print_log(f'HumanDataDataset({self.dataset_name}): {distinct} of {len(self)} '
                      f'samples skipped so far ({self.num_skipped} draws replaced; '
                      f'on_bad_sample=\'skip\'); the latest: {error}', logger='current',
                      level=logging.WARNING)

    def __getitem__(self, idx: int) -> Any:
        """Sample ``idx`` after the pipeline, applying the bad-sample policy.

        A :class:`~mroi_plugin.datasets.sample_seed.SampleIndex` (from
        ``SeededSampler``) runs the pipeline with numpy/random/torch seeded by
        its ``(seed, epoch, index)``, so the sample's augmentation does not
        depend on the worker or on what was drawn before; a plain ``int`` uses
        the process's global generators.

        Returns:
            Any: What the pipeline returns for a valid sample.

        Raises:
            BadSampleError: a bad sample with ``on_bad_sample='raise'`` or in
                ``test_mode``.
            RuntimeError: no valid sample after ``max_refetch`` attempts.
        """
        if not self._fully_initialized:
            self.full_init()
        if isinstance(idx, SampleIndex):
            # SeededSampler: the augmentation (and any replacement draw) is a
            # function of (seed, epoch, index), not of the process's RNG history.
            with seeded_random_state(idx.key):
                return self._get_item(int(idx))
        return self._get_item(int(idx))

    def _get_item(self, idx: int) -> Any:
        if idx < 0:
            idx += len(self)
        for _ in range(self.max_refetch + 1):
            try:
                data = self.prepare_data(idx)
            except BadSampleError as error:
                if self.test_mode or self.on_bad_sample == 'raise':
                    raise
                self._record_bad_sample(idx, error)
                idx = self._rand_another()
                continue
            if data is None:
                if self.test_mode:
                    raise RuntimeError(f'HumanDataDataset: the test pipeline returned None for '
                                       f'sample {idx} ({self.ann_file}).')
                idx = self._rand_another()
                continue
            return data
        raise RuntimeError(
            f'HumanDataDataset: no valid sample in {self.max_refetch + 1} attempts '
            f'({self.ann_file}, {self.num_skipped} bad samples skipped so far); check the '
            'image root (data_prefix) and the boxes.')


def _valid_boxes(xywh: np.ndarray) -> np.ndarray:
    """(N,) bool: finite boxes whose width and height exceed the minimum."""
    finite = np.isfinite(xywh).all(axis=-1)
    with np.errstate(invalid='ignore'):
        return finite & (xywh[:, 2] > MIN_BBOX_SIDE_PX) & (xywh[:, 3] > MIN_BBOX_SIDE_PX)


def _boxes_outside(xywh: np.ndarray, image_wh: np.ndarray) -> np.ndarray:
    """(N,) bool: boxes ``(N, 4)`` that do not overlap their ``(N, 2)`` ``[W, H]`` image."""
    with np.errstate(invalid='ignore'):
        return ((xywh[:, 0] + xywh[:, 2] <= 0) | (xywh[:, 0] >= image_wh[:, 0])
                | (xywh[:, 1] + xywh[:, 3] <= 0) | (xywh[:, 1] >= image_wh[:, 1]))
