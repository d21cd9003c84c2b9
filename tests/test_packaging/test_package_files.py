"""mroi_plugin::REL config paths and the packaged configs/tools (the wheel's .mim layout)."""
import os.path as osp
import shutil
from pathlib import Path

import pytest
from mmengine.config import Config

from mroi_plugin.utils import package_files
from mroi_plugin.utils.package_files import packaged_dir, resolve_config_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_install(tmp_path, monkeypatch):
    """A package folder whose .mim holds a copy of the repository's configs and tools."""
    package = tmp_path / 'site-packages' / 'mroi_plugin'
    for name in ('configs', 'tools'):
        shutil.copytree(REPO / name, package / '.mim' / name,
                        ignore=shutil.ignore_patterns('__pycache__'))
    monkeypatch.setattr(package_files, 'PACKAGE_DIR', str(package))
    return package


def test_plain_paths_are_left_alone():
    assert resolve_config_path('configs/quickstart/mroi_synthetic.py') == \
        'configs/quickstart/mroi_synthetic.py'


def test_source_checkout_resolves_to_its_configs():
    resolved = resolve_config_path('mroi_plugin::quickstart/mroi_synthetic.py')
    assert osp.samefile(resolved, REPO / 'configs' / 'quickstart' / 'mroi_synthetic.py')
    assert osp.samefile(packaged_dir('tools'), REPO / 'tools')


def test_installed_mim_copy_is_preferred_and_base_configs_resolve_inside_it(fake_install):
    resolved = resolve_config_path('mroi_plugin::quickstart/mroi_synthetic.py')
    assert resolved == str(fake_install / '.mim' / 'configs' / 'quickstart' / 'mroi_synthetic.py')
    assert packaged_dir('tools') == str(fake_install / '.mim' / 'tools')
    # `_base_ = ['../_base_/default_runtime.py']` is read from the packaged copy: the merged
    # config equals the one loaded from the checkout.
    packaged = Config.fromfile(resolved)
    source = Config.fromfile(REPO / 'configs' / 'quickstart' / 'mroi_synthetic.py')
    assert packaged.to_dict() == source.to_dict()
    assert 'default_scope' in packaged


def test_missing_packaged_config_names_the_closest(fake_install):
    with pytest.raises(FileNotFoundError, match=r'Did you mean mroi_plugin::quickstart/'
                       r'mroi_synthetic\.py'):
        resolve_config_path('mroi_plugin::quickstart/mroi_synthetc.py')


def test_other_packages_are_refused():
    with pytest.raises(ValueError, match="only mroi_plugin:: configs"):
        resolve_config_path('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')


def test_install_without_configs_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(package_files, 'PACKAGE_DIR', str(tmp_path / 'mroi_plugin'))
    with pytest.raises(FileNotFoundError, match='has no configs/.*Install a wheel built'):
        resolve_config_path('mroi_plugin::quickstart/mroi_synthetic.py')
