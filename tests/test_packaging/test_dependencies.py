"""The import-time mmcv check: what each environment gets told."""
import pytest

from mroi_plugin.dependencies import check_mmcv_installation
from mroi_plugin.version import mmcv_maximum_version, mmcv_minimum_version


def environment(**versions):
    """``installed_version`` of an environment holding ``versions`` (``mmcv_lite`` = mmcv-lite)."""
    found = {name.replace('_', '-'): version for name, version in versions.items()}
    return found.get


def test_this_environment_passes():
    check_mmcv_installation()


@pytest.mark.parametrize('versions', [
    dict(mmcv_lite=mmcv_minimum_version),
    dict(mmcv='2.2.0'),
    dict(mmcv_lite='2.2.0'),
])
def test_one_mmcv_in_range_passes(versions):
    check_mmcv_installation(environment(**versions))


def test_no_mmcv_says_what_to_install():
    wanted = f'mmcv-lite>={mmcv_minimum_version},<{mmcv_maximum_version}'
    with pytest.raises(ImportError, match=f'none is installed: pip install "{wanted}"'):
        check_mmcv_installation(environment())


def test_both_distributions_are_refused():
    with pytest.raises(ImportError, match='Both mmcv 2.1.0 and mmcv-lite 2.2.0 are installed'):
        check_mmcv_installation(environment(mmcv='2.1.0', mmcv_lite='2.2.0'))


@pytest.mark.parametrize('name,version', [
    ('mmcv', '1.7.2'),  # mmcv-full 1.x era API
    ('mmcv', '2.0.0rc4'),  # a pre-release sorts before the minimum
    ('mmcv-lite', mmcv_maximum_version),  # the maximum is exclusive
])
def test_out_of_range_names_the_version_found(name, version):
    with pytest.raises(ImportError, match=f'found {name} {version}: pip install "{name}>='):
        check_mmcv_installation(environment(**{name.replace('-', '_'): version}))
