"""What ``tools/train.py`` and ``tools/test.py`` share: arguments, config loading, the Runner."""
import argparse
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mroi_plugin.utils import (
    check_config_files,
    prepare_distributed_for_cpu,
    validate_config,
)
from mroi_plugin.utils.cfg_options import CfgOptionsAction
from mroi_plugin.utils.config_rois import apply_num_rois
from mroi_plugin.utils.package_files import resolve_config_path

from .prepare_data import prepare_data

__all__ = ['build_runner', 'default_work_dir', 'add_launch_args', 'load_config', 'read_config']


def default_work_dir(cfg: Config, config_path: str) -> None:
    """Set ``cfg.work_dir`` to ``./work_dirs/<config name>`` unless it is set."""
    if cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def build_runner(cfg: Config, launcher: str, mode: str = 'train') -> Runner:
    """Validate the config, set up CPU/GPU distribution, make data, build the Runner.

    Everything that can be checked without building is checked first, so a bad
    config fails in seconds with one error naming each offending key: misspelt
    top-level keys, unknown or mistyped component arguments
    (:func:`~mroi_plugin.utils.validate_config`) and, once ``prepare_data`` has
    made what it makes, missing files (:func:`~mroi_plugin.utils.check_config_files`).

    Args:
        cfg (Config): The run's config, command-line options already merged.
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.
        mode (str): ``'train'`` or ``'test'``: which files must exist.

    Returns:
        Runner: mmengine's Runner (or the config's ``runner_type``).

    Raises:
        ConfigError: misspelt top-level keys, unknown arguments, wrong types or
            missing files.
    """
    validate_config(cfg)
    prepare_distributed_for_cpu(cfg, launcher)
    # The quickstart's licence-free files (stand-in body model, synthetic data)
    # are made here, before the Runner builds the body model and datasets.
    prepare_data(cfg)
    check_config_files(cfg, mode)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def add_launch_args(parser: argparse.ArgumentParser, cfg_options_example: str) -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local-rank`` (mmdet/mmpose style).

    ``--cfg-options`` parses as mmengine's ``DictAction``, but an item that is not
    ``key=value`` is an argparse error naming it (exit status 2), not a traceback.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings in the config, key=value pairs such as ' + cfg_options_example)
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def read_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file or packaged config as every tool reads it.

    ``path`` is a file path or a packaged config, ``mroi_plugin::REL``
    (:func:`~mroi_plugin.utils.package_files.resolve_config_path`). The file's top-level
    ``num_rois`` is given to every crop step first
    (:func:`~mroi_plugin.utils.config_rois.apply_num_rois`), then ``cfg_options`` (the parsed
    ``--cfg-options``) are merged.

    Raises:
        FileNotFoundError: no config at ``path``.
    """
    path = resolve_config_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config file not found: {path}')
    cfg = apply_num_rois(Config.fromfile(path))
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_config(args: argparse.Namespace) -> Config:
    """:func:`read_config` of ``args.config`` with ``--cfg-options`` and the launcher set.

    ``args.config`` becomes the resolved file path.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    args.config = resolve_config_path(args.config)
    cfg = read_config(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg
