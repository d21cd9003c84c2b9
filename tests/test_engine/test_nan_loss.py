"""A NaN loss in the middle of training: named, training stops, the last checkpoint stays finite."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner, find_latest_checkpoint

from mroi_plugin.utils import register_all_modules

from .conftest import tiny_epoch_config

register_all_modules(init_default_scope=False)

NAN_AT_ITER = 8  # the third iteration of epoch 2, after epoch_1.pth was written


class _CorruptOneBatch(Hook):
    """Puts a NaN into one ground-truth 3D joint of the batch at iteration ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.corrupted = None
        self.finished_iters = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at:
            sample = data_batch['data_samples'][0]
            sample.keypoints3d[0, 0] = float('nan')
            self.corrupted = sample.metainfo['img_path']

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.finished_iters.append(runner.iter)


def test_nan_loss_names_term_and_batch_and_keeps_the_finite_checkpoint(tiny_data, tmp_path):
    cfg = tiny_epoch_config(tiny_data, tmp_path, max_epochs=3)
    # In the main process: a persistent worker costs seconds to shut down when
    # this Runner is garbage-collected, and the data play no part here.
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    corrupt = _CorruptOneBatch(NAN_AT_ITER)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(corrupt)
    with pytest.raises(FloatingPointError) as error:
        runner.train()
    message = str(error.value)
    assert "'loss_keypoints3d'" in message and corrupt.corrupted in message, message
    assert 'optimiser step was not applied' in message

    # Training stopped at the bad batch: no later iteration ran, nothing was
    # saved after it, and the in-memory weights are still finite.
    assert corrupt.finished_iters == list(range(NAN_AT_ITER))
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    for name, value in runner.model.state_dict().items():
        assert torch.isfinite(value).all(), name

    # The last good checkpoint is what --resume would pick, loads with the
    # safe loader, and every tensor in it is finite.
    latest = find_latest_checkpoint(str(tmp_path))
    assert latest is not None and latest.endswith('epoch_1.pth')
    checkpoint = torch.load(latest, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 6
    tensors = list(checkpoint['state_dict'].items()) + [
        (f'optimizer.{key}.{name}', value)
        for key, state in checkpoint['optimizer']['state'].items()
        for name, value in state.items() if isinstance(value, torch.Tensor)]
    assert len(tensors) > len(checkpoint['state_dict'])
    for name, value in tensors:
        assert torch.isfinite(value).all(), name
    # The weights load into the model.
    runner.load_checkpoint(latest)
