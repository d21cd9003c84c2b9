"""SMPL wrapper: closed-form poses, input layouts, keypoints, extra regressors, genders."""
import numpy as np
import pytest
import torch

from mroi_plugin.body_models import SMPL, GenderedSMPL
from mroi_plugin.registry import MODELS

# SPIN / CLIFF evaluation subset of the H36M regressor's joints (independent truth).
H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
ATOL = 1e-5


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """Reference axis-angle -> matrix, float64, written out independently of the package."""
    out = np.empty(axis_angle.shape[:-1] + (3, 3))
    for idx in np.ndindex(*axis_angle.shape[:-1]):
        r = axis_angle[idx]
        theta = np.linalg.norm(r)
        if theta < 1e-12:
            out[idx] = np.eye(3)
            continue
        k = r / theta
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        out[idx] = np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx
    return out


def zeros_input(batch: int, num_betas: int = 10):
    return (torch.zeros(batch, num_betas), torch.zeros(batch, 69), torch.zeros(batch, 3))


@pytest.fixture(scope='module')
def smpl(model_file):
    return SMPL(model_file)


def test_zero_pose_gives_template_and_regressed_joints(smpl, smpl_arrays):
    out = smpl(*zeros_input(2))
    template = smpl_arrays['v_template']
    assert out['vertices'].shape == (2, 6890, 3) and out['joints'].shape == (2, 24, 3)
    for b in range(2):
        np.testing.assert_allclose(out['vertices'][b].numpy(), template, atol=ATOL)
        np.testing.assert_allclose(out['joints'][b].numpy(), smpl_arrays['J_regressor'] @ template,
                                   atol=ATOL)
    # smpl_24 keypoints are the joints themselves.
    torch.testing.assert_close(out['keypoints'], out['joints'])
    assert out['keypoints_mask'].tolist() == [1.] * 24


def test_betas_add_linear_shape_blend(smpl, smpl_arrays):
    betas = torch.tensor([[0.5, -1., 2., 0., 0., 0., 0., 0., 0., 1.5]])
    out = smpl(betas, torch.zeros(1, 69), torch.zeros(1, 3))
    expected = smpl_arrays['v_template'] + smpl_arrays['shapedirs'] @ betas[0].double().numpy()
    np.testing.assert_allclose(out['vertices'][0].numpy(), expected, atol=ATOL)


@pytest.mark.parametrize('axis', [0, 2])
def test_global_orient_rotates_about_root_joint(smpl, smpl_arrays, axis):
    # 90 degrees about x or z, written out by hand.
    rot = {0: np.array([[1., 0, 0], [0, 0, -1], [0, 1, 0]]),
           2: np.array([[0., -1, 0], [1, 0, 0], [0, 0, 1]])}[axis]
    orient = torch.zeros(1, 3)
    orient[0, axis] = np.pi / 2
    out = smpl(torch.zeros(1, 10), torch.zeros(1, 69), orient)
    template = smpl_arrays['v_template']
    root = smpl_arrays['J_regressor'][0] @ template
    np.testing.assert_allclose(out['vertices'][0].numpy(), (template - root) @ rot.T + root,
                               atol=ATOL)
    joints = smpl_arrays['J_regressor'] @ template
    np.testing.assert_allclose(out['joints'][0].numpy(), (joints - root) @ rot.T + root,
                               atol=ATOL)


def test_body_pose_rotates_descendants_about_their_joint(tmp_path, make_arrays, write):
    """Joint k's rotation is body_pose[k - 1] and moves exactly k's subtree (rigidly)."""
    arrays = make_arrays(3, hard_weights=True, pose_blend=False)
    model = SMPL(write(tmp_path / 'm.npz', arrays))
    knee, subtree = 4, [4, 7, 10]  # left knee -> left ankle -> left foot
    pose = torch.zeros(1, 23, 3)
    pose[0, knee - 1] = torch.tensor([np.pi / 2, 0., 0.])
    out = model(torch.zeros(1, 10), pose, torch.zeros(1, 3))
    rot = np.array([[1., 0, 0], [0, 0, -1], [0, 1, 0]])
    template = arrays['v_template']
    centre = arrays['J_regressor'][knee] @ template
    owner = np.arange(6890) % 24
    moved = np.isin(owner, subtree)
    expected = template.copy()
    expected[moved] = (template[moved] - centre) @ rot.T + centre
    np.testing.assert_allclose(out['vertices'][0].numpy(), expected, atol=ATOL)


def test_transl_adds_to_every_output(model_file, tmp_path):
    regressor = np.random.default_rng(1).dirichlet(np.ones(6890), size=17)
    np.save(tmp_path / 'J_regressor_h36m.npy', regressor)
    model = SMPL(model_file, keypoint_convention='lsp_14',
                 extra_joint_regressors={'h36m_17': tmp_path / 'J_regressor_h36m.npy'})
    gen = torch.Generator().manual_seed(0)
    betas, pose, orient = (torch.randn(3, 10, generator=gen),
                           0.3 * torch.randn(3, 69, generator=gen),
                           torch.randn(3, 3, generator=gen))
    transl = torch.tensor([[1., 2., 3.], [-1., 0., 0.5], [0., 0., 10.]])
    base = model(betas, pose, orient)
    moved = model(betas, pose, orient, transl)
    for key in ('vertices', 'joints', 'keypoints', 'h36m_17'):
        torch.testing.assert_close(moved[key] - base[key],
                                   transl[:, None].expand_as(base[key]), atol=1e-4, rtol=0)


def test_rotation_matrix_and_axis_angle_inputs_agree(smpl):
    rng = np.random.default_rng(0)
    pose_aa = rng.normal(scale=0.5, size=(2, 23, 3))
    orient_aa = rng.normal(scale=1.0, size=(2, 3))
    pose_rm, orient_rm = rodrigues(pose_aa), rodrigues(orient_aa)
    betas = torch.tensor(rng.normal(size=(2, 10)), dtype=torch.float32)
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    reference = smpl(betas, t(pose_rm), t(orient_rm[:, None]))
    variants = [
        (t(pose_aa.reshape(2, 69)), t(orient_aa)),
        (t(pose_aa), t(orient_aa[:, None])),
        (t(pose_rm), t(orient_rm)),
        (pose_aa, orient_aa),  # numpy float64 is accepted and cast
    ]
    for body_pose, global_orient in variants:
        out = smpl(betas, body_pose, global_orient)
        for key in ('vertices', 'joints'):
            torch.testing.assert_close(out[key], reference[key], atol=1e-5, rtol=1e-5)


def test_batch_size_is_dynamic(smpl):
    rng = np.random.default_rng(2)
    betas, pose, orient = (torch.tensor(rng.normal(size=s), dtype=torch.float32)
                           for s in [(4, 10), (4, 69), (4, 3)])
    full = smpl(betas, pose, orient)
    single = smpl(betas[2:3], pose[2:3], orient[2:3])
    torch.testing.assert_close(single['vertices'][0], full['vertices'][2])
    assert smpl(*zeros_input(7))['vertices'].shape == (7, 6890, 3)


def test_extra_regressor_and_lsp14_keypoints_follow_h36m_to_j14(model_file, tmp_path):
    regressor = np.random.default_rng(5).dirichlet(np.ones(6890), size=17)
    path = tmp_path / 'J_regressor_h36m.npy'
    np.save(path, regressor)
    model = MODELS.build(dict(type='SMPL', model_path=str(model_file),
                              keypoint_convention='lsp_14',
                              extra_joint_regressors={'h36m_17': str(path)}))
    out = model(torch.zeros(2, 10), 0.2 * torch.ones(2, 69), torch.zeros(2, 3))
    expected = np.einsum('jv,bvc->bjc', regressor, out['vertices'].double().numpy())
    np.testing.assert_allclose(out['h36m_17'].numpy(), expected, atol=1e-5)
    torch.testing.assert_close(out['keypoints'], out['h36m_17'][:, H36M_TO_J14])
    assert out['keypoints_mask'].tolist() == [1.] * 14


def test_coco_keypoints_without_regressors_are_masked(model_file):
    model = SMPL(model_file, keypoint_convention='coco_17')
    out = model(*zeros_input(1))
    # Only SMPL's own limb joints exist; face and (COCO-style) hips do not.
    available = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 13: 4, 14: 5, 15: 7, 16: 8}
    mask = out['keypoints_mask'].numpy()
    assert mask.tolist() == [1. if k in available else 0. for k in range(17)]
    for coco_idx, smpl_idx in available.items():
        torch.testing.assert_close(out['keypoints'][:, coco_idx], out['joints'][:, smpl_idx])
    assert torch.all(out['keypoints'][:, mask == 0] == 0)


def test_vertex_keypoints_come_from_smplh_vertex_ids(model_file, smpl_arrays):
    model = SMPL(model_file, keypoint_convention='coco_17', use_vertex_keypoints=True)
    out = model(*zeros_input(1))
    nose_vertex, left_ear_vertex = 332, 583  # smplx's SMPL-H vertex ids
    torch.testing.assert_close(out['keypoints'][0, 0], out['vertices'][0, nose_vertex])
    torch.testing.assert_close(out['keypoints'][0, 3], out['vertices'][0, left_ear_vertex])
    assert out['keypoints_mask'][:5].tolist() == [1.] * 5


def test_faces_state_dict_and_dtype(model_file, smpl_arrays):
    smpl = SMPL(model_file)
    assert smpl.faces.dtype == np.int64 and smpl.faces.shape == (200, 3)
    np.testing.assert_array_equal(smpl.faces, smpl_arrays['f'])
    # Checkpoints of a network owning an SMPL carry no body-model data.
    assert len(smpl.state_dict()) == 0
    model64 = smpl.double()
    out = model64(torch.zeros(1, 10, dtype=torch.float64), torch.zeros(1, 69, dtype=torch.float64),
                  torch.zeros(1, 3, dtype=torch.float64))
    assert out['vertices'].dtype == torch.float64
    np.testing.assert_allclose(out['vertices'][0].numpy(), smpl_arrays['v_template'], atol=1e-12)


def test_gradcheck_through_pose_and_shape(model_file):
    model = SMPL(model_file, num_betas=2).double()
    gen = torch.Generator().manual_seed(0)
    betas = torch.randn(1, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    pose = 0.3 * torch.randn(1, 23, 3, dtype=torch.float64, generator=gen)
    orient = torch.randn(1, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    knee_pose = pose[:, 3].clone().requires_grad_(True)

    def leg_joints(b, o, k):
        full = torch.cat([pose[:, :3], k[:, None], pose[:, 4:]], dim=1)
        return model(b, full, o)['joints'][:, [4, 7, 10]]  # left knee, ankle, foot

    assert torch.autograd.gradcheck(leg_joints, (betas, orient, knee_pose), eps=1e-6, atol=1e-6)


def test_num_betas_and_input_shape_errors(model_file):
    with pytest.raises(ValueError, match='SMPL_NEUTRAL.pkl.*10 shape components'):
        SMPL(model_file, num_betas=11)
    smpl = SMPL(model_file)
    good = zeros_input(2)
    with pytest.raises(ValueError, match=r'betas must be \(B, 10\)'):
        smpl(torch.zeros(2, 9), good[1], good[2])
    with pytest.raises(ValueError, match='body_pose must be'):
        smpl(good[0], torch.zeros(2, 24, 3), good[2])
    with pytest.raises(ValueError, match='global_orient must be'):
        smpl(good[0], good[1], torch.zeros(2, 4))
    with pytest.raises(ValueError, match='B = 2'):
        smpl(good[0], torch.zeros(3, 69), good[2])
    with pytest.raises(ValueError, match='transl'):
        smpl(*good, transl=torch.zeros(2, 2))


def test_extra_regressor_errors_name_the_file(model_file, tmp_path):
    bad = tmp_path / 'J_regressor_h36m.npy'
    np.save(bad, np.ones((14, 6890)))
    with pytest.raises(ValueError, match=r'J_regressor_h36m\.npy.*\(17, 6890\)'):
        SMPL(model_file, extra_joint_regressors={'h36m_17': bad})
    with pytest.raises(FileNotFoundError, match='nowhere.npy'):
        SMPL(model_file, extra_joint_regressors={'h36m_17': tmp_path / 'nowhere.npy'})
    with pytest.raises(ValueError, match='must be a string other than'):
        SMPL(model_file, extra_joint_regressors={'vertices': bad})
    with pytest.raises(ValueError, match='Unknown keypoint convention'):
        SMPL(model_file, keypoint_convention='smpl_99')


def test_gendered_smpl_routes_each_sample(tmp_path, make_arrays, write):
    for seed, gender in enumerate(('NEUTRAL', 'MALE', 'FEMALE')):
        write(tmp_path / f'SMPL_{gender}.npz', make_arrays(seed))
    gendered = GenderedSMPL(tmp_path)
    single = {g: SMPL(tmp_path, gender=g) for g in ('neutral', 'male', 'female')}
    rng = np.random.default_rng(3)
    betas, pose, orient = (torch.tensor(rng.normal(size=s), dtype=torch.float32)
                           for s in [(4, 10), (4, 69), (4, 3)])
    transl = torch.tensor(rng.normal(size=(4, 3)), dtype=torch.float32)
    genders = np.array(['m', 'female', 'n', 'M'])
    out = gendered(betas, pose, orient, transl, genders=genders)
    for b, gender in enumerate(('male', 'female', 'neutral', 'male')):
        ref = single[gender](betas[b:b + 1], pose[b:b + 1], orient[b:b + 1], transl[b:b + 1])
        for key in ('vertices', 'joints', 'keypoints'):
            torch.testing.assert_close(out[key][b], ref[key][0])
    with pytest.raises(ValueError, match="gender 'x'"):
        gendered(betas, pose, orient, genders=['m', 'f', 'x', 'n'])
    with pytest.raises(ValueError, match='3 genders for a batch of 4'):
        gendered(betas, pose, orient, genders=['m', 'f', 'n'])


@pytest.mark.slow  # generating the stand-in takes seconds
def test_loads_the_standin_model_when_available(tmp_path, write):
    standin = pytest.importorskip('mroi_plugin.synthetic.standin')
    arrays = standin.make_standin_smpl(seed=0, gender='neutral')
    model = SMPL(write(tmp_path / 'SMPL_NEUTRAL.npz', arrays))
    out = model(*zeros_input(1))
    template = np.asarray(arrays['v_template'], dtype=np.float64)
    np.testing.assert_allclose(out['vertices'][0].numpy(), template, atol=ATOL)
    np.testing.assert_allclose(out['joints'][0].numpy(),
                               np.asarray(arrays['J_regressor'], dtype=np.float64) @ template,
                               atol=ATOL)


def test_lazy_gendered_smpl_loads_only_the_genders_it_meets(tmp_path, make_arrays, write):
    for seed, gender in enumerate(('NEUTRAL', 'MALE', 'FEMALE')):
        write(tmp_path / f'SMPL_{gender}.npz', make_arrays(seed))
    eager = GenderedSMPL(tmp_path)
    lazy = GenderedSMPL(tmp_path, lazy=True)
    assert set(eager.models) == {'neutral', 'male', 'female'} and not set(lazy.models)
    rng = np.random.default_rng(4)
    betas, pose, orient = (torch.tensor(rng.normal(size=s), dtype=torch.float32)
                           for s in [(3, 10), (3, 69), (3, 3)])
    out = lazy(betas, pose, orient, genders=['f', 'female', 'F'])
    assert set(lazy.models) == {'female'}
    torch.testing.assert_close(out['vertices'],
                               eager(betas, pose, orient, genders=['f'] * 3)['vertices'])
    missing = GenderedSMPL({'female': tmp_path / 'SMPL_FEMALE.npz'}, lazy=True)
    with pytest.raises(ValueError, match="no file for gender 'male'"):
        missing(betas, pose, orient, genders=['f', 'm', 'f'])
