"""Registries of mroi, children of mmengine's root registries.

Every component registers itself at its class with ``@MODELS.register_module()``
(or the matching registry). ``locations`` lets mmengine import the modules lazily,
so a config that says ``default_scope='mroi'`` or
``custom_imports=dict(imports=['mroi_plugin'])`` finds every component without
importing it by hand. Components of other OpenMMLab packages stay reachable by
their scope prefix, e.g. ``type='mmdet.ResNet'``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS',
    'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS',
    'METRICS', 'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]

_SCOPE = 'mroi'

# Runner-level registries: mroi adds hooks and loops, not runners.
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope=_SCOPE)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=_SCOPE)
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope=_SCOPE, locations=['mroi_plugin.engine'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMENGINE_LOG_PROCESSORS, scope=_SCOPE)
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope=_SCOPE)
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=_SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=_SCOPE)
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=_SCOPE)

# Data.
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=_SCOPE,
    locations=['mroi_plugin.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=_SCOPE,
    locations=['mroi_plugin.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=_SCOPE,
    locations=['mroi_plugin.datasets.transforms'])

# Models: backbones, necks, heads, losses, body models, estimators.
MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope=_SCOPE,
    locations=['mroi_plugin.models', 'mroi_plugin.body_models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=_SCOPE)
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=_SCOPE)
TASK_UTILS = Registry(
    'task util', parent=MMENGINE_TASK_UTILS, scope=_SCOPE,
    locations=['mroi_plugin.models'])

# Evaluation and visualisation.
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=_SCOPE,
    locations=['mroi_plugin.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, scope=_SCOPE,
    locations=['mroi_plugin.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=_SCOPE,
    locations=['mroi_plugin.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope=_SCOPE)
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope=_SCOPE)
