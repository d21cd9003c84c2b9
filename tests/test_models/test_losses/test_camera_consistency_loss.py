"""CameraConsistencyLoss: zero for one shared camera, hand values, pair modes, compat mode."""
import pytest
import torch

from mroi_plugin.geometry import cam_full_to_crop
from mroi_plugin.models.losses import CameraConsistencyLoss
from mroi_plugin.registry import MODELS


def _consistent_batch(batch=3, num_rois=5, seed=0, dtype=torch.float64):
    """Crop cameras of N random RoIs that all come from one full camera per person."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=dtype)

    focal = 800 + 1200 * rand(batch)
    principal = torch.stack([300 + 400 * rand(batch), 200 + 300 * rand(batch)], dim=-1)
    cam_full = torch.stack([rand(batch) - 0.5, rand(batch) - 0.5, 4 + 10 * rand(batch)], dim=-1)
    centers = 100 + 800 * rand(batch, num_rois, 2)
    sizes = 80 + 300 * rand(batch, num_rois)
    cam_crop = cam_full_to_crop(
        cam_full.unsqueeze(1).expand(-1, num_rois, -1), centers, sizes,
        focal.unsqueeze(1).expand(-1, num_rois), principal.unsqueeze(1).expand(-1, num_rois, -1))
    return cam_crop, centers, sizes, focal, principal


@pytest.mark.parametrize('cfg', [dict(), dict(pairs='star'), dict(compat_official=True),
                                 dict(depth_term='log')])
def test_zero_for_cameras_of_one_full_camera_and_positive_when_perturbed(cfg):
    loss_fn = CameraConsistencyLoss(**cfg)
    cam_crop, centers, sizes, focal, principal = _consistent_batch()
    assert loss_fn(cam_crop, centers, sizes, focal, principal) <= 1e-10
    for axis in range(3):
        perturbed = cam_crop.clone()
        perturbed[1, 3, axis] += 0.05
        assert loss_fn(perturbed, centers, sizes, focal, principal) > 1e-8


def test_float32_consistent_cameras_are_near_zero():
    batch = [t.float() for t in _consistent_batch()]
    assert CameraConsistencyLoss()(*batch) < 1e-6


def _two_roi_example():
    # f = 1000, p = (500, 400).
    # RoI 0: c = (600, 400), b = 200, (s, tx, ty) = (1.0, 0.1, 0.2): bs = 200,
    #        Tx = 0.1 + 2 * 100 / 200 = 1.1, Ty = 0.2.
    # RoI 1: c = (500, 500), b = 100, (s, tx, ty) = (2.5, 0, 0): bs = 250,
    #        Tx = 0, Ty = 2 * 100 / 250 = 0.8.
    cam_crop = torch.tensor([[[1.0, 0.1, 0.2], [2.5, 0.0, 0.0]]], dtype=torch.float64)
    centers = torch.tensor([[[600.0, 400.0], [500.0, 500.0]]], dtype=torch.float64)
    sizes = torch.tensor([[200.0, 100.0]], dtype=torch.float64)
    focal = torch.tensor([1000.0], dtype=torch.float64)
    principal = torch.tensor([[500.0, 400.0]], dtype=torch.float64)
    return cam_crop, centers, sizes, focal, principal


def test_hand_computed_value_for_two_rois():
    # dTx = 1.1, dTy = -0.6, d(bs) = -50:
    # 0.1 * 1.21 + 0.1 * 0.36 + 1e-4 * 2500 = 0.407.
    inputs = _two_roi_example()
    loss = CameraConsistencyLoss()(*inputs)
    torch.testing.assert_close(loss, torch.tensor(0.407, dtype=torch.float64))
    weighted = CameraConsistencyLoss(loss_weight=2.0, axis_weights=(1.0, 0.0, 0.0))(*inputs)
    torch.testing.assert_close(weighted, torch.tensor(2 * 1.21, dtype=torch.float64))


def test_hand_computed_value_in_compat_mode():
    # Pairs (0, 0), (0, 1): mean[(0)^2, (1.1 - 0.6)^2] + mean[0, (1e-4 * 50)^2]
    # = 0.125 + 1.25e-5.
    loss = CameraConsistencyLoss(compat_official=True)(*_two_roi_example())
    torch.testing.assert_close(loss, torch.tensor(0.125 + 1.25e-5, dtype=torch.float64))


def test_all_versus_star_pairs():
    # Only RoI 2 of 3 is off by delta in tx (so in Tx); b*s is unchanged.
    # all pairs (0,1), (0,2), (1,2): 0.1 * 2 delta^2 / 3; star (0,1), (0,2): 0.1 * delta^2 / 2.
    cam_crop, centers, sizes, focal, principal = _consistent_batch(batch=1, num_rois=3)
    delta = 0.3
    cam_crop[0, 2, 1] += delta
    inputs = (cam_crop, centers, sizes, focal, principal)
    all_pairs = CameraConsistencyLoss(pairs='all')(*inputs)
    star = CameraConsistencyLoss(pairs='star')(*inputs)
    torch.testing.assert_close(all_pairs, torch.tensor(0.1 * 2 * delta**2 / 3, dtype=torch.float64))
    torch.testing.assert_close(star, torch.tensor(0.1 * delta**2 / 2, dtype=torch.float64))


def _official_formula(cam_crop, centers, sizes, focal, principal):
    """The released code's Trainer.camera_losses, written out."""
    batch, num_rois = cam_crop.shape[:2]
    rx, ry, rs = [], [], []
    for b in range(batch):
        w_half, h_half = principal[b]
        bs_o = sizes[b, 0] * cam_crop[b, 0, 0] + 1e-9
        for j in range(num_rois):
            bs_j = sizes[b, j] * cam_crop[b, j, 0] + 1e-9
            rx.append(cam_crop[b, 0, 1] - cam_crop[b, j, 1] - 2 * (
                (centers[b, j, 0] - w_half) / bs_j - (centers[b, 0, 0] - w_half) / bs_o))
            ry.append(cam_crop[b, 0, 2] - cam_crop[b, j, 2] - 2 * (
                (centers[b, j, 1] - h_half) / bs_j - (centers[b, 0, 1] - h_half) / bs_o))
            rs.append(1e-4 * (bs_j - bs_o))
    rx, ry, rs = torch.stack(rx), torch.stack(ry), torch.stack(rs)
    mse = torch.nn.MSELoss()
    return mse(rx + ry, torch.zeros_like(rx)) + mse(rs, torch.zeros_like(rs))


def test_compat_mode_equals_the_official_formula_on_random_inputs():
    gen = torch.Generator().manual_seed(3)
    cam_crop, centers, sizes, focal, principal = _consistent_batch(batch=4, num_rois=5)
    cam_crop = cam_crop + 0.2 * torch.randn(cam_crop.shape, generator=gen, dtype=torch.float64)
    inputs = (cam_crop, centers, sizes, focal, principal)
    loss = CameraConsistencyLoss(compat_official=True, loss_weight=0.5)(*inputs)
    torch.testing.assert_close(loss, 0.5 * _official_formula(*inputs))


def test_gradient_step_reduces_the_loss():
    cam_crop, centers, sizes, focal, principal = _consistent_batch()
    gen = torch.Generator().manual_seed(1)
    cam_crop = (cam_crop + 0.1 * torch.randn(cam_crop.shape, generator=gen,
                                             dtype=torch.float64)).requires_grad_(True)
    loss_fn = CameraConsistencyLoss()
    loss = loss_fn(cam_crop, centers, sizes, focal, principal)
    loss.backward()
    with torch.no_grad():
        stepped = cam_crop - 1e-3 * cam_crop.grad / cam_crop.grad.norm()
    assert loss_fn(stepped, centers, sizes, focal, principal) < loss


@pytest.mark.parametrize('cfg', [dict(), dict(compat_official=True)])
def test_finite_value_and_gradient_when_scale_is_zero(cfg):
    cam_crop, centers, sizes, focal, principal = [t.float() for t in _consistent_batch()]
    cam_crop[0, 2, 0] = 0.0
    cam_crop[1, 0, 0] = 1e-12
    cam_crop.requires_grad_(True)
    loss = CameraConsistencyLoss(**cfg)(cam_crop, centers, sizes, focal, principal)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(cam_crop.grad).all()


def test_float64_gradcheck():
    cam_crop, centers, sizes, focal, principal = _consistent_batch(batch=2, num_rois=3)
    cam_crop = (cam_crop + 0.05).requires_grad_(True)
    loss_fn = CameraConsistencyLoss()
    assert torch.autograd.gradcheck(
        lambda cam: loss_fn(cam, centers, sizes, focal, principal), (cam_crop, ))


def test_single_roi_gives_zero_attached_to_the_graph():
    cam_crop, centers, sizes, focal, principal = _consistent_batch(num_rois=1)
    cam_crop.requires_grad_(True)
    loss = CameraConsistencyLoss()(cam_crop, centers, sizes, focal, principal)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(cam_crop.grad, torch.zeros_like(cam_crop))


def test_registry_and_errors():
    loss_fn = MODELS.build(dict(type='CameraConsistencyLoss', pairs='star'))
    assert loss_fn.pairs == 'star' and loss_fn.axis_weights == (0.1, 0.1, 1e-4)
    with pytest.raises(ValueError, match='axis_weights'):
        CameraConsistencyLoss(compat_official=True, axis_weights=(1, 1, 1))
    with pytest.raises(ValueError, match='star'):
        CameraConsistencyLoss(compat_official=True, pairs='all')
    with pytest.raises(ValueError, match='pairs'):
        CameraConsistencyLoss(pairs='chain')
    cam_crop, centers, sizes, focal, principal = _consistent_batch()
    with pytest.raises(ValueError, match='roi_sizes'):
        loss_fn(cam_crop, centers, sizes[:, :2], focal, principal)
    with pytest.raises(ValueError, match='principal_point'):
        loss_fn(cam_crop, centers, sizes, focal, principal[:, :1])


def test_log_depth_term_hand_value():
    # Same two RoIs: bs = 200 and 250, so the log term is (log 200 - log 250)^2 = log(0.8)^2.
    loss = CameraConsistencyLoss(depth_term='log', axis_weights=(0.0, 0.0, 1.0))
    expected = torch.log(torch.tensor(0.8, dtype=torch.float64))**2
    torch.testing.assert_close(loss(*_two_roi_example()), expected)
    # Default weights (0.1, 0.1, 1.0): 0.1 * 1.21 + 0.1 * 0.36 + log(0.8)^2.
    torch.testing.assert_close(
        CameraConsistencyLoss(depth_term='log')(*_two_roi_example()), 0.157 + expected)


def test_log_depth_term_is_resolution_independent():
    # Every pixel quantity x3 (a 3x larger image of the same scene, same field of view): the
    # translation terms and the log term do not change; the paper's b*s term grows 9x.
    cam_crop, centers, sizes, focal, principal = _two_roi_example()
    big = (cam_crop, 3 * centers, 3 * sizes, 3 * focal, 3 * principal)
    depth_only = dict(axis_weights=(0.0, 0.0, 1.0))
    log_loss = CameraConsistencyLoss(depth_term='log', **depth_only)
    torch.testing.assert_close(log_loss(*big), log_loss(*_two_roi_example()))
    bs_loss = CameraConsistencyLoss(**depth_only)
    torch.testing.assert_close(bs_loss(*big), 9 * bs_loss(*_two_roi_example()))


def test_log_depth_term_gradient_pulls_scales_together():
    cam_crop, centers, sizes, focal, principal = _two_roi_example()
    cam_crop.requires_grad_(True)
    CameraConsistencyLoss(depth_term='log', axis_weights=(0.0, 0.0, 1.0))(
        cam_crop, centers, sizes, focal, principal).backward()
    # RoI 0 is the farther one (bs 200 < 250): descent raises its s and lowers RoI 1's.
    grad = cam_crop.grad[0, :, 0]
    assert grad[0] < 0 < grad[1]
    # d/ds_0 (log(b0 s0) - log(b1 s1))^2 = 2 log(0.8) / s0 (s0 = 1); d/ds_1 = -2 log(0.8) / 2.5.
    log_ratio = torch.log(torch.tensor(0.8, dtype=torch.float64))
    torch.testing.assert_close(grad, torch.stack([2 * log_ratio, -2 * log_ratio / 2.5]))


def test_log_depth_term_options():
    with pytest.raises(ValueError, match='depth_term'):
        CameraConsistencyLoss(depth_term='ratio')
    with pytest.raises(ValueError, match='compat_official'):
        CameraConsistencyLoss(compat_official=True, depth_term='log')
    assert CameraConsistencyLoss(depth_term='log').axis_weights == (0.1, 0.1, 1.0)
