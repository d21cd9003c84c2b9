"""The licence-free stand-in SMPL-format body model (mroi_plugin.synthetic.standin)."""
import importlib.util
import os.path as osp
import pickle
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict

import numpy as np
import pytest
import torch

from mroi_plugin.body_models.keypoint_conventions import H36M_17_KEYPOINTS
from mroi_plugin.geometry import axis_angle_to_rotmat
from mroi_plugin.synthetic.standin import (
    STANDIN_FILE_NAMES,
    STANDIN_H36M_REGRESSOR_NAME,
    make_standin_h36m_regressor,
    make_standin_smpl,
    write_standin_smpl,
)

smplx = pytest.importorskip('smplx')

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# Left/right SMPL joint pairs; the mirror image of joint i is joint MIRROR[i].
LR_PAIRS = [(1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23)]
MIRROR = np.arange(24)
for _l, _r in LR_PAIRS:
    MIRROR[_l], MIRROR[_r] = _r, _l
L_ELBOW, L_WRIST, L_HAND = 18, 20, 22
LEFT_ARM_SUBTREE = [18, 20, 22]
ARRAY_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table',
              'f')
TOOLS = Path(__file__).resolve().parents[2] / 'tools'


@pytest.fixture(scope='module')
def model() -> Dict[str, np.ndarray]:
    return make_standin_smpl()


@pytest.fixture(scope='module')
def written(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    lines = []
    paths = write_standin_smpl(tmp_path_factory.mktemp('standin'), log=lines.append)
    assert len(lines) == 4 and all(line.startswith('wrote') for line in lines)
    return paths


def smpl_layer(model: Dict[str, np.ndarray]) -> 'smplx.SMPL':
    from smplx.utils import Struct
    return smplx.SMPL('', data_struct=Struct(**{k: model[k] for k in ARRAY_KEYS}),
                      dtype=torch.float64)


def height(vertices: np.ndarray) -> float:
    return float(vertices[:, 1].max() - vertices[:, 1].min())


def mirror_permutation(verts: np.ndarray) -> np.ndarray:
    """``m`` with ``verts[m[i]]`` the mirror image (x -> -x) of ``verts[i]``, matched by sorting
    coordinates rounded to 1e-8 m."""
    own = np.lexsort(np.round(verts, 8).T)
    mirrored = np.lexsort(np.round(verts * (-1., 1., 1.), 8).T)
    perm = np.empty(len(verts), dtype=np.int64)
    perm[mirrored] = own
    return perm


def winding_numbers(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalised winding number of each point: the summed signed solid angle / 4 pi of the
    triangles (Van Oosterom & Strackee); 1 inside a closed outward surface, 0 outside."""
    rel = verts[faces][None] - points[:, None, None]  # (P, F, 3, 3)
    a, b, c = rel[:, :, 0], rel[:, :, 1], rel[:, :, 2]
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum('pfi,pfi->pf', a, np.cross(b, c))
    dot = lambda x, y: np.einsum('pfi,pfi->pf', x, y)  # noqa: E731
    den = la * lb * lc + dot(a, b) * lc + dot(a, c) * lb + dot(b, c) * la
    return np.arctan2(det, den).sum(-1) / (2 * np.pi)


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- files, loading
def test_smplx_loads_written_files(written: Dict[str, str]) -> None:
    for gender in ('neutral', 'male', 'female'):
        path = written[gender]
        assert osp.basename(path) == STANDIN_FILE_NAMES[gender]
        with open(path, 'rb') as f:
            arrays = pickle.load(f)
        body = smplx.SMPL(model_path=path)
        with torch.no_grad():
            out = body()  # zero pose and betas
        # smplx computes in float32.
        np.testing.assert_allclose(out.vertices[0].numpy(), arrays['v_template'], atol=1e-5)
        np.testing.assert_allclose(out.joints[0, :24].numpy(), arrays['J'], atol=1e-5)
    h36m = np.load(written['h36m_regressor'])
    assert osp.basename(written['h36m_regressor']) == STANDIN_H36M_REGRESSOR_NAME
    assert h36m.shape == (17, 6890)


def test_written_pickle_is_protocol_2_of_plain_numpy(written: Dict[str, str]) -> None:
    class NumpyOnly(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> type:
            if module.split('.')[0] not in ('numpy', 'copyreg', '_codecs', 'builtins'):
                raise AssertionError(f'unexpected class {module}.{name} in the pickle')
            return super().find_class(module, name)

    with open(written['neutral'], 'rb') as f:
        assert f.read(2) == b'\x80\x02'
        f.seek(0)
        arrays = NumpyOnly(f, encoding='latin1').load()
    assert {'bs_style', 'bs_type', *ARRAY_KEYS} <= set(arrays)


def test_project_loader_accepts_written_files(written: Dict[str, str]) -> None:
    from mroi_plugin.body_models.model_io import load_joint_regressor, load_smpl_model_data
    data, path = load_smpl_model_data(osp.dirname(written['female']), 'female')
    assert path == written['female']
    assert data['kintree_table'][0].tolist() == SMPL_PARENTS
    assert load_joint_regressor(written['h36m_regressor'], num_joints=17).shape == (17, 6890)


def test_writing_again_changes_nothing(written: Dict[str, str]) -> None:
    stamps = {k: Path(p).stat().st_mtime_ns for k, p in written.items()}
    lines = []
    assert write_standin_smpl(osp.dirname(written['neutral']), log=lines.append) == written
    assert {k: Path(p).stat().st_mtime_ns for k, p in written.items()} == stamps
    assert len(lines) == 4 and all(line.startswith('up to date') for line in lines)


def test_cli_reports_what_it_wrote(written: Dict[str, str], capsys: pytest.CaptureFixture,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tool = load_tool('make_standin_smpl')
    assert tool.DEFAULT_OUT_DIR == osp.join('data', 'body_models', 'standin')
    out_dir = osp.dirname(written['neutral'])
    monkeypatch.setattr(sys, 'argv', ['make_standin_smpl.py', '--out-dir', out_dir])
    tool.main()
    out = capsys.readouterr().out
    for name in (*STANDIN_FILE_NAMES.values(), STANDIN_H36M_REGRESSOR_NAME):
        assert f'up to date: {osp.join(out_dir, name)}' in out
    monkeypatch.setattr(sys, 'argv', ['make_standin_smpl.py', '--seed', '-1'])
    with pytest.raises(SystemExit, match='seed'):
        tool.main()


# ----------------------------------------------------------------------------- arrays, regressor
def test_smpl_format_shapes_and_tree(model: Dict[str, np.ndarray]) -> None:
    expected = {'v_template': (6890, 3), 'shapedirs': (6890, 3, 10), 'posedirs': (6890, 3, 207),
                'J_regressor': (24, 6890), 'weights': (6890, 24), 'kintree_table': (2, 24),
                'f': (13776, 3), 'J': (24, 3)}
    assert {k: model[k].shape for k in expected} == expected
    kintree = model['kintree_table']
    assert kintree[0, 0] == 2**32 - 1
    assert kintree[0, 1:].tolist() == SMPL_PARENTS[1:]
    assert kintree[1].tolist() == list(range(24))
    assert model['bs_style'] == 'lbs' and model['bs_type'] == 'lrotmin'


def test_joint_regressor_is_convex_and_reproduces_design(model: Dict[str, np.ndarray]) -> None:
    reg = model['J_regressor']
    assert reg.min() >= 0.
    np.testing.assert_allclose(reg.sum(axis=1), 1., atol=1e-12)
    np.testing.assert_allclose(reg @ model['v_template'], model['J'], atol=1e-6)
    # The documented design (module docstring), to the millimetre.
    design = {0: (0., -0.22, -0.005), 1: (0.09, -0.30, -0.01), 4: (0.09, -0.70, 0.),
              7: (0.09, -1.11, -0.02), 12: (0., 0.30, -0.01), 15: (0., 0.37, 0.018),
              16: (0.18, 0.25, -0.01), 18: (0.44, 0.25, -0.01), 21: (-0.69, 0.25, -0.01)}
    for joint, xyz in design.items():
        np.testing.assert_allclose(model['J'][joint], xyz, atol=1e-9)


def test_h36m_regressor(model: Dict[str, np.ndarray]) -> None:
    reg = make_standin_h36m_regressor(model)
    assert reg.shape == (17, 6890) and reg.min() >= 0.
    np.testing.assert_allclose(reg.sum(axis=1), 1., atol=1e-12)
    h36m = dict(zip(H36M_17_KEYPOINTS, reg @ model['v_template']))
    smpl = model['J']
    # Joints shared with SMPL sit on the SMPL joints of the same body side.
    for name, joint in (('left_hip_extra', 1), ('right_hip_extra', 2), ('left_knee', 4),
                        ('right_knee', 5), ('left_ankle', 7), ('right_ankle', 8),
                        ('left_shoulder', 16), ('right_shoulder', 17), ('left_elbow', 18),
                        ('right_elbow', 19), ('left_wrist', 20), ('right_wrist', 21)):
        np.testing.assert_allclose(h36m[name], smpl[joint], atol=1e-9)
    np.testing.assert_allclose(h36m['pelvis_extra'], 0.5 * (smpl[1] + smpl[2]), atol=1e-9)
    assert h36m['pelvis_extra'][1] < h36m['spine_extra'][1] < h36m['neck_extra'][1]
    assert h36m['neck_extra'][1] < h36m['head_extra'][1] < h36m['headtop'][1]
    assert h36m['headtop'][1] < model['v_template'][:, 1].max()
    # The same rows for any variant of the topology; refuses other meshes.
    np.testing.assert_array_equal(make_standin_h36m_regressor(make_standin_smpl(5, 'male')), reg)
    other = dict(model, f=model['f'][:, ::-1])
    with pytest.raises(ValueError, match='stand-in'):
        make_standin_h36m_regressor(other)


# ----------------------------------------------------------------------------- body geometry
def test_body_is_human_sized_and_symmetric(model: Dict[str, np.ndarray]) -> None:
    verts = model['v_template']
    assert 1.6 < height(verts) < 1.8
    np.testing.assert_allclose(height(verts), 1.70, atol=0.005)
    # The mirror image of the vertex set is the vertex set (to 1e-8 m), and the mirror vertex
    # carries the mirrored skinning weights and shape directions.
    mirror = mirror_permutation(verts)
    np.testing.assert_allclose(verts[mirror] * (-1., 1., 1.), verts, atol=1e-8)
    np.testing.assert_array_equal(np.sort(mirror), np.arange(6890))
    np.testing.assert_allclose(model['weights'][mirror][:, MIRROR], model['weights'], atol=1e-9)
    np.testing.assert_allclose(model['shapedirs'][mirror] * np.array([-1., 1., 1.])[:, None],
                               model['shapedirs'], atol=1e-9)
    np.testing.assert_allclose(model['J'][MIRROR] * (-1., 1., 1.), model['J'], atol=1e-12)
    # Faces the +z direction: the nose (smplx's vertex 332) is the front-most head vertex.
    assert verts[332, 2] == verts[verts[:, 1] > 0.3, 2].max()


def test_mesh_is_closed_oriented_and_non_degenerate(model: Dict[str, np.ndarray]) -> None:
    verts, faces = model['v_template'], model['f'].astype(np.int64)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = directed[:, 0] * 6890 + directed[:, 1]
    assert len(np.unique(keys)) == len(keys)  # no edge twice in one direction
    assert np.isin(directed[:, 1] * 6890 + directed[:, 0], keys).all()  # ... and each reversed
    assert 6890 - len(keys) // 2 + len(faces) == 2  # one closed genus-0 surface
    assert np.unique(faces).size == 6890  # no unused vertex
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert area.min() > 1e-7  # m^2
    volume = np.einsum('fi,fi->f', tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.
    assert 0.05 < volume < 0.1  # m^3: a ~70 kg human, with outward faces


def test_skinning_weights(model: Dict[str, np.ndarray]) -> None:
    weights, verts = model['weights'], model['v_template']
    assert weights.min() >= 0.
    np.testing.assert_allclose(weights.sum(axis=1), 1., atol=1e-12)
    # Vertices of the right body side never follow a left arm or leg joint.
    left_limbs = [1, 4, 7, 10, 13, 16, 18, 20, 22]
    assert weights[verts[:, 0] < -0.05][:, left_limbs].max() == 0.
    # Smooth: along the left forearm, the elbow's weight falls off gradually (no step).
    ring = (np.abs(verts[:, 1] - 0.25) < 0.1) & (verts[:, 0] > 0.3) & (verts[:, 0] < 0.6)
    x, w_elbow = verts[ring, 0], weights[ring, L_ELBOW]
    order = np.argsort(x)
    assert 0.3 < w_elbow[np.argmin(np.abs(x - 0.44))] < 0.7
    assert np.abs(np.diff(w_elbow[order])).max() < 0.35


def test_elbow_bend_moves_only_the_forearm(model: Dict[str, np.ndarray]) -> None:
    body = smpl_layer(model)
    angle = np.array([0., 0., np.pi / 2])  # left elbow: forearm from +x to +y
    pose = torch.zeros(1, 69, dtype=torch.float64)
    pose[0, 3 * (L_ELBOW - 1):3 * L_ELBOW] = torch.as_tensor(angle)
    with torch.no_grad():
        rest, bent = body(), body(body_pose=pose)
    v0, v1 = rest.vertices[0].numpy(), bent.vertices[0].numpy()
    j0, j1 = rest.joints[0, :24].numpy(), bent.joints[0, :24].numpy()
    forearm = np.linalg.norm(j0[L_WRIST] - j0[L_ELBOW])
    np.testing.assert_allclose(forearm, 0.25, atol=1e-9)
    rot = axis_angle_to_rotmat(angle)
    np.testing.assert_allclose(j1[L_WRIST], j0[L_ELBOW] + rot @ (j0[L_WRIST] - j0[L_ELBOW]),
                               atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(j1[L_WRIST] - j0[L_WRIST]), np.sqrt(2) * forearm,
                               atol=1e-6)
    # What follows only the elbow and its children (forearm, hand) turns rigidly about it.
    others = [j for j in range(24) if j not in LEFT_ARM_SUBTREE]
    rigid = model['weights'][:, others].sum(axis=1) == 0.
    assert rigid.sum() > 300
    expected = j0[L_ELBOW] + (v0[rigid] - j0[L_ELBOW]) @ rot.T
    np.testing.assert_allclose(v1[rigid], expected, atol=1e-6)
    # The hand (beyond the wrist) moves by about sqrt(2) x the forearm length.
    hand = v0[:, 0] > j0[L_WRIST, 0]
    moved = np.linalg.norm(v1[hand] - v0[hand], axis=1).mean()
    assert np.sqrt(2) * forearm < moved < 1.6 * np.sqrt(2) * forearm
    # Whatever does not follow the left arm stays where it was (smplx adds 1e-8 to angles).
    still = model['weights'][:, LEFT_ARM_SUBTREE].sum(axis=1) == 0.
    assert still.sum() > 5000
    np.testing.assert_allclose(v1[still], v0[still], atol=1e-6)
    # No tearing: edges near the bent elbow stretch by less than a factor 2.
    faces = model['f'].astype(np.int64)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    ratio = (np.linalg.norm(v1[edges[:, 0]] - v1[edges[:, 1]], axis=1)
             / np.linalg.norm(v0[edges[:, 0]] - v0[edges[:, 1]], axis=1))
    assert ratio.max() < 2.


# ----------------------------------------------------------------------------- shape space
def test_beta0_is_stature(model: Dict[str, np.ndarray]) -> None:
    verts, dirs = model['v_template'], model['shapedirs']
    heights = [height(verts + b * dirs[..., 0]) for b in np.linspace(-3, 3, 13)]
    assert np.all(np.diff(heights) > 0)
    gain = height(verts + 2 * dirs[..., 0]) - height(verts)
    loss = height(verts) - height(verts - 2 * dirs[..., 0])
    assert 0.10 < gain < 0.15 and 0.10 < loss < 0.15
    # A pure scaling about the origin: the regressed joints scale with it.
    scale = 1 + 2 * 0.036
    np.testing.assert_allclose(model['J_regressor'] @ (verts + 2 * dirs[..., 0]),
                               scale * model['J'], atol=1e-9)


def test_shape_directions_are_orthogonal_and_non_degenerate(
        model: Dict[str, np.ndarray]) -> None:
    flat = model['shapedirs'].reshape(-1, 10)
    rms = np.linalg.norm(flat, axis=0) / np.sqrt(6890)
    assert rms.min() > 1e-3 and rms.max() < 0.03  # m per beta, SMPL-like magnitudes
    unit = flat / np.linalg.norm(flat, axis=0)
    np.testing.assert_allclose(unit.T @ unit, np.eye(10), atol=1e-9)


def test_joints_follow_the_shape(model: Dict[str, np.ndarray]) -> None:
    verts, dirs, reg = model['v_template'], model['shapedirs'], model['J_regressor']
    rng = np.random.default_rng(0)
    for betas in rng.uniform(-2, 2, size=(3, 10)):
        shaped = verts + dirs @ betas
        joints = reg @ shaped
        # Each joint stays inside the (self-overlapping) closed surface.
        assert winding_numbers(joints, shaped, model['f'].astype(np.int64)).min() > 0.99
        np.testing.assert_allclose(joints[MIRROR] * (-1., 1., 1.), joints, atol=1e-9)
    # Semantic directions: beta 4 lengthens the arm (shoulder to wrist), beta 2 the legs (hip
    # to ankle) at the expense of the trunk (pelvis to neck), beta 3 widens the shoulders.
    def joints_at(k: int, b: float) -> np.ndarray:
        return reg @ (verts + b * dirs[..., k])

    def measure(k: int, fn) -> list:
        return [fn(joints_at(k, b)) for b in (-2., 0., 2.)]

    def increasing(values: list) -> bool:
        return values[0] < values[1] < values[2]

    assert increasing(measure(4, lambda j: np.linalg.norm(j[20] - j[16])))
    assert increasing(measure(2, lambda j: j[1, 1] - j[7, 1]))
    assert increasing(measure(2, lambda j: j[0, 1] - j[12, 1]))
    assert increasing(measure(3, lambda j: j[16, 0] - j[17, 0]))
    assert increasing(measure(5, lambda j: j[1, 0] - j[2, 0]))


def test_gendered_variants() -> None:
    variants = {g: make_standin_smpl(gender=g) for g in ('neutral', 'male', 'female')}
    for arrays in variants.values():
        np.testing.assert_array_equal(arrays['f'], variants['neutral']['f'])
    heights = {g: height(a['v_template']) for g, a in variants.items()}
    assert heights['female'] < heights['neutral'] < heights['male']

    def shoulder_to_hip(arrays: Dict[str, np.ndarray]) -> float:
        verts = arrays['v_template']
        hips = verts[np.abs(verts[:, 1] - arrays['J'][1, 1]) < 0.02]
        return (arrays['J'][16, 0] - arrays['J'][17, 0]) / np.ptp(hips[:, 0])

    assert shoulder_to_hip(variants['male']) > shoulder_to_hip(variants['female']) * 1.1


def test_deterministic_for_a_seed() -> None:
    first, second = make_standin_smpl(seed=7), make_standin_smpl(seed=7)
    assert pickle.dumps(first, protocol=2) == pickle.dumps(second, protocol=2)
    other = make_standin_smpl(seed=8)
    assert not np.array_equal(first['v_template'], other['v_template'])
    np.testing.assert_array_equal(first['f'], other['f'])
    assert 1.55 < height(other['v_template']) < 1.85


def test_landmarks_sit_at_smplx_vertex_ids(model: Dict[str, np.ndarray]) -> None:
    from smplx.vertex_ids import vertex_ids

    from mroi_plugin.synthetic.standin import SMPL_LANDMARK_VERTICES
    assert SMPL_LANDMARK_VERTICES == vertex_ids['smplh']
    v, j = model['v_template'], model['J']
    lm = {name: v[idx] for name, idx in SMPL_LANDMARK_VERTICES.items()}
    assert lm['leye'][0] > 0 > lm['reye'][0] and lm['lear'][0] > 0.05
    assert lm['nose'][2] > lm['leye'][2] > j[15, 2]
    assert lm['LHeel'][2] < j[7, 2] < j[10, 2] < lm['LBigToe'][2]
    assert lm['LSmallToe'][0] > lm['LBigToe'][0]  # the big toe is on the inner side
    for tip in ('lindex', 'lmiddle', 'lring', 'lpinky'):
        assert lm[tip][0] > j[22, 0]
    assert lm['lindex'][2] > lm['lmiddle'][2] > lm['lring'][2] > lm['lpinky'][2]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match='gender'):
        make_standin_smpl(gender='other')
    with pytest.raises(ValueError, match='seed'):
        make_standin_smpl(seed=-1)


def test_rasterizer_of_plot_tool() -> None:
    plot = load_tool('plot_body_model')
    # A 1 m cube with outward faces, seen from the front: a lit square filling its bounds.
    corners = np.array([[x, y, z] for x in (0., 1.) for y in (0., 1.) for z in (0., 1.)])
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))])
    centre = corners.mean(0)
    normals = np.cross(corners[faces[:, 1]] - corners[faces[:, 0]],
                       corners[faces[:, 2]] - corners[faces[:, 0]])
    assert np.all(np.einsum('fi,fi->f', normals, corners[faces].mean(1) - centre) > 0)
    image, bounds = plot.rasterize(corners, faces, 'front', pixel_size=0.05,
                                   bounds=(-0.5, 1.5, -0.5, 1.5))
    assert image.shape == (40, 40, 4)
    alpha = image[..., 3]
    assert alpha.sum() == 20 * 20 and alpha[10:30, 10:30].all()
    assert np.all(image[10:30, 10:30, :3] > 0)
    # Seen from the side the cube covers the same square (x of the image = z of the model).
    side, _ = plot.rasterize(corners, faces, 'side', pixel_size=0.05,
                             bounds=(-0.5, 1.5, -0.5, 1.5))
    np.testing.assert_array_equal(side[..., 3], alpha)
