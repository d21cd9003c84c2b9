"""temporary_standin_dir: the stand-in body model files for one build, then nothing left."""
import os

from mroi_plugin.body_models import SMPL
from mroi_plugin.synthetic import temporary_standin_dir
from mroi_plugin.synthetic.standin import STANDIN_FILE_NAMES, STANDIN_H36M_REGRESSOR_NAME


def test_temporary_standin_dir_holds_the_model_files_and_goes_away():
    with temporary_standin_dir() as path:
        assert sorted(os.listdir(path)) == sorted(
            list(STANDIN_FILE_NAMES.values()) + [STANDIN_H36M_REGRESSOR_NAME])
        assert SMPL(path).faces.shape == (13776, 3)  # SMPL's topology
    assert not os.path.exists(path)
