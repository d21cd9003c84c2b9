"""Start, police and end mmengine's distributed runs on CPU (gloo) and GPU (NCCL).

**Start.** mmengine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
and defaults to NCCL, so ``torchrun`` on a CPU-only machine fails before
training. Initialising the process group with gloo *before* the Runner is built
makes mmengine skip its own initialisation, and DDP must then be built with
``device_ids=None``. The same command therefore runs on CPU and GPU.

**Police.** Every collective waits at most ``env_cfg.dist_cfg.timeout`` seconds
(``configs/_base_/default_runtime.py`` sets 600 s; gloo's own default is 30
minutes). :func:`collective_failure_message` turns gloo's timeout and
lost-peer errors into one message naming this rank, the limit and how to raise
it; :func:`report_collective_failures` exits with it.

**End.** :func:`destroy_distributed` tears the process group down so that no
rank can abort at exit (see its docstring for the cause).
"""
import atexit
import datetime
import gc
import os
import sys
import traceback
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

__all__ = [
    'prepare_distributed_for_cpu', 'destroy_distributed', 'dist_timeout_seconds',
    'collective_failure_message', 'report_collective_failures', 'CollectiveFailure'
]

# Substrings of the errors gloo and NCCL's blocking wait raise (not e.g. a DataLoader's
# 'timed out', which is no collective).
_TIMEOUT_MARKERS = ('timed out waiting', 'operation timeout', 'timed out in blocking wait')
_PEER_LOST_MARKERS = ('connection closed by peer', 'connection reset by peer', 'broken pipe',
                      'connection refused', 'socket closed')
# How long rank 0 (the rendezvous store's host under mp.spawn/env://) waits for the
# other ranks to report that they left, at most: they only destroy local objects.
_LEAVE_WAIT_S = 60.0


class CollectiveFailure(RuntimeError):
    """A collective timed out or lost its peers; the message says which rank and what to do."""


def dist_timeout_seconds(cfg: Config) -> Optional[float]:
    """The collective timeout in seconds from ``cfg.env_cfg.dist_cfg.timeout``.

    Args:
        cfg (Config): The run's config.

    Returns:
        float | None: The timeout, or None when the config sets none (torch's
        default then applies: 30 min for gloo, 10 min for NCCL).

    Raises:
        ValueError: The value is not a positive number of seconds.
    """
    timeout = ((cfg.get('env_cfg') or {}).get('dist_cfg') or {}).get('timeout')
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(
            f'env_cfg.dist_cfg.timeout must be a positive number of seconds, got {timeout!r}; '
            'e.g. --cfg-options env_cfg.dist_cfg.timeout=1800')
    return float(timeout)


def prepare_distributed_for_cpu(cfg: Config, launcher: str) -> bool:
    """Initialise gloo and adapt ``cfg`` when launching without CUDA.

    The process group gets ``env_cfg.dist_cfg.timeout`` (seconds) as its
    collective timeout, as mmengine's NCCL initialisation does with the same key.

    Args:
        cfg (Config): The run's config; ``model_wrapper_cfg`` and
            ``env_cfg.dist_cfg`` are updated in place on CPU.
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.

    Returns:
        bool: True if this function initialised a CPU process group.

    Raises:
        ValueError: An unknown launcher or an invalid timeout.
        RuntimeError: A CPU slurm launch without ``MASTER_ADDR``.
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
    timeout = dist_timeout_seconds(cfg)
    if not torch_dist.is_initialized():
        kwargs: Dict[str, Any] = {}
        if timeout is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(backend='gloo', init_method='env://', **kwargs)
    _register_exit_cleanup()
    cfg.setdefault('env_cfg', {})
    cfg.env_cfg['dist_cfg'] = dict(backend='gloo')
    if timeout is not None:
        cfg.env_cfg.dist_cfg['timeout'] = timeout
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True


def _rank_and_world() -> str:
    if torch_dist.is_available() and torch_dist.is_initialized():
        return f'rank {torch_dist.get_rank()} of {torch_dist.get_world_size()}'
    return f"rank {os.environ.get('RANK', '?')} of {os.environ.get('WORLD_SIZE', '?')}"


def collective_failure_message(error: BaseException,
                               timeout: Optional[float] = None) -> Optional[str]:
    """Explain a timed-out collective or a lost peer; None for any other error.

    Args:
        error (BaseException): What a collective (or DDP's backward) raised.
        timeout (float, optional): The configured timeout in seconds, for the message.

    Returns:
        str | None: One message naming this rank, what happened, the likely
        cause and the fix; None if ``error`` is not a distributed failure.
    """
    if not isinstance(error, RuntimeError):
        return None
    text = str(error)
    lowered = text.lower()
    limit = f'{timeout:g} s' if timeout is not None else "torch's default"
    if isinstance(error, torch_dist.DistStoreError) or any(marker in lowered
                                                            for marker in _TIMEOUT_MARKERS):
        return (f'{_rank_and_world()}: a collective operation timed out after {limit} '
                'waiting for the other ranks. Another rank is stalled (stuck I/O, a '
                'deadlock, a hung data loader) or much slower; its log shows where. If a '
                'step legitimately takes longer (e.g. rank 0 evaluating or saving), raise '
                'the limit: --cfg-options env_cfg.dist_cfg.timeout=SECONDS (seconds; '
                f'now {limit}). Error: {text}')
    if any(marker in lowered for marker in _PEER_LOST_MARKERS):
        return (f'{_rank_and_world()}: lost the connection to another rank during a '
                'collective operation. That rank exited or crashed first (its log has the '
                f'cause), or timed out ({limit}) waiting for this one. Error: {text}')
    return None


@contextmanager
def report_collective_failures(cfg: Optional[Config] = None,
                               exit_on_failure: bool = True) -> Iterator[None]:
    """Turn a timed-out collective or a lost peer into one clear message.

    Other exceptions pass through unchanged. Use around ``runner.train()`` /
    ``runner.test()``, inside the ``try`` whose ``finally`` calls
    :func:`destroy_distributed`.

    Args:
        cfg (Config, optional): The run's config, for the timeout in the message.
        exit_on_failure (bool): Print the message to stderr and exit with status 1
            (the tools); otherwise raise :class:`CollectiveFailure` from the error.

    Raises:
        SystemExit: ``exit_on_failure`` and a distributed failure.
        CollectiveFailure: not ``exit_on_failure`` and a distributed failure.
    """
    try:
        yield
    except RuntimeError as error:
        try:
            timeout = dist_timeout_seconds(cfg) if cfg is not None else None
        except ValueError:  # reported where the group was made; keep this error
            timeout = None
        message = collective_failure_message(error, timeout)
        if message is None:
            raise
        # The frames hold the Runner and its DDP wrapper, which hold the gloo group:
        # freed, destroy_distributed can join the group's threads (see there).
        traceback.clear_frames(error.__traceback__)
        if exit_on_failure:
            print(f'error: {message}', file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        raise CollectiveFailure(message) from None


def destroy_distributed() -> None:
    """Shut the default process group down so that no rank aborts at exit.

    The cause of ``terminate called without an active exception`` (SIGABRT) at
    the end of a DDP run: ``destroy_process_group()`` only unregisters the group.
    DDP's reducer still references it, so gloo's worker and I/O threads and its
    sockets live on until the garbage collector frees the (cyclic) Runner - in a
    process that returns from training, during interpreter finalization. A core
    dump of an aborted rank shows the rest: a gloo worker thread, still freeing
    a finished all_reduce whose tensor's Python object it held last, asks for
    the GIL during finalization; Python ends it with ``pthread_exit``, whose
    unwinding through the ``noexcept`` destructor calls ``std::terminate``.
    Whether the worker is that late depends on scheduling, hence the flakes on
    loaded machines. Measured in the DDP test's workers: 7 threads after
    ``destroy_process_group()``, 4 after a ``gc.collect()``. So, in order:

    1. Without an exception in flight: a barrier, so every rank has finished
       every collective before any rank closes its sockets (skipped on an
       error: the peers may be mid-collective, stalled or gone).
    2. ``destroy_process_group()``, then ``gc.collect()`` so an unreferenced
       Runner/DDP frees the group and its threads are joined now. A Runner the
       caller still holds is freed by the same collection at exit (an ``atexit``
       hook, which runs before finalization).
    3. Rank 0 - the rendezvous store's host under ``mp.spawn``/``env://`` -
       leaves last: the others report through the store after their teardown
       and rank 0 waits for them (at most 60 s).

    A no-op without an initialised process group. The barrier waits at most the
    group's collective timeout; a failed barrier only skips step 3.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    _register_exit_cleanup()
    rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
    store = None
    if world > 1 and sys.exc_info()[0] is None:
        try:
            torch_dist.barrier()
            store = torch_dist.distributed_c10d._get_default_store()
        except Exception as error:  # a peer is gone or stalled: still tear down locally
            print(f'warning: rank {rank}: skipping the ordered teardown ({error})',
                  file=sys.stderr, flush=True)
            store = None
    torch_dist.destroy_process_group()
    gc.collect()
    if store is not None:
        _leave_in_order(store, rank, world)


def _leave_in_order(store, rank: int, world: int) -> None:
    """Ranks > 0 report that they left; rank 0 (store host) waits for them."""
    try:
        if rank != 0:
            store.set(f'mroi/left/{rank}', '1')
            return
        keys = [f'mroi/left/{other}' for other in range(1, world)]
        store.wait(keys, datetime.timedelta(seconds=_LEAVE_WAIT_S))
    except Exception as error:  # a slow or vanished peer must not fail a finished run
        print(f'warning: rank {rank}: not every rank reported leaving ({error})',
              file=sys.stderr, flush=True)


_EXIT_CLEANUP_REGISTERED = False


def _register_exit_cleanup() -> None:
    """Free leftover process groups while the interpreter is still whole.

    ``atexit`` hooks run before finalization: a Runner that a caller held until
    the end is unreachable by then, so this collection joins gloo's threads in
    time (see :func:`destroy_distributed`).
    """
    global _EXIT_CLEANUP_REGISTERED
    if not _EXIT_CLEANUP_REGISTERED:
        atexit.register(_exit_cleanup)
        _EXIT_CLEANUP_REGISTERED = True


def _exit_cleanup() -> None:
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
    gc.collect()
