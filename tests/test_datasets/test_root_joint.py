"""smpl_root_joint: J0(betas) from the body model files, read from or computed for HumanData."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch

from mroi_plugin.body_models import SMPL
from mroi_plugin.datasets import HumanDataDataset, HumanDataError
from mroi_plugin.datasets.root_joint import compute_root_joints
from mroi_plugin.synthetic.standin import write_standin_smpl

# pytest runs with --import-mode=importlib: put the shared helper on the path.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from humandata_factory import dump_human_data, make_human_data  # noqa: E402

GENDER_NAMES = {'m': 'male', 'f': 'female', 'n': 'neutral'}


@pytest.fixture(scope='module')
def body_model_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('standin'))
    write_standin_smpl(path, seed=0)
    return path


def _smpl_rest_root(body_model_dir: str, betas: np.ndarray, gender: str) -> np.ndarray:
    """Joint 0 of the body model's shaped body in zero pose (the independent truth)."""
    with torch.no_grad():
        out = SMPL(body_model_dir, gender=gender)(
            torch.as_tensor(betas, dtype=torch.float32)[None], torch.zeros(1, 23, 3),
            torch.zeros(1, 3))
    return out['joints'][0, 0].numpy()


def _dataset(path: str, **kwargs) -> HumanDataDataset:
    return HumanDataDataset(ann_file=osp.basename(path), data_root=osp.dirname(path), **kwargs)


def test_compute_root_joints_matches_the_body_model(body_model_dir):
    rng = np.random.default_rng(0)
    betas = rng.normal(0, 1.5, (6, 10))
    betas[4] = np.nan  # a sample without SMPL
    genders = ['neutral', 'male', 'female', 'male', 'female', 'neutral']
    roots = compute_root_joints(betas, genders, body_model_dir)
    assert roots.shape == (6, 3) and roots.dtype == np.float32
    for i in (0, 1, 2, 3, 5):
        np.testing.assert_allclose(roots[i], _smpl_rest_root(body_model_dir, betas[i],
                                                             genders[i]), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(roots[4], 0.0)
    # Stature (beta 0) scales the stand-in about the origin: the root moves, so J0 is no
    # constant of the model.
    assert np.abs(roots[0] - compute_root_joints(np.zeros((1, 10)), ['neutral'],
                                                 body_model_dir)[0]).max() > 1e-3


def test_compute_root_joints_errors(body_model_dir):
    neutral_only = {'neutral': osp.join(body_model_dir, 'SMPL_NEUTRAL.pkl')}
    with pytest.raises(ValueError, match="no model for gender 'male'"):
        compute_root_joints(np.zeros((2, 10)), ['neutral', 'male'], neutral_only)
    with pytest.raises(ValueError, match='2 genders'):
        compute_root_joints(np.zeros((3, 10)), ['neutral', 'male'], body_model_dir)


def test_dataset_computes_root_joints_from_betas(tmp_path, body_model_dir):
    data = make_human_data(num_samples=4, genders=['m', 'f', 'n', 'f'])
    path = dump_human_data(str(tmp_path / 'train.npz'), data,
                           has_smpl=np.array([1, 1, 1, 0]))
    dataset = _dataset(path, body_model_dir=body_model_dir)
    betas = data['smpl']['betas']
    for i, gender in enumerate(['m', 'f', 'n']):
        info = dataset.get_data_info(i)
        assert info['smpl_root_joint'].dtype == np.float32
        np.testing.assert_allclose(info['smpl_root_joint'],
                                   _smpl_rest_root(body_model_dir, betas[i],
                                                   GENDER_NAMES[gender]), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(dataset.get_data_info(3)['smpl_root_joint'], 0.0)
    np.testing.assert_array_equal(dataset.get_subset([2]).get_data_info(0)['smpl_root_joint'],
                                  dataset.get_data_info(2)['smpl_root_joint'])


def test_dataset_reads_the_stored_root_joint_first(tmp_path, body_model_dir):
    data = make_human_data(num_samples=3)
    stored = np.arange(9, dtype=np.float32).reshape(3, 3) / 10
    path = dump_human_data(str(tmp_path / 'train.npz'), data, smpl_root_joint=stored)
    dataset = _dataset(path, body_model_dir=body_model_dir)
    for i in range(3):
        np.testing.assert_array_equal(dataset.get_data_info(i)['smpl_root_joint'], stored[i])

    bad = dump_human_data(str(tmp_path / 'bad.npz'), data, smpl_root_joint=stored[:, :2])
    with pytest.raises(HumanDataError, match=r"bad\.npz.*'smpl_root_joint'.*\(3, 3\)"):
        _dataset(bad)


def test_without_a_root_joint_augmenting_pipelines_warn(tmp_path, monkeypatch):
    import mroi_plugin.datasets.human_data_dataset as module
    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logged.append(msg))
    path = dump_human_data(str(tmp_path / 'train.npz'), make_human_data(num_samples=2))

    plain = _dataset(path)
    assert 'smpl_root_joint' not in plain.get_data_info(0)
    assert not [m for m in logged if 'root joint' in m]

    _dataset(path, pipeline=[dict(type='RandomFlipHMR'), dict(type='RandomScaleRotation')])
    warnings = [m for m in logged if 'root joint' in m]
    assert len(warnings) == 1
    assert 'body_model_dir' in warnings[0] and 'RandomScaleRotation' in warnings[0]

    # No translation in the file: nothing to get wrong, nothing to warn about.
    logged.clear()
    no_transl = dump_human_data(str(tmp_path / 'no_transl.npz'),
                                make_human_data(num_samples=2, transl=False))
    _dataset(no_transl, pipeline=[dict(type='RandomFlipHMR')])
    assert not [m for m in logged if 'root joint' in m]
