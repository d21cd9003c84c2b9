"""Console commands ``mroi-train``, ``mroi-test`` and ``mroi-demo``.

Each runs the packaged ``tools/<name>.py`` (the very script a source checkout
runs as ``python tools/<name>.py``) with the command's arguments, so the options,
messages and exit status are the tool's own. Configs may be given in mmengine's
package syntax, e.g. ``mroi-train mroi_plugin::quickstart/mroi_synthetic.py``.
"""
import os.path as osp
import runpy
import sys
from typing import NoReturn, Optional, Sequence

from mroi_plugin.utils.package_files import packaged_dir

__all__ = ['run_tool', 'train', 'test', 'demo']


def run_tool(name: str, argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Run the packaged ``tools/<name>.py`` as ``__main__`` and exit with its status.

    Args:
        name (str): The tool's file name without ``.py``.
        argv (Sequence[str], optional): Its arguments; None takes this process's.

    Raises:
        SystemExit: Always, with the tool's exit status (0 when it returns).
    """
    script = osp.join(packaged_dir('tools'), f'{name}.py')
    args = sys.argv[1:] if argv is None else list(argv)
    # The tool parses sys.argv and may import siblings from its own folder.
    sys.argv = [script, *args]
    sys.path.insert(0, osp.dirname(script))
    runpy.run_path(script, run_name='__main__')
    sys.exit(0)


def train() -> NoReturn:
    """``mroi-train CONFIG [options]``: ``tools/train.py``."""
    run_tool('train')


def test() -> NoReturn:
    """``mroi-test CONFIG CHECKPOINT [options]``: ``tools/test.py``."""
    run_tool('test')


def demo() -> NoReturn:
    """``mroi-demo INPUT CONFIG CHECKPOINT --out-dir DIR [options]``: ``tools/demo.py``."""
    run_tool('demo')
