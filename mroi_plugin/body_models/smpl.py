"""SMPL body model: a thin ``nn.Module`` over ``smplx.SMPL`` (docs/CONVENTIONS.md, "Body model").

The model arrays are loaded by :mod:`.model_io` (real ``.pkl`` files without
chumpy, ``.npz``, or the licence-free stand-in) and handed to smplx as plain
arrays. Poses may be axis-angle or rotation matrices; the batch size is
whatever the inputs have. Besides vertices and SMPL's 24 joints the model
returns keypoints in a configured convention (by joint name, see
:mod:`.keypoint_conventions`) and the joints of any extra regressors, e.g.
H36M's 17 evaluation joints.

The body-model buffers are *non-persistent*: checkpoints of a network that owns
an ``SMPL`` never contain (licensed) SMPL data, and the model file named in the
config is always the one used.
"""
import contextlib
import io
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

import numpy as np
import smplx
import torch
from torch import Tensor, nn

from mroi_plugin.geometry import axis_angle_to_rotmat
from mroi_plugin.registry import MODELS

from .keypoint_conventions import (
    SMPL_24_KEYPOINTS,
    SMPL_VERTEX_KEYPOINTS,
    get_keypoint_conventions,
    get_keypoint_names,
    get_keypoint_num,
    get_mapping,
)
from .model_io import (
    NUM_SMPL_JOINTS,
    NUM_SMPL_VERTICES,
    SMPL_GENDERS,
    build_smpl_data_struct,
    load_joint_regressor,
    load_smpl_model_data,
)

__all__ = ['SMPL', 'GenderedSMPL', 'GENDER_ALIASES']

PathLike = Union[str, 'os.PathLike[str]']
ArrayOrTensor = Union[Tensor, np.ndarray]

NUM_BODY_JOINTS = NUM_SMPL_JOINTS - 1
RESERVED_OUTPUT_KEYS = ('vertices', 'joints', 'keypoints', 'keypoints_mask')
# Spellings of genders found in datasets (HumanData stores 'm' / 'f').
GENDER_ALIASES = {
    'neutral': 'neutral', 'n': 'neutral', 'male': 'male', 'm': 'male', 'female': 'female',
    'f': 'female'
}


def _shape_error(name: str, allowed: str, value: Tensor) -> ValueError:
    return ValueError(f'SMPL.forward: {name} must be {allowed}; got shape {tuple(value.shape)}.')


@MODELS.register_module()
class SMPL(nn.Module):
    """SMPL mesh, joints, keypoints and extra regressed joints from pose and shape.

    Args:
        model_path (str | PathLike): A ``.pkl`` (chumpy or plain) or ``.npz`` SMPL model
            file, or a directory holding ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``.
        gender (str): ``'neutral'``, ``'male'`` or ``'female'``; picks the file in a
            directory. Defaults to ``'neutral'``.
        num_betas (int): Number of shape coefficients (at most the file's). Defaults to 10.
        keypoint_convention (str): Convention of the ``keypoints`` output, e.g.
            ``'smpl_24'``, ``'h36m_17'``, ``'lsp_14'``, ``'coco_17'``. Defaults to ``'smpl_24'``.
        extra_joint_regressors (dict[str, str], optional): ``{output_name: path}`` of ``.npy``
            regressors ``(J, 6890)``, e.g. ``{'h36m_17': 'data/J_regressor_h36m.npy'}``. Each
            adds an output ``(B, J, 3)``. If ``output_name`` is a keypoint convention, ``J``
            must be its joint count and its joints also feed ``keypoints``.
        use_vertex_keypoints (bool): Also offer smplx's 21 vertex-picked keypoints (nose,
            eyes, ears, toes, heels, finger tips) to ``keypoints``. They are only meaningful on
            the real SMPL mesh topology, not on the stand-in. Defaults to False.

    ``keypoints`` are taken by joint name, first from the extra regressors (in the given
    order), then from SMPL's 24 joints, then from the vertex keypoints: with
    ``extra_joint_regressors={'h36m_17': ...}`` and ``keypoint_convention='lsp_14'`` they are
    exactly SPIN/CLIFF's 14 evaluation joints. Joints no source provides are zeros with
    ``keypoints_mask`` 0.

    Attributes:
        faces (np.ndarray): ``(F, 3)`` int64 vertex indices of the triangles.
        keypoint_names (list[str]): The ``K`` names of ``keypoint_convention``.
        keypoints_mask (Tensor): ``(K,)`` 1 where a keypoint is available, else 0.
        model_file (str): The file the model was loaded from.
    """

    # Buffers (register_buffer), declared for the type checker.
    keypoints_mask: Tensor
    _keypoint_index: Tensor

    def __init__(self,
                 model_path: PathLike,
                 gender: str = 'neutral',
                 num_betas: int = 10,
                 keypoint_convention: str = 'smpl_24',
                 extra_joint_regressors: Optional[Mapping[str, PathLike]] = None,
                 use_vertex_keypoints: bool = False) -> None:
        super().__init__()
        data, path = load_smpl_model_data(model_path, gender)
        num_shape = data['shapedirs'].shape[2]
        if not isinstance(num_betas, int) or not 1 <= num_betas <= num_shape:
            raise ValueError(f'SMPL: num_betas={num_betas!r} but the model file {path} has '
                             f'{num_shape} shape components; use 1..{num_shape}.')
        # smplx prints a warning for every model with < 300 shape components; silence it.
        with contextlib.redirect_stdout(io.StringIO()):
            self.body_model = smplx.SMPL(
                model_path=path, data_struct=build_smpl_data_struct(data),
                create_betas=False, create_global_orient=False, create_body_pose=False,
                create_transl=False, num_betas=num_betas, gender=gender)
        # smplx caps files with fewer than 300 components at 10 betas; use what was asked.
        self.body_model.register_buffer(
            'shapedirs', torch.tensor(data['shapedirs'][:, :, :num_betas], dtype=torch.float32))
        self.gender = gender
        self.num_betas = num_betas
        self.model_file = path
        self.faces: np.ndarray = data['f']
        self.keypoint_convention = keypoint_convention
        self.keypoint_names: List[str] = get_keypoint_names(keypoint_convention)
        self.use_vertex_keypoints = use_vertex_keypoints

        self.extra_names: List[str] = []
        source_names: List[str] = []
        for name, regressor_path in (extra_joint_regressors or {}).items():
            if not isinstance(name, str) or name in RESERVED_OUTPUT_KEYS:
                raise ValueError(f'SMPL: extra joint regressor name {name!r} (file '
                                 f'{regressor_path}) must be a string other than '
                                 f'{RESERVED_OUTPUT_KEYS}.')
            is_convention = name in get_keypoint_conventions()
            regressor = load_joint_regressor(
                regressor_path, NUM_SMPL_VERTICES,
                get_keypoint_num(name) if is_convention else None)
            self.register_buffer(f'_extra_regressor_{len(self.extra_names)}',
                                 torch.tensor(regressor, dtype=torch.float32))
            self.extra_names.append(name)
            source_names += get_keypoint_names(name) if is_convention \
                else [''] * regressor.shape[0]
        source_names += list(SMPL_24_KEYPOINTS)
        if use_vertex_keypoints:
            source_names += list(SMPL_VERTEX_KEYPOINTS)
        index, mask = self._keypoint_gather(source_names, keypoint_convention)
        self.register_buffer('_keypoint_index', index)
        self.register_buffer('keypoints_mask', mask)

        # Non-persistent: checkpoints must not carry SMPL data (see module docstring).
        for module in self.modules():
            for buffer_name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(buffer_name, buffer, persistent=False)

    @staticmethod
    def _keypoint_gather(source_names: Sequence[str], convention: str) -> Tuple[Tensor, Tensor]:
        """Gather index into the stacked sources, and availability, per keypoint."""
        first: Dict[str, int] = {}
        for i, name in enumerate(source_names):
            if name and name not in first:
                first[name] = i
        dst_idx, src_idx = get_mapping(list(first), convention)
        if len(dst_idx) == 0:
            raise ValueError(f"SMPL: no joint of keypoint convention '{convention}' can be "
                             f'produced from {list(first)}; add a matching '
                             'extra_joint_regressors entry or pick another convention.')
        positions = np.asarray(list(first.values()), dtype=np.int64)
        index = torch.zeros(get_keypoint_num(convention), dtype=torch.long)
        mask = torch.zeros(get_keypoint_num(convention), dtype=torch.float32)
        index[torch.as_tensor(dst_idx)] = torch.as_tensor(positions[src_idx])
        mask[torch.as_tensor(dst_idx)] = 1.
        return index, mask

    @property
    def num_vertices(self) -> int:
        return NUM_SMPL_VERTICES

    @property
    def parents(self) -> Tensor:
        """``(24,)`` parent index of each joint (-1 for the root)."""
        return self.body_model.parents

    def extra_repr(self) -> str:
        return (f'model_file={self.model_file!r}, gender={self.gender!r}, '
                f'num_betas={self.num_betas}, keypoint_convention={self.keypoint_convention!r}, '
                f'extra_joint_regressors={self.extra_names}')

    def _as_tensor(self, value: ArrayOrTensor, name: str) -> Tensor:
        ref = self.body_model.v_template
        if not torch.is_tensor(value):
            value = torch.as_tensor(np.asarray(value))
        if not value.is_floating_point():
            raise TypeError(f'SMPL.forward: {name} must be floating point, got {value.dtype}.')
        return value.to(device=ref.device, dtype=ref.dtype)

    def _to_rotmats(self, body_pose: Tensor, global_orient: Tensor,
                    batch_size: int) -> Tensor:
        """``(B, 24, 3, 3)`` rotations from the accepted pose layouts."""
        n = NUM_BODY_JOINTS
        body_allowed = f'(B, {n * 3}), (B, {n}, 3) or (B, {n}, 3, 3)'
        shape = tuple(body_pose.shape[1:])
        if body_pose.shape[0] != batch_size:
            raise _shape_error('body_pose', f'{body_allowed} with B = {batch_size}', body_pose)
        if shape == (n * 3, ) or shape == (n, 3):
            body_rotmat = axis_angle_to_rotmat(body_pose.reshape(batch_size, n, 3))
        elif shape == (n, 3, 3):
            body_rotmat = body_pose
        else:
            raise _shape_error('body_pose', body_allowed, body_pose)

        orient_allowed = '(B, 3), (B, 1, 3), (B, 3, 3) or (B, 1, 3, 3)'
        shape = tuple(global_orient.shape[1:])
        if global_orient.shape[0] != batch_size:
            raise _shape_error('global_orient', f'{orient_allowed} with B = {batch_size}',
                               global_orient)
        if shape in ((3, ), (1, 3)):
            orient_rotmat = axis_angle_to_rotmat(global_orient.reshape(batch_size, 1, 3))
        elif shape in ((3, 3), (1, 3, 3)):
            orient_rotmat = global_orient.reshape(batch_size, 1, 3, 3)
        else:
            raise _shape_error('global_orient', orient_allowed, global_orient)
        return torch.cat([orient_rotmat, body_rotmat], dim=1).contiguous()

    def forward(self,
                betas: ArrayOrTensor,
                body_pose: ArrayOrTensor,
                global_orient: ArrayOrTensor,
                transl: Optional[ArrayOrTensor] = None) -> Dict[str, Tensor]:
        """Pose and shape the mesh.

        Args:
            betas (Tensor): ``(B, num_betas)`` shape coefficients.
            body_pose (Tensor): ``(B, 23, 3, 3)`` rotation matrices, or axis-angle
                ``(B, 23, 3)`` / ``(B, 69)`` (radians), relative to the parent joints.
            global_orient (Tensor): Root rotation ``(B, 1, 3, 3)`` / ``(B, 3, 3)``, or
                axis-angle ``(B, 3)`` / ``(B, 1, 3)``; rotates the body about the root joint.
            transl (Tensor, optional): ``(B, 3)`` translation in metres, added to every
                output point. Defaults to none.

        Returns:
            dict[str, Tensor]: in metres, in the model's dtype and device:
            ``vertices (B, 6890, 3)``, ``joints (B, 24, 3)`` (SMPL joints),
            ``keypoints (B, K, 3)`` in ``keypoint_convention``, ``keypoints_mask (K,)``,
            and ``<name> (B, J, 3)`` for each extra joint regressor.

        Raises:
            ValueError: inputs of the wrong shape or with different batch sizes.
        """
        betas = self._as_tensor(betas, 'betas')
        if betas.ndim != 2 or betas.shape[1] != self.num_betas:
            raise _shape_error('betas', f'(B, {self.num_betas})', betas)
        batch_size = betas.shape[0]
        rotmats = self._to_rotmats(
            self._as_tensor(body_pose, 'body_pose'),
            self._as_tensor(global_orient, 'global_orient'), batch_size)
        if transl is not None:
            transl = self._as_tensor(transl, 'transl')
            if tuple(transl.shape) != (batch_size, 3):
                raise _shape_error('transl', f'(B, 3) with B = {batch_size}', transl)

        output = self.body_model(
            betas=betas, body_pose=rotmats[:, 1:], global_orient=rotmats[:, :1],
            transl=transl, pose2rot=False)
        vertices = output.vertices
        joints = output.joints[:, :NUM_SMPL_JOINTS]
        result = {'vertices': vertices, 'joints': joints}
        sources = []
        for i, name in enumerate(self.extra_names):
            regressor = getattr(self, f'_extra_regressor_{i}')
            result[name] = torch.einsum('jv,bvc->bjc', regressor, vertices)
            sources.append(result[name])
        sources.append(joints)
        if self.use_vertex_keypoints:
            sources.append(output.joints[:, NUM_SMPL_JOINTS:])
        stacked = torch.cat(sources, dim=1)
        mask = self.keypoints_mask.to(stacked.dtype)
        result['keypoints'] = stacked[:, self._keypoint_index] * mask[None, :, None]
        result['keypoints_mask'] = self.keypoints_mask.clone()
        return result


def _normalise_genders(genders: Union[Sequence[str], np.ndarray], batch_size: int,
                       available: Sequence[str]) -> List[str]:
    genders = [str(g) for g in np.asarray(genders, dtype=object).reshape(-1)]
    if len(genders) != batch_size:
        raise ValueError(f'GenderedSMPL.forward: got {len(genders)} genders for a batch of '
                         f'{batch_size}.')
    result = []
    for g in genders:
        canonical = GENDER_ALIASES.get(g.strip().lower())
        if canonical is None or canonical not in available:
            raise ValueError(f'GenderedSMPL.forward: gender {g!r} is not one of the loaded '
                             f'models {list(available)} (aliases: {sorted(GENDER_ALIASES)}).')
        result.append(canonical)
    return result


@MODELS.register_module()
class GenderedSMPL(nn.Module):
    """Neutral, male and female SMPL models; each sample is posed by its own gender's model.

    For evaluation against gendered ground truth (3DPW, H36M MoSh fits): e.g.
    ``gt = gendered(betas, pose, orient, genders=['m', 'f', ...])``.

    Args:
        model_path (str | PathLike | dict[str, str]): A directory holding
            ``SMPL_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``, or ``{gender: file}``.
        genders (Sequence[str]): Which genders to load. Defaults to all three.
        num_betas, keypoint_convention, extra_joint_regressors, use_vertex_keypoints:
            as for :class:`SMPL`, shared by all genders.
        lazy (bool): Load a gender's model when a sample of that gender first needs it
            (evaluation: 3DPW has no neutral ground truth) instead of all at once. Defaults
            to False.

    Attributes:
        models (nn.ModuleDict): ``{gender: SMPL}``, the models loaded so far.
        faces (np.ndarray): ``(F, 3)`` int64 (all genders share SMPL's topology).
    """

    def __init__(self,
                 model_path: Union[PathLike, Mapping[str, PathLike]],
                 genders: Sequence[str] = SMPL_GENDERS,
                 num_betas: int = 10,
                 keypoint_convention: str = 'smpl_24',
                 extra_joint_regressors: Optional[Mapping[str, PathLike]] = None,
                 use_vertex_keypoints: bool = False,
                 lazy: bool = False) -> None:
        super().__init__()
        if not genders:
            raise ValueError('GenderedSMPL: genders must name at least one of '
                             f'{SMPL_GENDERS}.')
        self.genders = list(genders)
        self._model_path = model_path
        self._settings = (num_betas, keypoint_convention, extra_joint_regressors,
                          use_vertex_keypoints)
        self.models = nn.ModuleDict()
        if not lazy:
            for gender in self.genders:
                self.model(gender)

    def model(self, gender: str) -> SMPL:
        """The SMPL model of ``gender`` (a loaded name), loading it on first use.

        Raises:
            ValueError: ``model_path`` is a mapping without a file for ``gender``.
            FileNotFoundError: the model file is missing.
        """
        if gender not in self.models:
            path = self._model_path
            if isinstance(path, Mapping):
                if gender not in path:
                    raise ValueError(f"GenderedSMPL: model_path has no file for gender "
                                     f"'{gender}'; it has {sorted(path)}.")
                path = path[gender]
            try:
                self.models[gender] = SMPL(path, gender, *self._settings)
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'GenderedSMPL: a sample needs the {gender} SMPL model: {err}') from err
        return cast(SMPL, self.models[gender])

    @property
    def faces(self) -> np.ndarray:
        """``(F, 3)`` int64 triangles (all genders share SMPL's topology)."""
        return self.model(self.genders[0]).faces

    @property
    def keypoint_names(self) -> List[str]:
        """The keypoint names of every gender's output."""
        return self.model(self.genders[0]).keypoint_names

    def forward(self,
                betas: ArrayOrTensor,
                body_pose: ArrayOrTensor,
                global_orient: ArrayOrTensor,
                transl: Optional[ArrayOrTensor] = None,
                genders: Optional[Union[Sequence[str], np.ndarray]] = None
                ) -> Dict[str, Tensor]:
        """Run each sample through the model of its gender.

        Args:
            betas, body_pose, global_orient, transl: as for :meth:`SMPL.forward` (batch B).
            genders (Sequence[str] | np.ndarray, optional): ``B`` genders, ``'neutral'`` /
                ``'male'`` / ``'female'`` or ``'n'`` / ``'m'`` / ``'f'`` (any case). Defaults to
                all neutral.

        Returns:
            dict[str, Tensor]: the outputs of :meth:`SMPL.forward`, row ``b`` from the model
            of ``genders[b]``.
        """
        batch_size = int(np.shape(betas)[0])
        if genders is None:
            genders = ['neutral'] * batch_size
        genders = _normalise_genders(genders, batch_size, self.genders)
        result: Dict[str, Tensor] = {}
        for gender in dict.fromkeys(genders):
            rows = [i for i, g in enumerate(genders) if g == gender]
            model = self.model(gender)
            if torch.is_tensor(betas):
                model.to(betas.device)  # a model loaded by this call starts on the CPU
            index = torch.as_tensor(rows, dtype=torch.long)
            out = model(
                betas=_take(betas, index), body_pose=_take(body_pose, index),
                global_orient=_take(global_orient, index),
                transl=None if transl is None else _take(transl, index))
            for key, value in out.items():
                if key == 'keypoints_mask':
                    result[key] = value
                    continue
                if key not in result:
                    result[key] = value.new_zeros((batch_size, ) + tuple(value.shape[1:]))
                result[key] = result[key].index_put((index.to(value.device), ), value)
        return result


def _take(value: ArrayOrTensor, index: Tensor) -> ArrayOrTensor:
    if torch.is_tensor(value):
        return value[index.to(value.device)]
    return np.asarray(value)[index.numpy()]
