"""tools/dist_train.sh, dist_test.sh, slurm_train.sh: bad arguments stop before launching.

A stand-in ``torchrun``/``srun`` on ``PATH`` records its arguments, so the tests see
whether the launcher was reached without starting any process group.
"""
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.tiny_configs import REPO

CONFIG = 'configs/quickstart/mroi_synthetic.py'


@pytest.fixture
def fake_launchers(tmp_path) -> Path:
    """``torchrun`` and ``srun`` that write their arguments to ``<name>.args`` and succeed."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('torchrun', 'srun'):
        script = bin_dir / name
        script.write_text(f'#!/usr/bin/env bash\necho "$@" > "{tmp_path}/{name}.args"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def _run(script: str, *args: str, launchers: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{launchers / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(['bash', f'tools/{script}', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('args, reason', [
    ((), 'expected CONFIG and GPUS, got 0 argument(s)'),
    ((CONFIG,), 'expected CONFIG and GPUS, got 1 argument(s)'),
    ((CONFIG, '--amp'), "GPUS (the 2nd argument) must be a whole number >= 1, got '--amp'"),
    ((CONFIG, 'two'), "must be a whole number >= 1, got 'two'"),
    ((CONFIG, '0'), "must be a whole number >= 1, got '0'"),
    ((CONFIG, '2.5'), "must be a whole number >= 1, got '2.5'"),
    (('configs/no_such.py', '2'), "config file not found: 'configs/no_such.py'"),
])
def test_dist_train_refuses_bad_arguments_before_torchrun(args, reason, fake_launchers):
    result = _run('dist_train.sh', *args, launchers=fake_launchers)
    assert result.returncode == 2
    assert reason in result.stderr
    assert 'Usage: tools/dist_train.sh CONFIG GPUS' in result.stderr
    assert not (fake_launchers / 'torchrun.args').exists()


def test_dist_train_with_a_count_reaches_torchrun(fake_launchers):
    result = _run('dist_train.sh', CONFIG, '2', '--amp', launchers=fake_launchers)
    assert result.returncode == 0, result.stderr
    args = (fake_launchers / 'torchrun.args').read_text().split()
    assert '--nproc_per_node=2' in args
    assert args[-4:] == [CONFIG, '--launcher', 'pytorch', '--amp']


@pytest.mark.parametrize('args, reason', [
    ((CONFIG, 'ckpt.pth'), 'expected CONFIG, CHECKPOINT and GPUS, got 2 argument(s)'),
    ((CONFIG, 'ckpt.pth', 'x'), "GPUS (the 3rd argument) must be a whole number >= 1, got 'x'"),
    (('configs/no_such.py', 'ckpt.pth', '2'), "config file not found: 'configs/no_such.py'"),
])
def test_dist_test_refuses_bad_arguments_before_torchrun(args, reason, fake_launchers):
    result = _run('dist_test.sh', *args, launchers=fake_launchers)
    assert result.returncode == 2
    assert reason in result.stderr
    assert 'Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS' in result.stderr
    assert not (fake_launchers / 'torchrun.args').exists()


def test_dist_test_with_a_count_reaches_torchrun(fake_launchers):
    # The checkpoint may be a URL: the script leaves checking it to tools/test.py.
    result = _run('dist_test.sh', CONFIG, 'https://example.org/c.pth', '3',
                  launchers=fake_launchers)
    assert result.returncode == 0, result.stderr
    args = (fake_launchers / 'torchrun.args').read_text().split()
    assert '--nproc_per_node=3' in args
    assert args[-4:] == [CONFIG, 'https://example.org/c.pth', '--launcher', 'pytorch']


@pytest.mark.parametrize('args, reason', [
    (('part', 'job', CONFIG), 'expected PARTITION, JOB_NAME, CONFIG and WORK_DIR'),
    (('part', 'job', CONFIG, 'work', 'eight'), "GPUS (the 5th argument) must be a whole "
                                               "number >= 1, got 'eight'"),
])
def test_slurm_train_refuses_bad_arguments_before_srun(args, reason, fake_launchers):
    result = _run('slurm_train.sh', *args, launchers=fake_launchers)
    assert result.returncode == 2
    assert reason in result.stderr
    assert not (fake_launchers / 'srun.args').exists()


def test_slurm_train_with_a_count_reaches_srun(fake_launchers):
    result = _run('slurm_train.sh', 'part', 'job', CONFIG, 'work', '4', launchers=fake_launchers)
    assert result.returncode == 0, result.stderr
    assert '--ntasks=4' in (fake_launchers / 'srun.args').read_text().split()
