"""Distributed runs end cleanly: ordered teardown, a collective timeout, clear failure messages."""
import gc
import os
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from mroi_plugin.utils import (
    CollectiveFailure,
    collective_failure_message,
    destroy_distributed,
    dist_timeout_seconds,
    report_collective_failures,
)
from tests.dist_utils import free_port
from tests.tiny_configs import REPO

# Verbatim messages of torch 2.13's gloo backend (measured with two processes).
GLOO_TIMEOUT = ('[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] '
                'Timed out waiting 3000ms for recv operation to complete')
GLOO_PEER_LOST = ('[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:553] '
                  'Connection closed by peer [127.0.0.1]:56482')


def _threads() -> int:
    return len(os.listdir('/proc/self/task'))


def _init_single_process_group() -> None:
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{free_port()}',
                                  rank=0, world_size=1)


def test_destroys_an_initialised_group_and_is_a_no_op_without_one():
    destroy_distributed()  # nothing initialised: no error
    _init_single_process_group()
    try:
        assert torch_dist.is_initialized()
        destroy_distributed()
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    destroy_distributed()


@pytest.mark.skipif(not os.path.isdir('/proc/self/task'), reason='counts threads in /proc')
def test_gloo_threads_are_joined_even_while_a_ddp_wrapper_held_the_group():
    """The SIGABRT's cause: gloo's threads outlived destroy_process_group() into exit."""

    def ddp_model_in_a_cycle():
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
        model.cycle = model  # the Runner's graph is cyclic too: only gc frees it
        model(torch.randn(3, 4)).sum().backward()

    torch.nn.Linear(4, 2)(torch.randn(3, 4)).sum().backward()  # start torch's own pools
    before = _threads()
    _init_single_process_group()
    try:
        ddp_model_in_a_cycle()
        assert _threads() > before  # gloo's worker and I/O threads
        # What the tools did before: the group is unregistered, its threads live on.
        keep = torch_dist.distributed_c10d._get_default_group()
        torch_dist.destroy_process_group()
        assert _threads() > before
        del keep
        gc.collect()
        assert _threads() == before

        _init_single_process_group()
        ddp_model_in_a_cycle()
        destroy_distributed()
        assert _threads() == before
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_timeout_comes_from_the_config_and_is_checked():
    assert dist_timeout_seconds(Config(dict(env_cfg=dict(dist_cfg=dict(timeout=90))))) == 90.0
    assert dist_timeout_seconds(Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))) is None
    assert dist_timeout_seconds(Config(dict())) is None
    for bad in ('600', 0, -5, True):
        with pytest.raises(ValueError, match=r'env_cfg\.dist_cfg\.timeout must be a positive'):
            dist_timeout_seconds(Config(dict(env_cfg=dict(dist_cfg=dict(timeout=bad)))))


def test_the_runtime_config_sets_a_timeout_below_gloos_30_minutes():
    cfg = Config.fromfile(str(REPO / 'configs' / '_base_' / 'default_runtime.py'))
    assert 0 < dist_timeout_seconds(cfg) < 1800


def test_failure_messages_name_the_rank_the_limit_and_the_fix(monkeypatch):
    monkeypatch.setenv('RANK', '3')
    monkeypatch.setenv('WORLD_SIZE', '4')
    timeout = collective_failure_message(RuntimeError(GLOO_TIMEOUT), 3)
    assert timeout.startswith('rank 3 of 4: a collective operation timed out after 3 s')
    assert '--cfg-options env_cfg.dist_cfg.timeout=SECONDS' in timeout
    assert GLOO_TIMEOUT in timeout  # nothing lost
    lost = collective_failure_message(RuntimeError(GLOO_PEER_LOST), 600)
    assert lost.startswith('rank 3 of 4: lost the connection to another rank')
    assert 'timed out (600 s)' in lost
    # Not distributed failures: left alone.
    assert collective_failure_message(RuntimeError('DataLoader timed out after 60 seconds')) is None
    assert collective_failure_message(RuntimeError('shape mismatch')) is None
    assert collective_failure_message(ValueError(GLOO_TIMEOUT)) is None


def test_report_collective_failures_raises_or_exits_with_the_message(capsys):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(timeout=7))))
    with pytest.raises(CollectiveFailure, match=r'timed out after 7 s'):
        with report_collective_failures(cfg, exit_on_failure=False):
            raise RuntimeError(GLOO_TIMEOUT)
    with pytest.raises(SystemExit) as exited:
        with report_collective_failures(cfg):
            raise RuntimeError(GLOO_TIMEOUT)
    assert exited.value.code == 1
    assert 'timed out after 7 s' in capsys.readouterr().err
    with pytest.raises(RuntimeError, match='^shape mismatch$'):
        with report_collective_failures(cfg):
            raise RuntimeError('shape mismatch')


@pytest.mark.slow
def test_a_stalled_rank_stops_the_other_after_the_configured_timeout(tmp_path):
    """Rank 1 stalls outside any collective; rank 0 waits in an all_reduce.

    With ``env_cfg.dist_cfg.timeout=3`` rank 0 must exit with the message while
    rank 1 is still stalled (the test only wakes rank 1 after rank 0 has exited),
    not after gloo's 30 minutes; rank 1 then finds rank 0 gone and says so.
    """
    timeout_s = 3
    wake = tmp_path / 'wake'
    env = dict(os.environ, WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()), CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1',
               PYTHONPATH=str(REPO))
    script = str(REPO / 'tests' / 'test_utils' / 'collective_timeout_worker.py')
    procs = [
        subprocess.Popen([sys.executable, script, str(timeout_s), str(wake)],
                         env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rank in range(2)
    ]
    try:
        out0, err0 = procs[0].communicate(timeout=240)
        exited = time.time()
        assert procs[1].poll() is None, 'rank 1 ended while stalled'
        wake.touch()
        out1, err1 = procs[1].communicate(timeout=240)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert procs[0].returncode == 1, err0[-3000:]
    assert 'start' in out0 and 'finished' not in out0
    waited = exited - float(out0.split('start ')[1].split()[0])
    assert waited >= timeout_s, waited
    assert 'error: rank 0 of 2: a collective operation timed out after 3 s' in err0, err0
    assert 'env_cfg.dist_cfg.timeout' in err0
    assert 'Traceback' not in err0, err0[-3000:]
    assert procs[1].returncode == 1, err1[-3000:]
    assert 'error: rank 1 of 2: lost the connection to another rank' in err1, err1[-3000:]
