"""Catch misspelt top-level config keys before anything is built.

mmengine's ``Runner.from_cfg`` reads the keys it knows and ignores the rest, so
``trian_dataloader = ...`` would silently train with the base config's loader.
Top-level names are also free config variables (``num_rois``, ``crop_size``),
so only names that are near-misses of a key the Runner reads are errors.
"""
import difflib
import inspect
from typing import List

from mmengine.config import Config
from mmengine.runner import Runner

__all__ = ['check_config_keys', 'RUNNER_KEYS']

# Everything Runner.__init__ takes (train_dataloader, optim_wrapper, ...), what
# Runner.from_cfg reads besides, and mroi's own top-level entries.
RUNNER_KEYS = tuple(sorted(
    set(inspect.signature(Runner.__init__).parameters) - {'self'}
    | {'runner_type', 'model_wrapper_cfg', 'resume', 'prepare_data'}))
_CUTOFF = 0.85


def check_config_keys(cfg: Config) -> List[str]:
    """Raise on top-level keys that look like misspellings of Runner keys.

    Args:
        cfg (Config): The loaded config.

    Returns:
        list[str]: The top-level keys that are free variables (not Runner keys).

    Raises:
        KeyError: naming the key and the key it most likely meant.
    """
    free = []
    for key in cfg.keys():
        if key in RUNNER_KEYS:
            continue
        close = difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=_CUTOFF)
        if close:
            raise KeyError(
                f'Config {cfg.filename or ""}: unknown top-level key {key!r} - did you mean '
                f'{close[0]!r}? The Runner ignores unknown keys, so this setting would be '
                'silently dropped. Rename it (or, if it is a variable of yours, pick a name '
                'that is not this close to a Runner key).')
        free.append(key)
    return free
