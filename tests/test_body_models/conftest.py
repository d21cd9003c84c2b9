"""Small, well-formed SMPL-format models written to tmp_path (random arrays, SMPL's tree)."""
import pickle
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np
import pytest

NUM_VERTS = 6890
NUM_JOINTS = 24
# SMPL's kinematic tree (parent of each joint; the root's is stored as 2**32 - 1).
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
ROOT_PARENT_IN_FILE = 2**32 - 1
VERTS_PER_JOINT_REGRESSOR = 20


def make_smpl_arrays(seed: int = 0, num_shape: int = 10, hard_weights: bool = False,
                     pose_blend: bool = True) -> Dict[str, np.ndarray]:
    """Random but valid SMPL arrays.

    ``hard_weights`` binds every vertex to one joint (vertex ``v`` to joint ``v % 24``) so
    that rigid motions of a joint's vertices have a closed form; ``pose_blend=False`` zeroes
    the pose-corrective blend shapes for the same reason.
    """
    rng = np.random.default_rng(seed)
    v_template = rng.normal(scale=0.3, size=(NUM_VERTS, 3))
    regressor = np.zeros((NUM_JOINTS, NUM_VERTS))
    for j in range(NUM_JOINTS):
        idx = rng.choice(NUM_VERTS, VERTS_PER_JOINT_REGRESSOR, replace=False)
        regressor[j, idx] = rng.dirichlet(np.ones(VERTS_PER_JOINT_REGRESSOR))
    if hard_weights:
        weights = np.eye(NUM_JOINTS)[np.arange(NUM_VERTS) % NUM_JOINTS]
    else:
        weights = rng.dirichlet(np.full(NUM_JOINTS, 0.3), size=NUM_VERTS)
    posedirs = rng.normal(scale=0.01, size=(NUM_VERTS, 3, 207))
    if not pose_blend:
        posedirs[:] = 0.
    kintree = np.stack([np.asarray(SMPL_PARENTS, dtype=np.int64), np.arange(NUM_JOINTS)])
    kintree[0, 0] = ROOT_PARENT_IN_FILE
    # float32 like the real files (and half the bytes to write and read in every test).
    return {
        'v_template': v_template.astype(np.float32),
        'shapedirs': rng.normal(scale=0.02, size=(NUM_VERTS, 3, num_shape)).astype(np.float32),
        'posedirs': posedirs.astype(np.float32),
        'J_regressor': regressor.astype(np.float32),
        'weights': weights.astype(np.float32),
        'kintree_table': kintree.astype(np.uint32),
        'f': rng.integers(0, NUM_VERTS, size=(200, 3)).astype(np.uint32),
    }


def write_model(path: Path, arrays: Dict[str, Any], protocol: int = pickle.HIGHEST_PROTOCOL
                ) -> Path:
    """Write ``arrays`` as ``.pkl`` (plain numpy) or ``.npz``, by the suffix of ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == '.npz':
        np.savez(path, **arrays)
    else:
        with open(path, 'wb') as f:
            pickle.dump(arrays, f, protocol=protocol)
    return path


@pytest.fixture(scope='session')
def smpl_arrays() -> Dict[str, np.ndarray]:
    return make_smpl_arrays(0)


@pytest.fixture(scope='session')
def model_file(tmp_path_factory: pytest.TempPathFactory,
               smpl_arrays: Dict[str, np.ndarray]) -> Path:
    """A read-only model file shared by the session (tests must not modify it)."""
    return write_model(tmp_path_factory.mktemp('smpl') / 'SMPL_NEUTRAL.pkl', smpl_arrays)


@pytest.fixture
def make_arrays() -> Callable[..., Dict[str, np.ndarray]]:
    return make_smpl_arrays


@pytest.fixture
def write() -> Callable[..., Path]:
    return write_model
