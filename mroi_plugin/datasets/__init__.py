"""Datasets (HumanData, synthetic) and their transforms."""
from .human_data import BadSampleError, HumanDataError, HumanDataFile
from .human_data_dataset import HumanDataDataset
from .mixing import MixedRatioSampler
from .sample_seed import SampleIndex, seeded_random_state
from .seeded_concat_dataset import SeededConcatDataset
from .seeded_sampler import SeededSampler
from .spin_npz import SPINNpzFile
from .spin_npz_dataset import SPINNpzDataset
from .transforms import *  # noqa: F401,F403

# Imported here as well so that LoadImage is registered even while
# transforms/__init__.py does not export it.
from .transforms.loading import ImageLoadError, LoadImage

__all__ = [
    'HumanDataFile', 'HumanDataError', 'BadSampleError', 'HumanDataDataset',
    'MixedRatioSampler', 'LoadImage', 'ImageLoadError', 'SampleIndex', 'SeededSampler',
    'SeededConcatDataset', 'SPINNpzDataset', 'SPINNpzFile',
    'seeded_random_state'
]
