"""What ``tools/train.py`` and ``tools/test.py`` do between parsing and running."""
import os.path as osp

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mroi_plugin.utils import check_config_keys, prepare_distributed_for_cpu

from .prepare_data import prepare_data

__all__ = ['build_runner', 'default_work_dir']


def default_work_dir(cfg: Config, config_path: str) -> None:
    """Set ``cfg.work_dir`` to ``./work_dirs/<config name>`` unless it is set."""
    if cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def build_runner(cfg: Config, launcher: str) -> Runner:
    """Validate the config, set up CPU/GPU distribution, make data, build the Runner.

    Args:
        cfg (Config): The run's config, command-line options already merged.
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.

    Returns:
        Runner: mmengine's Runner (or the config's ``runner_type``).
    """
    check_config_keys(cfg)
    prepare_distributed_for_cpu(cfg, launcher)
    # The quickstart's licence-free files (stand-in body model, synthetic data)
    # are made here, before the Runner builds the body model and datasets.
    prepare_data(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
