"""MultiRoIContrastiveLoss: SupCon against a double loop, closed forms, invariances, DDP."""
import math

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from mroi_plugin.models.losses import MultiRoIContrastiveLoss, multi_roi_supcon_loss, supcon_loss
from mroi_plugin.registry import MODELS

DIM = 8
TAU = 0.5


def _unit(*shape, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=gen, dtype=dtype), dim=-1)


def _double_loop_supcon(z, labels, tau=TAU, scale=True):
    """SupCon written anchor by anchor, pair by pair (Khosla et al., L_out)."""
    count = len(labels)
    total, anchors = 0.0, 0
    for a in range(count):
        denominator = sum(math.exp(float(z[a] @ z[k]) / tau) for k in range(count) if k != a)
        positives = [p for p in range(count) if p != a and labels[p] == labels[a]]
        if not positives:
            continue
        terms = [math.log(math.exp(float(z[a] @ z[p]) / tau) / denominator) for p in positives]
        total += -sum(terms) / len(positives)
        anchors += 1
    loss = total / anchors
    return loss * tau if scale else loss


def test_supcon_equals_double_loop_with_uneven_labels():
    z = _unit(7, DIM)
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 3])  # person 1 and 3: no positives
    loss = supcon_loss(z, labels, z, labels, torch.arange(7), TAU, True)
    assert loss.item() == pytest.approx(_double_loop_supcon(z, labels.tolist()), rel=1e-10)
    unscaled = supcon_loss(z, labels, z, labels, torch.arange(7), TAU, False)
    assert unscaled.item() == pytest.approx(loss.item() / TAU, rel=1e-10)


@pytest.mark.parametrize('tau', [0.1, 0.5, 1.0])
def test_multi_roi_supcon_equals_double_loop(tau):
    z = _unit(3, 4, DIM, seed=1)
    labels = [b for b in range(3) for _ in range(4)]
    loss = multi_roi_supcon_loss(z, tau)
    reference = _double_loop_supcon(z.reshape(12, DIM), labels, tau)
    assert loss.item() == pytest.approx(reference, rel=1e-10)


def test_closed_form_for_identical_rois_and_orthogonal_people():
    # z_a.z_p = 1 within a person, 0 across: every anchor has N - 1 positives with logit 1/tau
    # and (B - 1) N negatives with logit 0, so
    # l = -(1/tau - log((N - 1) e^(1/tau) + (B - 1) N)), L = tau * l.
    batch, num_rois = 3, 4
    z = torch.eye(DIM, dtype=torch.float64)[:batch].unsqueeze(1).expand(-1, num_rois, -1)
    expected = -TAU * (1 / TAU - math.log((num_rois - 1) * math.exp(1 / TAU) +
                                          (batch - 1) * num_rois))
    assert multi_roi_supcon_loss(z, TAU).item() == pytest.approx(expected, rel=1e-12)


def test_invariant_to_permuting_people_and_rois():
    z = _unit(4, 3, DIM, seed=2)
    loss = multi_roi_supcon_loss(z)
    torch.testing.assert_close(multi_roi_supcon_loss(z[torch.tensor([2, 0, 3, 1])]), loss)
    torch.testing.assert_close(multi_roi_supcon_loss(z[:, torch.tensor([2, 0, 1])]), loss)


def test_decreases_when_each_persons_rois_align():
    z = _unit(4, 5, DIM, seed=3)
    person_mean = z.mean(dim=1, keepdim=True)
    losses = [
        multi_roi_supcon_loss(F.normalize(z + t * (person_mean - z), dim=-1)).item()
        for t in (0.0, 0.5, 0.9, 1.0)
    ]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))


def _module(**kwargs):
    torch.manual_seed(0)
    return MultiRoIContrastiveLoss(DIM, **kwargs)


def test_module_equals_core_on_its_embedding_and_gradients_flow():
    loss_fn = _module(loss_weight=0.1)
    feats = torch.randn(3, 5, DIM).abs().requires_grad_(True)
    loss = loss_fn(feats)
    z = loss_fn.embed(feats)
    assert z.shape == (3, 5, DIM)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(3, 5))
    torch.testing.assert_close(loss, 0.1 * multi_roi_supcon_loss(z))
    loss.backward()
    assert feats.grad.abs().sum() > 0
    for name, param in loss_fn.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_gate_and_projection_options():
    loss_fn = _module(gate=None, proj_channels=4)
    feats = torch.randn(2, 3, DIM)
    assert loss_fn.embed(feats).shape == (2, 3, 4)
    # The SiLU gate is f * sigmoid(f), the authors' f * sigmoid(relu(f)) on f >= 0.
    gated, plain = _module(gate='silu').eval(), _module(gate=None).eval()
    positive = feats.abs()
    torch.testing.assert_close(gated.embed(positive),
                               plain.embed(positive * torch.sigmoid(torch.relu(positive))))
    with pytest.raises(ValueError, match='gate'):
        _module(gate='sigmoid')


@pytest.mark.parametrize('shape', [(4, 1, DIM), (1, 1, DIM)])
def test_single_roi_gives_zero_attached_to_every_parameter(shape):
    loss_fn = _module()
    feats = torch.randn(*shape, requires_grad=True)
    loss = loss_fn(feats)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(feats.grad, torch.zeros_like(feats))
    assert all(p.grad is not None for p in loss_fn.parameters())


def test_registry_and_errors():
    loss_fn = MODELS.build(dict(type='MultiRoIContrastiveLoss', in_channels=DIM))
    assert loss_fn.temperature == 0.5 and loss_fn.scale_by_temperature
    with pytest.raises(ValueError, match='in_channels'):
        loss_fn(torch.randn(2, 3, DIM + 1))
    with pytest.raises(ValueError, match='temperature'):
        _module(temperature=0.0)


# ----------------------------------------------------------------- two processes (gloo)
def _ddp_worker(rank, world_size, init_file, cases, out_dir):
    """Per case (one z slice per rank): gathered loss, its gradient, the local-only loss."""
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=world_size)
    try:
        results = []
        for z_parts in cases:
            z = z_parts[rank].clone().requires_grad_(True)
            loss = multi_roi_supcon_loss(z, TAU, True, gather_distributed=True)
            loss.backward()
            local = multi_roi_supcon_loss(z.detach(), TAU, True, gather_distributed=False)
            results.append((loss.item(), z.grad.clone(), local.item()))
        torch.save(results, f'{out_dir}/rank{rank}.pt')
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.slow
def test_gathered_loss_equals_single_process_loss_on_concatenated_batch(tmp_path):
    z = _unit(6, 4, DIM, seed=4).requires_grad_(True)
    full_loss = multi_roi_supcon_loss(z, TAU)
    full_loss.backward()
    full, full_grad = full_loss.item(), z.grad
    z = z.detach()
    # Equal batches (3 + 3 people), and uneven ones (4 + 2) that the gather must pad.
    cases = [[z[:3], z[3:]], [z[:4], z[4:]]]
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / 'dist_init'), cases, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f'rank{rank}.pt') for rank in range(2)]
    (equal0, equal1), (uneven0, uneven1) = zip(*ranks)

    # Every rank reports the loss of the concatenated batch, for equal and uneven batches.
    for loss, _, _ in (equal0, equal1, uneven0, uneven1):
        assert loss == pytest.approx(full, rel=1e-10)
    # DDP's mean of the ranks' gradients is the gradient of that loss: each rank's
    # embeddings also get the terms in which they are the other rank's negatives.
    for part0, part1 in ((equal0, equal1), (uneven0, uneven1)):
        torch.testing.assert_close(torch.cat([part0[1], part1[1]]) / 2, full_grad, rtol=1e-10,
                                   atol=1e-12)
    for loss, _, local in (equal0, equal1):
        # The other rank's RoIs really entered: the local-only loss differs.
        assert local != pytest.approx(loss, rel=1e-6)
