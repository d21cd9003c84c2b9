"""Import-time check of the installed mmcv (OpenMMLab packages check theirs the same way).

mmcv is the one dependency pip cannot choose for the user: ``mmcv-lite`` (pure
Python, what ``setup.py`` installs) and the full, compiled ``mmcv`` both install
the ``mmcv`` package, so a wrong pair or version is reported here, before any
mroi module imports mmcv, with what to run to fix it.
"""
from importlib import metadata
from typing import Callable, Dict, Optional

from .version import mmcv_maximum_version, mmcv_minimum_version

__all__ = ['check_mmcv_installation']

MMCV_DISTRIBUTIONS = ('mmcv', 'mmcv-lite')


def _installed_version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def check_mmcv_installation(
        installed_version: Callable[[str], Optional[str]] = _installed_version) -> None:
    """Raise a clear :class:`ImportError` unless exactly one mmcv 2.x is installed.

    Args:
        installed_version (Callable[[str], str | None]): Version of an installed
            distribution, None when it is not installed (a parameter so tests can
            describe environments that are not this one).

    Raises:
        ImportError: no mmcv, both ``mmcv`` and ``mmcv-lite`` (each overwrites
            the other's files), or a version outside
            ``[mmcv_minimum_version, mmcv_maximum_version)``.
    """
    from mmengine.utils import digit_version

    found: Dict[str, str] = {}
    for name in MMCV_DISTRIBUTIONS:
        version = installed_version(name)
        if version is not None:
            found[name] = version
    wanted = f'>={mmcv_minimum_version},<{mmcv_maximum_version}'
    if not found:
        raise ImportError(
            f'mroi_plugin needs mmcv {wanted} and none is installed: '
            f'pip install "mmcv-lite{wanted}" (or a full mmcv, see docs/install.md).')
    if len(found) > 1:
        raise ImportError(
            f'Both mmcv {found["mmcv"]} and mmcv-lite {found["mmcv-lite"]} are installed; they '
            'write the same mmcv/ files, so neither is intact. Keep one: '
            f'pip uninstall -y mmcv mmcv-lite && pip install "mmcv-lite{wanted}" '
            '(or reinstall the full mmcv alone, see docs/install.md).')
    (name, version), = found.items()
    if not (digit_version(mmcv_minimum_version) <= digit_version(version)
            < digit_version(mmcv_maximum_version)):
        raise ImportError(
            f'mroi_plugin needs mmcv {wanted}, found {name} {version}: '
            f'pip install "{name}{wanted}".')
