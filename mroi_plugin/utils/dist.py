"""Make mmengine's distributed launch work on machines without CUDA.

mmengine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and
defaults to NCCL, so ``torchrun`` on a CPU-only machine fails before training.
Initialising the process group with gloo *before* the Runner is built makes
mmengine skip its own initialisation, and DDP must then be built with
``device_ids=None``. The same command therefore runs on CPU and GPU.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

__all__ = ['prepare_distributed_for_cpu', 'destroy_distributed']


def prepare_distributed_for_cpu(cfg: Config, launcher: str) -> bool:
    """Initialise gloo and adapt ``cfg`` when launching without CUDA.

    Args:
        cfg (Config): The run's config; ``model_wrapper_cfg`` and
            ``env_cfg.dist_cfg`` are updated in place on CPU.
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.

    Returns:
        bool: True if this function initialised a CPU process group.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'slurm':
        # torchrun sets these itself; under srun derive them from SLURM_*.
        os.environ.setdefault('RANK', os.environ.get('SLURM_PROCID', '0'))
        os.environ.setdefault('WORLD_SIZE', os.environ.get('SLURM_NTASKS', '1'))
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise RuntimeError(
                'CPU slurm launch needs MASTER_ADDR (the first node of the job), '
                'e.g. export MASTER_ADDR=$(scontrol show hostnames '
                '"$SLURM_JOB_NODELIST" | head -n 1).')
    elif launcher != 'pytorch':
        raise ValueError(f"Unknown launcher '{launcher}': use none, pytorch or slurm.")
    if not torch_dist.is_initialized():
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
        kwargs = {}
        if timeout is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(backend='gloo', init_method='env://', **kwargs)
    cfg.setdefault('env_cfg', {})
    cfg.env_cfg['dist_cfg'] = dict(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True


def destroy_distributed() -> None:
    """Shut down the default process group, if any, before the process exits.

    mmengine never does. Left to interpreter shutdown, gloo's worker threads
    can be destroyed while still joinable: the C++ runtime then aborts
    (``terminate called without an active exception``, SIGABRT), and torchrun
    reports a failed run after training and evaluation have finished.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
