"""Install mroi_plugin.

torch is the user's own install (CPU or CUDA, see README). mmcv comes as
``mmcv-lite`` (pure Python: mroi needs none of mmcv's compiled ops); for the full,
compiled ``mmcv`` (only mmdet's detector in the demo needs it) see
``docs/install.md``. Nothing here depends on the build machine: the same wheel
installs anywhere, and ``mroi_plugin`` checks its mmcv at import time.

Building (``pip wheel .``, ``python -m build``) copies ``configs/`` and ``tools/``
into ``mroi_plugin/.mim/`` inside the wheel, the OpenMMLab layout that ``mim train``
and the ``mroi-train``/``mroi-test``/``mroi-demo`` commands read; an editable
install reads them from the checkout instead.
"""
import os.path as osp
import shutil
from typing import Any, Dict

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

REPO = osp.dirname(osp.abspath(__file__))
# Files that ship inside the package as ``mroi_plugin/.mim/<name>``.
MIM_FILES = ('configs', 'tools')


def read_version_file() -> Dict[str, Any]:
    """The names in ``mroi_plugin/version.py`` (version and the mmcv range)."""
    namespace: Dict[str, Any] = {}
    path = osp.join(REPO, 'mroi_plugin', 'version.py')
    with open(path, encoding='utf-8') as f:
        exec(compile(f.read(), path, 'exec'), namespace)
    return namespace


class BuildPyWithMim(build_py):
    """``build_py`` that also copies :data:`MIM_FILES` into ``mroi_plugin/.mim``.

    Copied into the build directory, never into the source tree, so a checkout
    stays clean and a stale copy cannot outlive an edit of ``configs/``.
    """

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            # The checkout's configs/ and tools/ are used in place.
            return
        mim_dir = osp.join(self.build_lib, 'mroi_plugin', '.mim')
        if osp.isdir(mim_dir):
            shutil.rmtree(mim_dir)
        for name in MIM_FILES:
            src = osp.join(REPO, name)
            if not osp.isdir(src):
                raise FileNotFoundError(
                    f'{src} is missing: a wheel of mroi_plugin is built from a full '
                    'checkout (or an sdist, which includes it).')
            shutil.copytree(src, osp.join(mim_dir, name),
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


version_info = read_version_file()
mmcv_range = (f">={version_info['mmcv_minimum_version']},"
              f"<{version_info['mmcv_maximum_version']}")

install_requires = [
    'mmengine>=0.10.0,<0.11.0',
    # A full, compiled mmcv can stand in for mmcv-lite: see docs/install.md.
    f'mmcv-lite{mmcv_range}',
    # smplx's licence is non-commercial research only (README, "Licence").
    'smplx>=0.1.28',
    'opencv-python',
    'numpy',
    # Progress bars of evaluation and data generation.
    'tqdm',
]

setup(
    name='mroi_plugin',
    version=version_info['__version__'],
    description='Multi-RoI human mesh recovery (ECCV 2024) and CLIFF on '
    'mmengine/mmcv 2.x',
    long_description=open(osp.join(REPO, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mroi_plugin', 'mroi_plugin.*', 'mroi']),
    package_data={'mroi_plugin': ['py.typed']},
    python_requires='>=3.9',
    install_requires=install_requires,
    extras_require={
        # mmengine already depends on matplotlib; the plotting tools name it themselves.
        'plots': ['matplotlib'],
        'tensorboard': ['tensorboard'],
        # ONNX export and its check (tools/deployment/pytorch2onnx.py, docs/deployment.md).
        'onnx': ['onnx', 'onnxruntime'],
        # mypy pinned to the release .ci/run's type check was made clean with; setuptools
        # with its own bdist_wheel for the wheel tests, which build without isolation.
        'tests': ['pytest', 'ruff', 'mypy>=2.4,<2.5', 'setuptools>=70.1', 'onnx', 'onnxruntime'],
    },
    entry_points={
        'console_scripts': [
            'mroi-train=mroi_plugin.cli:train',
            'mroi-test=mroi_plugin.cli:test',
            'mroi-demo=mroi_plugin.cli:demo',
        ],
    },
    cmdclass={'build_py': BuildPyWithMim},
    license='Apache-2.0',
    zip_safe=False,
)
