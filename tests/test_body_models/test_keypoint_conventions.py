"""Keypoint conventions: name tables, conversion by name, flips."""
import numpy as np
import pytest
import torch

from mroi_plugin.body_models import (
    convert_keypoints,
    get_flip_indices,
    get_flip_pairs,
    get_keypoint_index,
    get_keypoint_names,
    get_keypoint_num,
    get_mapping,
    register_keypoint_convention,
)
from mroi_plugin.body_models import keypoint_conventions as kc

CONVENTIONS = ('smpl_24', 'h36m_17', 'lsp_14', 'coco_17', 'human_data')
# Independent truths from SPIN / CLIFF (constants.py): the evaluation subset of the H36M
# regressor, and the left/right permutations of the LSP-14 and SMPL-24 joints.
H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
J14_FLIP_PERM = [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13]
SMPL_FLIP_PERM = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20,
                  23, 22]


def swap_side(name: str) -> str:
    if name.startswith('left_'):
        return 'right_' + name[5:]
    if name.startswith('right_'):
        return 'left_' + name[6:]
    return name


def test_tables_have_expected_sizes_and_canonical_names():
    sizes = {'smpl_24': 24, 'h36m_17': 17, 'lsp_14': 14, 'coco_17': 17, 'human_data': 190}
    human_data = get_keypoint_names('human_data')
    assert len(set(human_data)) == 190
    for convention, size in sizes.items():
        names = get_keypoint_names(convention)
        assert get_keypoint_num(convention) == len(names) == len(set(names)) == size
        assert set(names) <= set(human_data)
    # Spot checks of facts: HumanData indices, and regressor-specific names.
    assert human_data.index('pelvis') == 0 and human_data.index('right_hand') == 189
    assert human_data.index('headtop') == 147
    assert get_keypoint_names('h36m_17')[0] == 'pelvis_extra'
    assert get_keypoint_index('left_hip_extra', 'coco_17') == 11


def test_h36m_to_lsp14_reproduces_the_standard_evaluation_indices():
    dst_idx, src_idx = get_mapping('h36m_17', 'lsp_14')
    assert dst_idx.tolist() == list(range(14))
    assert src_idx.tolist() == H36M_TO_J14
    joints = np.random.default_rng(0).normal(size=(5, 17, 3))
    lsp, mask = convert_keypoints(joints, 'h36m_17', 'lsp_14')
    np.testing.assert_array_equal(lsp, joints[:, H36M_TO_J14])
    assert mask.shape == (5, 14) and np.all(mask == 1)


@pytest.mark.parametrize('convention', ['smpl_24', 'h36m_17', 'lsp_14', 'coco_17'])
def test_round_trip_through_human_data_is_identity(convention):
    rng = np.random.default_rng(1)
    keypoints = rng.normal(size=(2, 3, get_keypoint_num(convention), 4)).astype(np.float32)
    mask = (rng.random((2, 3, get_keypoint_num(convention))) > 0.3).astype(np.float32)
    full, full_mask = convert_keypoints(keypoints, convention, 'human_data', mask)
    assert full.shape == (2, 3, 190, 4) and full.dtype == np.float32
    assert full_mask.sum() == mask.sum()
    back, back_mask = convert_keypoints(full, 'human_data', convention, full_mask)
    np.testing.assert_array_equal(back, keypoints)
    np.testing.assert_array_equal(back_mask, mask)


def test_missing_joints_are_zero_and_masked_unless_approximate():
    joints = np.arange(17 * 3, dtype=np.float64).reshape(17, 3) + 1
    smpl, mask = convert_keypoints(joints, 'h36m_17', 'smpl_24')
    names = get_keypoint_names('smpl_24')
    h36m = get_keypoint_names('h36m_17')
    for j, name in enumerate(names):
        if name in h36m:
            assert mask[j] == 1
            np.testing.assert_array_equal(smpl[j], joints[h36m.index(name)])
        else:
            assert mask[j] == 0 and np.all(smpl[j] == 0)
    # The H36M pelvis is a different joint from SMPL's: only approximate mode uses it.
    assert mask[names.index('pelvis')] == 0
    approx, approx_mask = convert_keypoints(joints, 'h36m_17', 'smpl_24', approximate=True)
    assert approx_mask[names.index('pelvis')] == 1
    np.testing.assert_array_equal(approx[names.index('pelvis')], joints[0])
    np.testing.assert_array_equal(approx[names.index('left_hip')], joints[1])


def test_torch_conversion_keeps_dtype_device_and_gradients():
    keypoints = torch.randn(4, 24, 2, dtype=torch.float64, requires_grad=True)
    coco, mask = convert_keypoints(keypoints, 'smpl_24', 'coco_17')
    assert coco.dtype == torch.float64 and mask.shape == (4, 17)
    coco.sum().backward()
    # Exactly the SMPL joints COCO uses receive gradient (shoulders..wrists, knees, ankles).
    used = sorted(get_mapping('smpl_24', 'coco_17')[1].tolist())
    assert used == [4, 5, 7, 8, 16, 17, 18, 19, 20, 21]
    expected = torch.zeros(24, dtype=torch.float64)
    expected[used] = 1
    torch.testing.assert_close(keypoints.grad[0, :, 0], expected)


def test_given_mask_is_carried_and_broadcast():
    keypoints = torch.ones(3, 14, 3)
    mask = torch.tensor([1., 0.] * 7)
    lsp, out_mask = convert_keypoints(keypoints, 'lsp_14', 'h36m_17', mask)
    assert out_mask.shape == (3, 17)
    expected = torch.zeros(17)
    dst, src = get_mapping('lsp_14', 'h36m_17')
    expected[dst] = mask[src]
    torch.testing.assert_close(out_mask, expected.expand(3, 17))
    bool_mask = np.ones(14, dtype=bool)
    _, out_bool = convert_keypoints(np.ones((14, 2)), 'lsp_14', 'coco_17', bool_mask)
    assert out_bool.dtype == bool and out_bool.sum() == len(get_mapping('lsp_14', 'coco_17')[0])


@pytest.mark.parametrize('convention', CONVENTIONS)
def test_flip_indices_are_involutions_that_swap_sides(convention):
    names = get_keypoint_names(convention)
    flip = get_flip_indices(convention)
    assert sorted(flip) == list(range(len(names)))
    assert [flip[i] for i in flip] == list(range(len(names)))
    assert [names[flip[i]] for i in range(len(names))] == [swap_side(n) for n in names]
    for left, right in get_flip_pairs(convention):
        assert names[left].startswith('left_') and names[right] == swap_side(names[left])


def test_flip_indices_match_spin():
    assert get_flip_indices('lsp_14') == J14_FLIP_PERM
    assert get_flip_indices('smpl_24') == SMPL_FLIP_PERM


def test_errors_are_explicit(monkeypatch):
    with pytest.raises(ValueError, match=r"Unknown keypoint convention 'smpl_99'.*smpl_24"):
        get_keypoint_names('smpl_99')
    with pytest.raises(ValueError, match=r'must be \(\.\.\., 17, C\)'):
        convert_keypoints(np.zeros((2, 16, 3)), 'h36m_17', 'lsp_14')
    with pytest.raises(ValueError, match="has no joint 'nose'"):
        get_keypoint_index('nose', 'lsp_14')
    monkeypatch.setattr(kc, '_CONVENTIONS', dict(kc._CONVENTIONS))
    with pytest.raises(ValueError, match=r"\['elbow'\] are not human_data joint names"):
        register_keypoint_convention('custom', ['pelvis', 'elbow'])
    with pytest.raises(ValueError, match='duplicate'):
        register_keypoint_convention('custom', ['pelvis', 'pelvis'])
    with pytest.raises(ValueError, match='already exists'):
        register_keypoint_convention('lsp_14', ['pelvis'])
    register_keypoint_convention('custom', ['pelvis', 'left_knee'])
    assert get_keypoint_num('custom') == 2
    with pytest.raises(ValueError, match=r"\['left_knee'\] have no left/right partner"):
        get_flip_indices('custom')
