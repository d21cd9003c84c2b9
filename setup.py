"""Install mroi_plugin.

torch is the user's own install (CPU or CUDA, see README). mmcv comes as
``mmcv-lite`` (pure Python; mroi needs none of mmcv's compiled ops) unless a full
``mmcv`` is already installed, in which case that one is used: both distributions
own the ``mmcv`` package and must not be installed together.
"""
import os
import subprocess
import sys

from setuptools import find_packages, setup


def full_mmcv_installed() -> bool:
    """Whether the target environment already has the full ``mmcv``.

    pip builds in an isolated environment whose ``PYTHONPATH`` hides the target
    site-packages, so ask the target interpreter without that override.
    ``MROI_MMCV=full|lite`` forces the choice.
    """
    forced = os.environ.get('MROI_MMCV', '').lower()
    if forced in ('full', 'lite'):
        return forced == 'full'
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONNOUSERSITE')}
    probe = ('import importlib.metadata as m, sys\n'
             'try:\n    m.version("mmcv")\nexcept m.PackageNotFoundError:\n'
             '    sys.exit(1)\n')
    try:
        return subprocess.run([sys.executable, '-c', probe], env=env,
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


install_requires = [
    'mmengine>=0.10.0,<0.11.0',
    'mmcv>=2.0.0' if full_mmcv_installed() else 'mmcv-lite>=2.0.0',
    'smplx>=0.1.28',
    # mmengine/mmcv already bring opencv-python; OpenCV 5 moved the HOG people
    # detector (the demo's zero-setup fallback) to the contrib build, so stay on 4.x.
    'opencv-python>=4.8,<5',
    'numpy',
    'scipy',
    'matplotlib',
    'tqdm',
]

with open(os.path.join(os.path.dirname(__file__), 'mroi_plugin', 'version.py')) as f:
    version = f.read().split("'")[1]

setup(
    name='mroi_plugin',
    version=version,
    description='Multi-RoI human mesh recovery (ECCV 2024) and CLIFF on '
    'mmengine/mmcv 2.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mroi_plugin', 'mroi_plugin.*', 'mroi']),
    python_requires='>=3.9',
    install_requires=install_requires,
    extras_require={
        # mmdet needs the full, compiled mmcv (<2.2); see docs/INSTALL.md.
        'det': ['mmdet>=3.3.0', 'mmcv>=2.0.0rc4,<2.2.0'],
        'tests': ['pytest', 'ruff'],
        'tensorboard': ['tensorboard'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
