"""Validate a whole config before anything is built: unknown keys, wrong types, missing files.

This is the one config validator: every problem it finds is listed in one
:class:`ConfigError`.

mmengine builds components lazily (the datasets when ``train()`` starts, the
loss terms inside the model), so a misspelt argument, ``lr='1e-3'`` or a wrong
``ann_file`` fails minutes into a run, with a traceback that names a class deep
inside the builder, or not at all (a key the Runner does not read is ignored).
:func:`validate_config` walks the config tree instead and checks every
``type=`` dict against the ``__init__`` signature of the class it names:

- unknown arguments, reported with their full dotted key path, the component
  type and a "did you mean" suggestion. A component whose ``__init__`` takes
  ``**kwargs`` is checked against where they go: the base class ``__init__``
  it passes them to (mmengine's schedulers, ``AmpOptimWrapper``), or a known
  target (``CheckpointHook`` -> ``Runner.save_checkpoint``, ``EMAHook`` -> its
  averaged model); ``optim_wrapper.clip_grad`` against ``clip_grad_norm_`` or
  ``clip_grad_value_`` as its ``type`` says. Only components whose ``**kwargs``
  go somewhere else (e.g. ``ZeroRedundancyOptimizer``) are left unchecked;
- unregistered ``type`` names;
- values that contradict a simple annotation (``int``, ``float``, ``bool``,
  ``str``, ``dict``, sequences of these, ``Optional``/``Union`` of them; other
  annotations are trusted);
- the Runner-level dicts without ``type``: the dataloaders (``DataLoader``
  arguments), ``train_cfg``/``val_cfg``/``test_cfg`` (the loop mmengine picks)
  and ``randomness``;
- misspelt top-level keys. ``Runner.from_cfg`` reads the keys it knows and
  ignores the rest, so ``trian_dataloader = ...`` would silently train with the
  base config's loader. Top-level names are also free config variables
  (``num_rois``, ``crop_size``), so only near-misses of a key the Runner reads
  are problems.

:func:`check_config_files` checks that the files a run reads exist
(``ann_file`` joined with its ``data_root``, body model folders, joint
regressors, ``mean_params``, pretrained ``init_cfg`` checkpoints, ``load_from``).
It is separate because ``prepare_data`` may create some of them first.
"""
import ast
import collections.abc
import difflib
import inspect
import os.path as osp
import sys
import textwrap
import types
import typing
from typing import Any, Callable, Collection, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import Registry
from mmengine.runner import Runner
from torch.utils.data import DataLoader

__all__ = [
    'ConfigError', 'validate_config', 'check_config_files', 'component_problems', 'RUNNER_KEYS'
]

# Keys the builders pop before calling __init__, per registry name.
_BUILDER_KEYS = {
    'optim_wrapper': {'constructor', 'paramwise_cfg'},
    'parameter scheduler': {'convert_to_iter_based'},
}
# OptimWrapper pops ``clip_grad.type`` and passes the rest to one of these.
_CLIP_GRAD: Dict[str, Callable[..., Any]] = {
    'norm': torch.nn.utils.clip_grad_norm_, 'value': torch.nn.utils.clip_grad_value_}
# Nested config dicts built by helpers that take extra keys (mmcv's
# build_norm_layer pops ``requires_grad``), or by mmengine's initialiser.
_UNCHECKED_KEYS = {'init_cfg', 'norm_cfg', 'conv_cfg'}
# Nested keys whose ``type`` dicts live in another registry than their parent's.
_NESTED_REGISTRY = {
    'pipeline': 'transform', 'transforms': 'transform', 'dataset': 'dataset',
    'datasets': 'dataset', 'data_preprocessor': 'model', 'sampler': 'data sampler',
    'batch_sampler': 'data sampler', 'vis_backends': 'vis_backend',
}
# Keys whose string values are files or folders a run reads.
_FILE_KEYS = ('ann_file', 'model_path', 'body_model_dir', 'joint_regressor', 'mean_params')
_URL_MARK = '://'
# Everything Runner.__init__ takes (train_dataloader, optim_wrapper, ...), what
# Runner.from_cfg reads besides, and mroi's own top-level entries.
RUNNER_KEYS = tuple(sorted(
    set(inspect.signature(Runner.__init__).parameters) - {'self'}
    | {'runner_type', 'model_wrapper_cfg', 'resume', 'prepare_data'}))
# difflib ratios. A suggestion only helps name an argument already known to be
# wrong, so a loose match is worth showing. An unknown top-level key may be a
# config variable of the user's own, so it is an error only when it is this
# close to a Runner key (``trian_dataloader``), never for ``num_rois``.
_SUGGESTION_CUTOFF = 0.6
_MISSPELLING_CUTOFF = 0.85


class ConfigError(ValueError):
    """A config that would fail (or silently misbehave) once training runs."""


def _registries() -> Dict[str, Registry]:
    from mroi_plugin import registry
    return {
        reg.name: reg
        for reg in (registry.MODELS, registry.DATASETS, registry.TRANSFORMS,
                    registry.DATA_SAMPLERS, registry.METRICS, registry.EVALUATOR,
                    registry.HOOKS, registry.OPTIMIZERS, registry.OPTIM_WRAPPERS,
                    registry.PARAM_SCHEDULERS, registry.LOOPS, registry.LOG_PROCESSORS,
                    registry.VISUALIZERS, registry.VISBACKENDS, registry.MODEL_WRAPPERS,
                    registry.FUNCTIONS)
    }


# ----------------------------------------------------------------------- types
def _accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` can be what ``annotation`` describes; unknown types pass."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(_accepts(arg, value) for arg in args)
    if origin is typing.Literal:
        return value in args
    if annotation is bool:
        return isinstance(value, (bool, int))
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is dict or origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    if origin in (list, tuple, collections.abc.Sequence) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(map(_accepts, args, value))
        return not args or all(_accepts(args[0], item) for item in value)
    if annotation in (torch.Tensor, np.ndarray):
        # Array-like: numbers or nested sequences of them.
        return isinstance(value, (int, float, list, tuple, annotation))
    return True


def _describe(annotation: Any) -> str:
    text = inspect.formatannotation(annotation)
    return text.replace('typing.', '').replace('NoneType', 'None')


def _hints(func: Callable, params: Dict[str, inspect.Parameter]) -> Dict[str, Any]:
    """Resolved annotations of ``params``; unresolvable ones become ``empty`` (trusted)."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        # One unresolvable forward reference spoils get_type_hints for all the
        # parameters (DataLoader's): fall back to the raw annotations.
        hints = {}
    hints = {name: hints.get(name, param.annotation) for name, param in params.items()}
    module = sys.modules.get(getattr(func, '__module__', None) or '')
    namespace = vars(module) if module is not None else {}
    for name, hint in hints.items():
        if isinstance(hint, typing.ForwardRef):
            hint = hint.__forward_arg__
        if isinstance(hint, str):
            try:  # 'int | None' under ``from __future__ import annotations``
                hints[name] = eval(hint, dict(namespace))
            except Exception:
                hints[name] = inspect.Parameter.empty  # unresolved: trusted
    return hints


def _named(func: Callable,
           drop_first: bool) -> Tuple[List[str], Dict[str, inspect.Parameter], bool]:
    """Parameter names in order (``self`` dropped), the keyword-settable ones, and
    whether ``func`` takes ``**kwargs``."""
    params = list(inspect.signature(func).parameters.values())[int(drop_first):]
    keyword = {p.name: p for p in params
               if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return [p.name for p in params], keyword, any(p.kind is p.VAR_KEYWORD for p in params)


def _super_init_call(init: Callable) -> Optional[ast.Call]:
    """The ``super().__init__(..., **kwargs)`` call in ``init``, if it forwards ``**kwargs``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == '__init__' and isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == 'super'
                and any(keyword.arg is None for keyword in node.keywords)):
            return node
    return None


def _bound_by_call(call: ast.Call, parent_order: Sequence[str]) -> Set[str]:
    """Parent parameters the call itself fills (``'lr'`` -> ``param_name``)."""
    bound = set()
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break
        if index < len(parent_order):
            bound.add(parent_order[index])
    return bound | {keyword.arg for keyword in call.keywords if keyword.arg is not None}


def _kwargs_targets() -> Dict[type, Callable[[dict], Tuple[Callable, Set[str], bool]]]:
    """Classes whose ``**kwargs`` go to another callable than the base ``__init__``:
    ``cfg -> (callable, parameters the class fills itself, drop its first parameter)``."""
    from mmengine.hooks import CheckpointHook, EMAHook

    from mroi_plugin.registry import MODELS

    def ema_model(cfg: dict) -> Tuple[Callable, Set[str], bool]:
        return (MODELS.get(cfg.get('ema_type', 'ExponentialMovingAverage')), {'model'}, True)

    # CheckpointHook.after_train_* calls runner.save_checkpoint(..., **kwargs)
    # with every argument of its own already set: any extra key is a TypeError
    # at the first save, after a whole epoch of training.
    saved_by_hook = {'out_dir', 'filename', 'file_client_args', 'save_optimizer',
                     'save_param_scheduler', 'meta', 'by_epoch', 'backend_args'}
    return {CheckpointHook: lambda cfg: (Runner.save_checkpoint, saved_by_hook, True),
            EMAHook: ema_model}


_Accepted = Tuple[Dict[str, inspect.Parameter], Dict[str, Any]]


def _accepted_by_init(cls: type, owner_index: int, cfg: dict) -> Optional[_Accepted]:
    """Keyword arguments ``cls(**cfg)`` accepts, starting at ``cls.__mro__[owner_index]``,
    following ``**kwargs`` to the base ``__init__`` (or a known target); None if unknown."""
    mro = cls.__mro__
    while owner_index < len(mro) and '__init__' not in vars(mro[owner_index]):
        owner_index += 1
    if owner_index >= len(mro) or mro[owner_index] is object:
        return None
    owner = mro[owner_index]
    init = vars(owner)['__init__']
    try:
        _, params, var_keyword = _named(init, drop_first=True)
    except (TypeError, ValueError):
        return None
    hints = _hints(init, params)
    if not var_keyword:
        return params, hints
    targets = _kwargs_targets()
    if owner in targets:
        target, bound, drop_first = targets[owner](cfg)
        if target is None:
            return None
        _, extra, extra_var = _named(target, drop_first)
        if extra_var:
            return None
        extra_hints = _hints(target, extra)
    else:
        call = _super_init_call(init)
        parent = _accepted_by_init(cls, owner_index + 1, cfg) if call is not None else None
        if parent is None:
            return None
        extra, extra_hints = parent
        assert call is not None  # parent is None without it
        parent_owner = next(klass for klass in mro[owner_index + 1:] if '__init__' in vars(klass))
        order, _, _ = _named(vars(parent_owner)['__init__'], drop_first=True)
        bound = _bound_by_call(call, order)
    for name in extra:
        if name not in params and name not in bound:
            params[name], hints[name] = extra[name], extra_hints[name]
    return params, hints


def _signature(cls: Callable, cfg: Optional[dict] = None) -> Optional[_Accepted]:
    """Keyword parameters and their resolved annotations; None if they cannot be known.

    A class whose ``__init__`` takes ``**kwargs`` is followed to where they go:
    the base class ``__init__`` when it calls ``super().__init__(..., **kwargs)``
    (mmengine's schedulers, ``AmpOptimWrapper``), or a known target
    (``CheckpointHook`` -> ``Runner.save_checkpoint``, ``EMAHook`` -> its
    averaged model).
    """
    try:
        order, params, var_keyword = _named(cls, drop_first=False)
    except (TypeError, ValueError):
        return None
    if not var_keyword:
        init = cls.__init__ if inspect.isclass(cls) else cls
        return params, _hints(init, params)
    if not inspect.isclass(cls):
        return None
    return _accepted_by_init(cls, 0, cfg or {})


def _suggest(key: str, names: Sequence[str]) -> str:
    """`` - did you mean 'x'?`` for the closest name (or a prefix of the key), else ''."""
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=_SUGGESTION_CUTOFF)
    if not close:
        # 'probability' for 'prob': abbreviations are far in edit distance.
        close = [name for name in names
                 if len(name) >= 3 and (key.startswith(name) or name.startswith(key))]
    return f" - did you mean '{close[0]}'?" if close else ''


def component_problems(cfg: dict, cls: Callable, path: str,
                       skip: Collection[str] = ()) -> List[str]:
    """Unknown keys and type mismatches of one config dict against ``cls``'s signature.

    Args:
        cfg (dict): The component's config (``type`` and builder keys are ignored).
        cls (Callable): The class (or function) it builds.
        path (str): Dotted key path of ``cfg`` in the config, for the messages.
        skip (Collection[str]): Keys the builder consumes itself.

    Returns:
        list[str]: One message per problem.
    """
    signature = _signature(cls, cfg)
    if signature is None:
        return []
    params, hints = signature
    name = getattr(cls, '__name__', str(cls))
    problems = []
    for key, value in cfg.items():
        if key == 'type' or key in skip:
            continue
        where = f'{path}.{key}' if path else key
        if key not in params:
            problems.append(f'{where}: {name} has no argument {key!r}'
                            f'{_suggest(key, list(params))}')
        elif not _accepts(hints[key], value):
            problems.append(f'{where}: {name} expects {_describe(hints[key])}, got '
                            f'{type(value).__name__} {value!r}')
    return problems


# ----------------------------------------------------------------------- walk
def _join(path: str, key: Any) -> str:
    return f'{path}[{key}]' if isinstance(key, int) else (f'{path}.{key}' if path else key)


def _components(value: Any, path: str, registry: str) -> Iterator[Tuple[dict, str, str]]:
    """Every ``type=`` dict under ``value``, with its path and registry name."""
    if isinstance(value, dict):
        if 'type' in value:
            yield value, path, registry
        for key, item in value.items():
            if key in _UNCHECKED_KEYS or (key == 'clip_grad' and registry == 'optim_wrapper'):
                continue  # clip_grad's ``type`` names a function: see _clip_grad_problems
            yield from _components(item, _join(path, key), _NESTED_REGISTRY.get(key, registry))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _components(item, _join(path, index), registry)


def _resolve(registry: Registry, type_name: Any, path: str) -> Tuple[Optional[Callable], str]:
    if not isinstance(type_name, str):
        return (type_name if callable(type_name) else None), ''
    try:
        cls = registry.get(type_name)
    except Exception as error:  # an unknown scope prefix, a failing lazy import
        return None, f'{path}.type: {type_name!r} cannot be imported from {registry.name}: {error}'
    if cls is not None:
        return cls, ''
    known = set(registry.module_dict)
    if registry.parent is not None:
        known |= set(registry.parent.module_dict)
    return None, (f'{path}.type: {type_name!r} is not a registered {registry.name}'
                  f'{_suggest(type_name, sorted(known))}')


def _loop_problems(cfg: Config, registries: Dict[str, Registry]) -> List[str]:
    """``train_cfg``/``val_cfg``/``test_cfg``: mmengine picks the loop when no type is given."""
    problems = []
    defaults = dict(val_cfg='ValLoop', test_cfg='TestLoop')
    for key in ('train_cfg', 'val_cfg', 'test_cfg'):
        loop = cfg.get(key)
        if not isinstance(loop, dict) or 'type' in loop:
            continue
        if key == 'train_cfg':
            by_epoch = loop.get('by_epoch', 'max_iters' not in loop)
            default = 'EpochBasedTrainLoop' if by_epoch else 'IterBasedTrainLoop'
        else:
            default = defaults[key]
        cls = registries['loop'].get(default)
        problems += component_problems(loop, cls, key, skip=('by_epoch', 'runner', 'dataloader'))
    return problems


def _clip_grad_problems(clip_grad: Any, path: str) -> List[str]:
    """``optim_wrapper.clip_grad`` against the torch function its ``type`` selects."""
    if not isinstance(clip_grad, dict):
        return []
    clip_type = clip_grad.get('type', 'norm')
    if clip_type not in _CLIP_GRAD:
        return [f"{path}.type: clip_grad type must be 'norm' (clip_grad_norm_) or 'value' "
                f'(clip_grad_value_), got {clip_type!r}']
    problems = component_problems(clip_grad, _CLIP_GRAD[clip_type], path, skip=('parameters', ))
    if not set(clip_grad) - {'type'}:
        # OptimWrapper asserts this after a bare message; say what it needs.
        needed = 'max_norm' if clip_type == 'norm' else 'clip_value'
        problems.append(f'{path}: clip_grad needs {needed!r} (or set clip_grad=None)')
    return problems


def _top_level_problems(cfg: Config) -> List[str]:
    """Top-level keys that look like misspellings of the keys the Runner reads."""
    problems = []
    for key in cfg.keys():
        if key in RUNNER_KEYS:
            continue
        close = difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=_MISSPELLING_CUTOFF)
        if close:
            problems.append(
                f'{key}: unknown top-level key - did you mean {close[0]!r}? The Runner ignores '
                'unknown keys, so this setting would be silently dropped. Rename it (or, if it '
                'is a variable of yours, pick a name that is not this close to a Runner key)')
    return problems


def _dataloader_problems(cfg: Config) -> List[str]:
    problems = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict):
            problems += component_problems(
                loader, DataLoader, key,
                skip=('dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn'))
    return problems


_TOP_LEVEL = {
    'model': 'model', 'model_wrapper_cfg': 'model_wrapper', 'train_dataloader': 'dataset',
    'val_dataloader': 'dataset', 'test_dataloader': 'dataset', 'val_evaluator': 'metric',
    'test_evaluator': 'metric', 'optim_wrapper': 'optim_wrapper',
    'param_scheduler': 'parameter scheduler', 'default_hooks': 'hook', 'custom_hooks': 'hook',
    'log_processor': 'log_processor', 'visualizer': 'visualizer', 'vis_backends': 'vis_backend',
    'train_cfg': 'loop', 'val_cfg': 'loop', 'test_cfg': 'loop',
}


def _registry_for(name: str, registries: Dict[str, Registry], cfg: dict) -> Registry:
    if name == 'metric' and cfg.get('type') == 'Evaluator':
        return registries['evaluator']
    if name == 'optim_wrapper':
        return registries['optim_wrapper']
    return registries[name]


def validate_config(cfg: Config) -> None:
    """Check every component config against its class before anything is built.

    Args:
        cfg (Config): The run's config, command-line options merged.

    Raises:
        ConfigError: listing every misspelt top-level key, unknown argument
            (with its dotted path, component type and the closest valid name),
            unregistered type and value of the wrong type.
    """
    registries = _registries()
    problems = (_top_level_problems(cfg) + _loop_problems(cfg, registries)
                + _dataloader_problems(cfg))
    randomness = cfg.get('randomness')
    if isinstance(randomness, dict):
        problems += component_problems(randomness, Runner.set_randomness, 'randomness',
                                       skip=('self', ))
    optim_wrapper = cfg.get('optim_wrapper')
    if isinstance(optim_wrapper, dict) and 'type' not in optim_wrapper:
        optim_wrapper = dict(optim_wrapper, type='OptimWrapper')
    for key, registry_name in _TOP_LEVEL.items():
        value = optim_wrapper if key == 'optim_wrapper' else cfg.get(key)
        for component, path, name in _components(value, key, registry_name):
            if name == 'optim_wrapper' and path != key:
                name = 'optimizer'
            registry = _registry_for(name, registries, component)
            cls, problem = _resolve(registry, component['type'], path)
            if problem:
                problems.append(problem)
            if cls is None or registry.name == 'function':
                continue
            problems += component_problems(component, cls, path,
                                           skip=_BUILDER_KEYS.get(registry.name, ()))
            if registry.name == 'optim_wrapper' and path == key:
                problems += _clip_grad_problems(component.get('clip_grad'), f'{path}.clip_grad')
    if problems:
        raise ConfigError(_message(cfg, 'has settings that would fail or be ignored', problems))


# ----------------------------------------------------------------------- files
def _file_entries(value: Any, path: str, data_root: str = '') -> Iterator[Tuple[str, str]]:
    """``(dotted key, file path)`` of every file-valued key under ``value``."""
    if isinstance(value, dict):
        root = value.get('data_root') or data_root
        for key, item in value.items():
            where = _join(path, key)
            if key in _FILE_KEYS and isinstance(item, str):
                if key == 'ann_file' and root and not osp.isabs(item):
                    item = osp.join(root, item)
                yield where, item
            elif key == 'extra_joint_regressors' and isinstance(item, dict):
                yield from ((_join(where, k), v) for k, v in item.items() if isinstance(v, str))
            elif key == 'init_cfg' and isinstance(item, dict) and 'checkpoint' in item:
                yield _join(where, 'checkpoint'), item['checkpoint']
            else:
                yield from _file_entries(item, where, root)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _file_entries(item, _join(path, index), data_root)


def check_config_files(cfg: Config, mode: str = 'train') -> None:
    """Check that the files and folders the run reads exist.

    Args:
        cfg (Config): The run's config.
        mode (str): ``'train'`` checks the model, all dataloaders and
            evaluators and ``load_from``; ``'test'`` only what testing reads
            (model, test data, test evaluator, ``load_from``).

    Raises:
        ConfigError: naming every missing file with its dotted config key.
    """
    keys = ['model', 'test_dataloader', 'test_evaluator']
    if mode == 'train':
        keys += ['train_dataloader', 'val_dataloader', 'val_evaluator']
    entries = [entry for key in keys for entry in _file_entries(cfg.get(key), key)]
    load_from = cfg.get('load_from')
    if isinstance(load_from, str):
        entries.append(('load_from', load_from))
    missing = [f'{key}: {path} does not exist' for key, path in entries
               if _URL_MARK not in path and not osp.exists(path)]
    if missing:
        raise ConfigError(_message(
            cfg, 'reads files that do not exist (check the path, data_root and the '
            'working directory, or create them: see docs/usage.md#data)', missing))


def _message(cfg: Config, what: str, problems: List[str]) -> str:
    name = cfg.filename or 'The config'
    return f'{name} {what}:\n' + '\n'.join(f'  - {problem}' for problem in problems)
