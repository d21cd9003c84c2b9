"""2-process DDP on CPU (gloo) trains like 1 process with the same total batch (2x4 vs 1x8).

For the two runs to compute the same thing at every step:

- **Same samples per step.** ``DefaultSampler`` (here ``SeededSampler``, the same
  order) shuffles the whole set from ``seed + epoch`` on every rank and gives rank
  ``r`` positions ``r, r + 2, ...``; step ``s`` of the 2x4 run therefore covers
  positions ``8s .. 8s + 7`` of the same permutation, exactly the 1x8 batch (24
  people: no padding). The test checks it per step.
- **Same augmentation.** ``SeededSampler`` seeds each sample's transforms from
  ``(seed, epoch, index)``, so a person is flipped/rotated alike whichever rank
  loads it.
- **No batch statistics.** BatchNorm in training mode normalises with the
  statistics of the *per-process* batch (4 vs 8 people), and SyncBatchNorm needs
  CUDA. This test keeps every BatchNorm (backbone and the contrastive projector)
  in eval mode, so the comparison is about data order, loss normalisation,
  gradient averaging and the contrastive loss's cross-rank gather - not about a
  known, intended difference in BN statistics.
- **No dropout** (``head.dropout=0``): masks are drawn per process.
- **Per-sample means.** Every loss term is a mean over people (all synthetic
  people have every label), so the mean of the two ranks' losses is the
  8-person loss and DDP's averaged gradient is its gradient. The contrastive
  loss compares RoIs across people, so it gathers: every rank evaluates it on
  all 8 people and scales its local gradient by the world size (see
  ``multi_roi_supcon_loss``).

What is left is floating-point summation order (the gradient is averaged across
ranks instead of summed over one batch; convolutions see 4 instead of 8 images),
which Adam can amplify for parameters whose gradient is close to zero. Measured
over the 9 steps here: at most 3e-7 relative difference in any loss term. The
tolerance, ``rtol=1e-4``, is far above that and far below what real differences
give (measured on this test: per-process BatchNorm statistics 0.26, the
contrastive loss with only the local RoIs as anchors, the usual implementation,
8e-3), and the loss moves by ~1e-1 relative from step to step.
"""

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.config import Config

# Spawned workers unpickle their function by module name: it lives in a module
# importable as ``tests.test_engine.ddp_helpers`` from the repository root.
from tests.dist_utils import free_port
from tests.test_engine.ddp_helpers import ddp_worker, train_and_record

from .conftest import tiny_config

STEPS_PER_EPOCH = 3  # 24 people, 8 per step
EPOCHS = 3
RTOL = 1e-4


def _config(data, work_dir, batch_size: int) -> Config:
    cfg = tiny_config(data, work_dir)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=EPOCHS)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.train_dataloader.batch_size = batch_size
    cfg.train_dataloader.sampler = dict(type='SeededSampler', shuffle=True)
    cfg.model.head.dropout = 0.0
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.log_processor = dict(by_epoch=True, window_size=1)
    return cfg


@pytest.mark.slow
def test_two_processes_follow_the_single_process_loss_curve(tiny_data, tmp_path):
    ddp_config = tmp_path / 'ddp.py'
    _config(tiny_data, tmp_path / 'ddp', batch_size=4).dump(str(ddp_config))
    out = tmp_path / 'ddp_losses.pt'
    port = str(free_port())
    mp.spawn(ddp_worker, args=(2, str(ddp_config), port, str(out)), nprocs=2)
    ddp = torch.load(out)

    single_config = tmp_path / 'single.py'
    _config(tiny_data, tmp_path / 'single', batch_size=8).dump(str(single_config))
    single = train_and_record(str(single_config), 'none')

    assert len(single.losses) == len(ddp['losses']) == EPOCHS * STEPS_PER_EPOCH
    # The same 8 people in every step.
    assert ddp['people'] == single.people
    assert all(len(set(people)) == 8 for people in single.people)
    # The same loss, term by term, at every step.
    for step, (one, two) in enumerate(zip(single.losses, ddp['losses'])):
        assert one.keys() == two.keys()
        for name in one:
            assert two[name] == pytest.approx(one[name], rel=RTOL), (step, name, one, two)
    # And the curve moves by far more than the tolerance (training happens).
    totals = [step['loss'] for step in single.losses]
    assert max(abs(b - a) / a for a, b in zip(totals, totals[1:])) > 100 * RTOL
