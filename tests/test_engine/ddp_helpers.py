"""Training entry points for the DDP test, importable by spawned workers."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.hooks import Hook
from torch.nn.modules.batchnorm import _BatchNorm

from mroi_plugin.apis import build_runner
from mroi_plugin.utils import destroy_distributed, register_all_modules

__all__ = ['RecordLossesFrozenBN', 'train_and_record', 'ddp_worker']


class RecordLossesFrozenBN(Hook):
    """Keeps BatchNorm in eval mode; records the rank-mean losses and the step's people."""

    def __init__(self) -> None:
        self.losses = []
        self.people = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        # After the loop's model.train(): no per-process batch statistics.
        for module in runner.model.modules():
            if isinstance(module, _BatchNorm):
                module.eval()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        names = sorted(outputs)
        values = torch.stack([outputs[name].detach().float() for name in names])
        people = [int(s.metainfo['sample_idx']) for s in data_batch['data_samples']]
        if torch_dist.is_initialized():
            torch_dist.all_reduce(values)
            values /= torch_dist.get_world_size()
            every_rank = [None] * torch_dist.get_world_size()
            torch_dist.all_gather_object(every_rank, people)
            people = [p for rank_people in every_rank for p in rank_people]
        self.losses.append(dict(zip(names, values.tolist())))
        self.people.append(sorted(people))


def train_and_record(config_path: str, launcher: str) -> RecordLossesFrozenBN:
    """Build through ``build_runner`` (tools/train.py's path: gloo on CPU) and train.

    Args:
        config_path (str): A dumped config.
        launcher (str): ``'none'`` or ``'pytorch'`` (rank and world from the environment).

    Returns:
        RecordLossesFrozenBN: The hook with the per-step losses and people.
    """
    torch.set_num_threads(1)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config_path)
    cfg.launcher = launcher
    runner = build_runner(cfg, launcher)
    recorder = RecordLossesFrozenBN()
    runner.register_hook(recorder)
    runner.train()
    return recorder


def ddp_worker(rank: int, world_size: int, config_path: str, port: str, out: str) -> None:
    """One rank of a ``torch.multiprocessing.spawn`` run; rank 0 saves the records to ``out``."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=port, RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    try:
        recorder = train_and_record(config_path, 'pytorch')
        if rank == 0:
            torch.save(dict(losses=recorder.losses, people=recorder.people), out)
    finally:
        # Not destroy_process_group(): the Runner's DDP wrapper keeps gloo's threads alive
        # past it, into interpreter exit, where they can abort this rank (SIGABRT).
        destroy_distributed()
