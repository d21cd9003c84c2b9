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
