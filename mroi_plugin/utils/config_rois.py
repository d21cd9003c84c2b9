"""Change the number of RoIs of a whole config in one call (ablations, benchmarks, tests)."""
from typing import Any

from mmengine.config import Config

__all__ = ['set_num_rois', 'CROP_TRANSFORM']

# The transform that makes a person's RoIs; its ``num_rois`` fixes N for the whole model.
CROP_TRANSFORM = 'MultiRoICrop'


def _set_in(node: Any, num_rois: int) -> int:
    """Set ``num_rois`` on every crop transform dict under ``node``; return how many."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == CROP_TRANSFORM:
            node['num_rois'] = num_rois
            count += 1
        for value in node.values():
            count += _set_in(value, num_rois)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _set_in(value, num_rois)
    return count


def set_num_rois(cfg: Config, num_rois: int) -> Config:
    """Set ``num_rois`` of every ``MultiRoICrop`` in ``cfg``, in place.

    mmengine evaluates a base config's pipelines before a child config can change
    ``num_rois``, and each dataloader holds its own copy of the pipeline (inside mixed or
    concatenated datasets too), so a variant with another N must rewrite every copy. This
    walks the whole config (top-level ``*_pipeline`` lists, every dataloader's datasets at any
    depth) and also updates a top-level ``num_rois`` variable when there is one.

    Args:
        cfg (Config): The config to change.
        num_rois (int): RoIs per person, >= 1.

    Returns:
        Config: ``cfg`` itself.

    Raises:
        ValueError: ``num_rois < 1``, or the config has no ``MultiRoICrop`` at all (nothing
            would change, which is always a mistake in an ablation).
    """
    if int(num_rois) != num_rois or num_rois < 1:
        raise ValueError(f'set_num_rois: num_rois must be an integer >= 1, got {num_rois!r}.')
    num_rois = int(num_rois)
    if 'num_rois' in cfg:
        cfg.num_rois = num_rois
    changed = 0
    for key in list(cfg.keys()):
        value = cfg[key]
        changed += _set_in(value, num_rois)
        # Config wraps nested dicts in ConfigDict; write back so plain lists stay updated.
        cfg[key] = value
    if not changed:
        raise ValueError(f'set_num_rois: the config has no {CROP_TRANSFORM} step in any '
                         'pipeline; the number of RoIs is set by that transform.')
    return cfg
