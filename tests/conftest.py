"""Make ``tests`` importable by its package name.

pytest runs with ``--import-mode=importlib`` (test files may share basenames),
so the repository root is not on ``sys.path``. Multi-process tests started with
``torch.multiprocessing.spawn`` unpickle their worker functions by module name
(``tests.test_models...``) in fresh interpreters, which inherit this path.
"""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


# Fixtures of the untrusted-file tests (SMPL .pkl and HumanData .npz), shared by both.
import copyreg  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

from tests.pickle_corpus import EXTENSION_CODES, PROBE_SOURCE  # noqa: E402


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """Name of a throwaway importable module: importing it at all is a breach."""
    name = f'mroi_untrusted_probe_{uuid.uuid4().hex[:12]}'
    folder = tmp_path / 'probe'
    folder.mkdir()
    (folder / f'{name}.py').write_text(PROBE_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def extensions():
    """The corpus's EXT codes registered (to directory-making functions), then removed."""
    for module, name, code in EXTENSION_CODES.values():
        copyreg.add_extension(module, name, code)
    try:
        yield
    finally:
        for module, name, code in EXTENSION_CODES.values():
            copyreg.remove_extension(module, name, code)


@pytest.fixture(scope='session')
def standin_dir(tmp_path_factory):
    """A folder holding the stand-in body model (default seed), for loading model configs."""
    from mroi_plugin.synthetic.standin import write_standin_smpl
    path = tmp_path_factory.mktemp('standin')
    write_standin_smpl(path)
    return str(path)
