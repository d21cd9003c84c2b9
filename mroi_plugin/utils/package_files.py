"""Where the configs and tools shipped with mroi_plugin are, and ``mroi_plugin::`` config paths.

A wheel carries ``configs/`` and ``tools/`` as ``mroi_plugin/.mim/configs`` and
``mroi_plugin/.mim/tools`` (the OpenMMLab ``.mim`` layout, copied by ``setup.py``);
a source checkout (editable install or ``PYTHONPATH``) has them beside the
package. A config can then be named in mmengine's package syntax,
``mroi_plugin::quickstart/mroi_synthetic.py``, from any directory.
"""
import difflib
import os
import os.path as osp
from typing import List

__all__ = ['PACKAGE_NAME', 'packaged_dir', 'resolve_config_path']

PACKAGE_NAME = 'mroi_plugin'
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def packaged_dir(name: str) -> str:
    """The directory of the ``configs`` or ``tools`` shipped with this install.

    Args:
        name (str): ``'configs'`` or ``'tools'``.

    Returns:
        str: ``mroi_plugin/.mim/<name>`` of an installed wheel, else the source
        checkout's ``<name>/``.

    Raises:
        FileNotFoundError: neither exists (an install built without them).
    """
    candidates = (osp.join(PACKAGE_DIR, '.mim', name),
                  osp.join(osp.dirname(PACKAGE_DIR), name))
    for candidate in candidates:
        if osp.isdir(candidate):
            return candidate
    raise FileNotFoundError(
        f'This mroi_plugin ({PACKAGE_DIR}) has no {name}/: looked in '
        f'{" and ".join(candidates)}. Install a wheel built by setup.py (it ships them in '
        f'mroi_plugin/.mim) or run from a source checkout.')


def _packaged_configs(root: str) -> List[str]:
    found: List[str] = []
    for folder, _, files in os.walk(root):
        found.extend(
            osp.relpath(osp.join(folder, f), root).replace(os.sep, '/')
            for f in files if f.endswith('.py'))
    return sorted(found)


def resolve_config_path(path: str) -> str:
    """Turn ``mroi_plugin::REL`` into the packaged config's file path.

    Args:
        path (str): A config file path, or ``mroi_plugin::REL`` with ``REL``
            relative to the packaged ``configs/`` (mmengine's package syntax).

    Returns:
        str: ``path`` unchanged when it has no ``::``, else the packaged file.

    Raises:
        ValueError: another package's ``pkg::`` path.
        FileNotFoundError: no such packaged config (the message names the nearest).
    """
    if '::' not in path:
        return path
    package, _, relative = path.partition('::')
    if package != PACKAGE_NAME:
        raise ValueError(
            f'Config {path!r}: only {PACKAGE_NAME}:: configs can be named by package; give '
            f'{package!r} configs as a file path.')
    root = packaged_dir('configs')
    resolved = osp.join(root, relative)
    if not osp.isfile(resolved):
        close = difflib.get_close_matches(relative, _packaged_configs(root), n=3, cutoff=0.5)
        hint = (f' Did you mean {", ".join(PACKAGE_NAME + "::" + c for c in close)}?'
                if close else '')
        raise FileNotFoundError(
            f'Config {path!r} not found: no {relative} under {root}.{hint}')
    return resolved
