"""Command-line switches of the visualisation: ``--tensorboard``, ``--show-dir``, ``--show``."""
import importlib.util
from typing import Optional

from mmengine.config import Config

__all__ = ['enable_tensorboard', 'enable_visualization']

_PLAIN_VISUALIZERS = ('Visualizer', 'mmengine.Visualizer')


def enable_tensorboard(cfg: Config) -> None:
    """Add mmengine's ``TensorboardVisBackend`` to the config's visualizer (once).

    Scalars (losses, learning rate, metrics) and the images of
    :class:`~mroi_plugin.engine.hooks.HMRVisualizationHook` then go to
    ``{work_dir}/{timestamp}/vis_data/`` as TensorBoard event files too:
    ``tensorboard --logdir work_dirs/<config name>``.

    Raises:
        ImportError: The ``tensorboard`` package is not installed (it is optional).
    """
    if importlib.util.find_spec('tensorboard') is None:
        raise ImportError(
            '--tensorboard needs the tensorboard package, which is not installed: '
            "pip install tensorboard (or pip install -e '.[tensorboard]').")
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        cfg.visualizer = visualizer = dict(type='HMRVisualizer', vis_backends=[])
    backends = list(visualizer.get('vis_backends') or [])
    if not any(str(b.get('type', '')).endswith('TensorboardVisBackend') for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends


def enable_visualization(cfg: Config,
                         show_dir: Optional[str] = None,
                         show: bool = False,
                         wait_time: float = 2.0) -> None:
    """Switch on ``HMRVisualizationHook`` for a test run (mmdet/mmpose ``--show-dir``).

    Args:
        cfg (Config): The test config; its ``default_hooks.visualization`` is added if missing.
        show_dir (str, optional): Folder for one drawn image per test sample; relative paths
            go under ``{work_dir}/{timestamp}/``.
        show (bool): Show each image in a window.
        wait_time (float): Seconds each shown image stays up.
    """
    if show_dir is None and not show:
        return
    hooks = cfg.get('default_hooks')
    if hooks is None:
        cfg.default_hooks = hooks = dict()
    hook = hooks.get('visualization')
    if hook is None:
        hooks['visualization'] = hook = dict(type='HMRVisualizationHook')
    hook['enable'] = True
    if show_dir is not None:
        hook['test_out_dir'] = show_dir
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        cfg.visualizer = dict(type='HMRVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    elif visualizer.get('type') in _PLAIN_VISUALIZERS:
        # A config that predates HMRVisualizer keeps its backends and gets the drawing.
        visualizer['type'] = 'HMRVisualizer'
