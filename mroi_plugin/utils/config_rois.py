"""Change the number of RoIs of a whole config in one call (ablations, benchmarks, tests)."""
from typing import Any, Tuple

from mmengine.config import Config

__all__ = ['set_num_rois', 'apply_num_rois', 'set_context_size', 'to_feature_rois',
           'CROP_TRANSFORM', 'CROP_TRANSFORMS', 'CONTEXT_TRANSFORM']

# The transform that makes a person's RoIs; its ``num_rois`` fixes N for the whole model.
CROP_TRANSFORM = 'MultiRoICrop'
# Its feature-level variant (one context crop per person), which takes num_rois too.
CONTEXT_TRANSFORM = 'MultiRoIContextCrop'
CROP_TRANSFORMS = (CROP_TRANSFORM, CONTEXT_TRANSFORM)


def _set_in(node: Any, key: str, value: Any, types: tuple) -> int:
    """Set ``key`` on every transform dict of one of ``types`` under ``node``; return how many."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') in types:
            node[key] = value
            count += 1
        for child in node.values():
            count += _set_in(child, key, value, types)
    elif isinstance(node, (list, tuple)):
        for child in node:
            count += _set_in(child, key, value, types)
    return count


def _set_everywhere(cfg: Config, key: str, value: Any, types: tuple) -> int:
    if key in cfg:
        cfg[key] = value
    changed = 0
    for name in list(cfg.keys()):
        node = cfg[name]
        changed += _set_in(node, key, value, types)
        # Config wraps nested dicts in ConfigDict; write back so plain lists stay updated.
        cfg[name] = node
    return changed


def set_num_rois(cfg: Config, num_rois: int) -> Config:
    """Set ``num_rois`` of every ``MultiRoICrop`` (or ``MultiRoIContextCrop``) in ``cfg``.

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
    if not _set_everywhere(cfg, 'num_rois', int(num_rois), CROP_TRANSFORMS):
        raise ValueError(f'set_num_rois: the config has no {CROP_TRANSFORM} step in any '
                         'pipeline; the number of RoIs is set by that transform.')
    return cfg


def apply_num_rois(cfg: Config) -> Config:
    """Give every crop step the config's top-level ``num_rois``, in place.

    So an N-RoI variant is ``_base_ = '../mroi_r50.py'`` and ``num_rois = 2``: mmengine
    builds the base's pipelines (with the base's N) before the child's ``num_rois`` exists,
    and the tools (``load_config``, ``init_model``, the benchmarks) apply it once the file
    is read. A config without a top-level ``num_rois``, or without a crop step, is left as
    it is.

    Args:
        cfg (Config): A config as read from its file.

    Returns:
        Config: ``cfg`` itself.
    """
    if cfg.get('num_rois') is not None:
        _set_everywhere(cfg, 'num_rois', int(cfg.num_rois), CROP_TRANSFORMS)
    return cfg


def set_context_size(cfg: Config, context_size: Tuple[int, int]) -> Config:
    """Set ``context_size`` of every ``MultiRoIContextCrop`` in ``cfg``, in place.

    Walks the config as :func:`set_num_rois` does (and updates a top-level
    ``context_size`` variable when there is one).

    Args:
        cfg (Config): A feature-level RoI config (docs/feature_rois.md).
        context_size (tuple[int, int]): ``(context_h, context_w)``, pixels.

    Returns:
        Config: ``cfg`` itself.

    Raises:
        ValueError: A size that is not two positive integers, or no ``MultiRoIContextCrop``
            in the config (a crop-mode config has no context crop to resize).
    """
    size = tuple(context_size)
    if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError('set_context_size: context_size must be (context_h, context_w) '
                         f'positive integers, got {context_size!r}.')
    size = tuple(int(s) for s in size)
    if not _set_everywhere(cfg, 'context_size', size, (CONTEXT_TRANSFORM, )):
        raise ValueError(f'set_context_size: the config has no {CONTEXT_TRANSFORM} step in any '
                         'pipeline; use a feature-level RoI config (e.g. '
                         'configs/mroi/mroi_r50_feature.py).')
    return cfg


def to_feature_rois(cfg: Config, context_size: Tuple[int, int],
                    sampling_ratio: int = 1) -> Config:
    """Turn a crop-mode Multi-RoI config into feature-level RoIs, in place.

    Every ``MultiRoICrop`` becomes a ``MultiRoIContextCrop`` with the same arguments and
    ``context_size``, and the model gets ``roi_sampler=dict(type='RoIFeatureSampler')``: what
    ``configs/mroi/mroi_r50_feature.py`` does to ``mroi_r50.py`` (docs/feature_rois.md).

    Args:
        cfg (Config): A crop-mode config.
        context_size (tuple[int, int]): ``(context_h, context_w)``, pixels.
        sampling_ratio (int): The sampler's points per cell side. Defaults to 1.

    Returns:
        Config: ``cfg`` itself.

    Raises:
        ValueError: No ``MultiRoICrop`` in the config, or a bad ``context_size``.
    """
    if not _set_everywhere(cfg, 'type', CONTEXT_TRANSFORM, (CROP_TRANSFORM, )):
        raise ValueError(f'to_feature_rois: the config has no {CROP_TRANSFORM} step in any '
                         'pipeline to turn into a context crop.')
    cfg.model.roi_sampler = dict(type='RoIFeatureSampler', sampling_ratio=sampling_ratio)
    return set_context_size(cfg, context_size)
