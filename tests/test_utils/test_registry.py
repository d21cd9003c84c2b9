"""Scope resolution: default_scope='mroi', custom_imports, and other packages."""
import importlib.util

import pytest
import torch.nn as nn
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

from mroi_plugin.registry import MODELS


@MODELS.register_module(name='_RegistryProbe', force=True)
class _RegistryProbe(nn.Module):
    """A component registered in mroi's MODELS for these tests only."""

    def __init__(self, width: int = 2) -> None:
        super().__init__()
        self.width = width


def test_child_registries_have_mroi_scope_and_mmengine_parent():
    assert MODELS.scope == 'mroi'
    assert MODELS.parent is MMENGINE_MODELS
    assert MMENGINE_MODELS.children['mroi'] is MODELS


def test_default_scope_mroi_builds_by_bare_name():
    with DefaultScope.overwrite_default_scope('mroi'):
        probe = MMENGINE_MODELS.build(dict(type='_RegistryProbe', width=3))
    assert isinstance(probe, _RegistryProbe) and probe.width == 3


def test_scope_prefix_reaches_mroi_from_another_scope():
    probe = MMENGINE_MODELS.build(dict(type='mroi._RegistryProbe'))
    assert isinstance(probe, _RegistryProbe)


def test_scope_alias_module_reexports_the_same_registries():
    # mmengine imports f'{scope}.registry' when it switches to scope 'mroi'.
    import mroi.registry
    import mroi.utils
    assert mroi.registry.MODELS is MODELS
    assert callable(mroi.utils.register_all_modules)


def test_mmengine_components_reachable_from_mroi_scope():
    import torch

    from mroi_plugin.registry import OPTIMIZERS
    params = [nn.Parameter(torch.zeros(1))]
    opt = OPTIMIZERS.build(dict(type='Adam', params=params, lr=1e-3))
    assert isinstance(opt, torch.optim.Adam)


def _mmdet_models_importable() -> bool:
    if importlib.util.find_spec('mmdet') is None:
        return False
    try:
        import mmdet.models  # noqa: F401  (needs mmcv with compiled ops)
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _mmdet_models_importable(),
                    reason='mmdet (with full mmcv) is not installed: docs/install.md')
def test_mmdet_component_reachable_by_scope_prefix():
    with DefaultScope.overwrite_default_scope('mroi'):
        backbone = MODELS.build(dict(type='mmdet.ResNet', depth=18))
    assert type(backbone).__module__.startswith('mmdet')
