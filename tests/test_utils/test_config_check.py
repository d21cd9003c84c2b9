"""Misspelt top-level config keys fail before anything is built."""
import glob

import pytest
from mmengine.config import Config

from mroi_plugin.utils import check_config_keys


def test_misspelt_runner_key_is_named_with_its_correction(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text("trian_dataloader = dict(batch_size=2)\nnum_rois = 5\n")
    with pytest.raises(KeyError, match=r"'trian_dataloader'.*did you mean 'train_dataloader'"):
        check_config_keys(Config.fromfile(str(path)))


def test_free_variables_are_allowed(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text("num_rois = 5\ncrop_size = (256, 192)\ntrain_cfg = dict(max_epochs=1)\n")
    assert sorted(check_config_keys(Config.fromfile(str(path)))) == ['crop_size', 'num_rois']


@pytest.mark.parametrize('path', sorted(glob.glob('configs/**/*.py', recursive=True)))
def test_every_shipped_config_passes(path):
    if '/_base_/' not in path:
        check_config_keys(Config.fromfile(path))
