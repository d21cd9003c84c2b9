"""Licence-free assets, made offline: the stand-in body model and the synthetic dataset.

Nothing here is needed to train or run a model on real data, and the runtime packages
(``datasets``, ``body_models``, ``models``) never import it; ``prepare_data`` and the tools
do. Modules: :mod:`.standin` (the procedural SMPL-format body), :mod:`.poses`,
:mod:`.appearance` (clothing, backgrounds, lighting, camera noise), :mod:`.placement` (camera
intrinsics, where the person stands), :mod:`.rendering` (one sample) and
:mod:`.humandata_writer` (a whole dataset on disk).

Every sample is one person posed and shaped with a body model in SMPL format (the licence-free
stand-in of :mod:`mroi_plugin.synthetic.standin` by default, or real SMPL files), placed in
front of a random pinhole camera, z-buffer rendered with per-body-part clothing colours over a
random background, and written as a JPEG plus an MMHuman3D HumanData ``.npz`` per split that
:class:`~mroi_plugin.datasets.HumanDataDataset` reads unchanged.

Sampling (per person; the numbers are the modules' constants):

* pose: one of several modes (standing, walking, reaching, crouching, free) with per-joint
  rotations inside human-like limits (knees and elbows bend one way, modest spine and neck);
* shape: betas ``N(0, 1)`` clipped to ``+-BETAS_CLIP``; gender neutral / male / female, the
  mesh comes from the gendered model (as 3DPW's ground truth) and the gender is in ``meta``;
* orientation: upright (small tilts, sometimes a lean) with any yaw;
* camera: focal length ``FOCAL_RANGE_IN_DIAGONALS`` x the image diagonal (500-1500 px at
  640x480), principal point jittered about the image centre;
* placement: pelvis depth ``DEPTH_RANGE`` metres (drawn uniformly in apparent size), anywhere
  in the image; with probability ``truncation_prob`` part of the body is outside the border.

Ground truth per sample (all float32; the stored values are exactly the ones rendered):

* ``smpl``: ``global_orient (3,)``, ``body_pose (23, 3)``, ``betas (10,)``, ``transl (3,)``
  such that the gendered body model with these parameters and ``transl`` gives the rendered
  camera-frame mesh (camera x right, y down, z forward, metres);
* ``smpl_root_joint (3,)``: the rest-pose root joint ``J0(betas)`` of the gendered model (body
  frame, metres; SMPL turns the body about it, so flip and rotation augmentation need it to
  move ``transl`` with the body);
* ``keypoints3d (190, 4)``: camera-frame joints in the ``human_data`` convention, taken by name
  first from the H36M regressor's 17 joints, then from SMPL's 24 joints (the priority of
  :class:`~mroi_plugin.body_models.SMPL`), confidence 1 where available;
* ``keypoints2d (190, 3)``: their projections with the stored intrinsics; confidence 0 for
  joints outside the image (pixel centres ``0 <= u <= W - 1``, ``0 <= v <= H - 1``);
* ``bbox_xywh (5,)``: the tight box of all projected vertices, **not clipped** to the image
  (like real datasets' full-body boxes), score 1;
* ``cam_param``: ``focal_length (2,)`` and ``principal_point (2,)`` px; ``image_size (2,)``
  ``[W, H]``; ``meta.gender``.

Reproducibility: sample ``i`` of a split is drawn from ``SeedSequence([seed, split, i])`` and
computed single-threaded, so the arrays and the JPEG bytes depend on ``seed`` only, not on
the number of worker processes.
"""
from .appearance import sample_background, sample_person_colors
from .humandata_writer import (
    DATA_VERSION,
    DEFAULT_BODY_MODEL_DIR,
    SPLITS,
    generate_synthetic_dataset,
    prepare_body_model_dir,
    sample_rng,
)
from .poses import sample_body_pose, sample_global_orient
from .rendering import (
    BODY_MODEL_FILES,
    GENDERS,
    H36M_REGRESSOR_FILE,
    SyntheticBodyModels,
    SyntheticOptions,
    SyntheticSample,
    load_synthetic_body_models,
    render_synthetic_sample,
)
from .standin import (
    make_standin_h36m_regressor,
    make_standin_smpl,
    temporary_standin_dir,
    write_standin_smpl,
)

__all__ = [
    'DATA_VERSION', 'SPLITS', 'GENDERS', 'DEFAULT_BODY_MODEL_DIR', 'BODY_MODEL_FILES',
    'H36M_REGRESSOR_FILE', 'SyntheticOptions', 'SyntheticSample', 'SyntheticBodyModels',
    'load_synthetic_body_models', 'sample_body_pose', 'sample_global_orient',
    'sample_background', 'sample_person_colors', 'render_synthetic_sample', 'sample_rng',
    'prepare_body_model_dir', 'generate_synthetic_dataset', 'make_standin_smpl',
    'make_standin_h36m_regressor', 'write_standin_smpl', 'temporary_standin_dir'
]
