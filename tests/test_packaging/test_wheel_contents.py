"""setup.py builds a wheel that carries configs/ and tools/ in mroi_plugin/.mim, the console
commands and py.typed, and whose requirements are what the package imports at run time.

The wheel is built (no dependencies, no build isolation: only setuptools is needed) from a
copy of the files setup.py reads, so the checkout gets no build/ folder. Installing and
running it is tools/check_wheel.sh's job (run by .ci/run).
"""
import ast
import configparser
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from mroi_plugin.version import mmcv_maximum_version, mmcv_minimum_version

REPO = Path(__file__).resolve().parents[2]
SOURCES = ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'CHANGELOG.md', 'mroi_plugin',
           'mroi', 'configs', 'tools')


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp('src')
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc', '.mim'))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp('dist')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
                    '--no-build-isolation', '-w', str(dist), str(src)],
                   check=True, capture_output=True, timeout=300)
    (built,) = dist.glob('mroi_plugin-*.whl')
    return zipfile.ZipFile(built)


def _files_under(root: Path):
    return {p.relative_to(root).as_posix() for p in root.rglob('*')
            if p.is_file() and '__pycache__' not in p.parts}


def test_configs_and_tools_ship_in_mim(wheel):
    names = set(wheel.namelist())
    for folder in ('configs', 'tools'):
        shipped = {n.split(f'mroi_plugin/.mim/{folder}/', 1)[1] for n in names
                   if n.startswith(f'mroi_plugin/.mim/{folder}/')}
        assert shipped == _files_under(REPO / folder), folder
    assert 'mroi_plugin/py.typed' in names


def test_console_commands(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith('.dist-info/entry_points.txt')]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert dict(parser['console_scripts']) == {
        'mroi-train': 'mroi_plugin.cli:train',
        'mroi-test': 'mroi_plugin.cli:test',
        'mroi-demo': 'mroi_plugin.cli:demo',
    }


# The import name of each runtime requirement whose distribution is named differently.
IMPORT_NAMES = {'opencv-python': 'cv2', 'mmcv-lite': 'mmcv'}


def _third_party_imports():
    """Third-party modules the package imports: ``(at module level, anywhere)``."""
    top, anywhere = set(), set()
    for path in (REPO / 'mroi_plugin').rglob('*.py'):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split('.')[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = {node.module.split('.')[0]}
            else:
                continue
            names -= set(sys.stdlib_module_names) | {'mroi_plugin', 'mroi'}
            anywhere |= names
            if id(node) in module_level:
                top |= names
    return top, anywhere


def test_requirements_are_what_runs(wheel):
    (metadata,) = [n for n in wheel.namelist() if n.endswith('.dist-info/METADATA')]
    message = Parser().parsestr(wheel.read(metadata).decode())
    runtime = {re.split(r'[<>=;\s]', r, maxsplit=1)[0]: r.split(';')[0].strip()
               for r in message.get_all('Requires-Dist') if 'extra ==' not in r}
    provided = {IMPORT_NAMES.get(name, name) for name in runtime}
    top, anywhere = _third_party_imports()
    # torch is the user's own install (CPU or CUDA build).
    assert top - {'torch'} <= provided, 'imported at module level but not required'
    assert provided <= anywhere, 'required but never imported'
    assert runtime['mmcv-lite'] == (
        f'mmcv-lite<{mmcv_maximum_version},>={mmcv_minimum_version}')
