"""The offline generators live in mroi_plugin.synthetic; the runtime packages never load it."""
import json
import subprocess
import sys

import mroi_plugin.body_models as body_models
import mroi_plugin.synthetic as synthetic

# One fresh interpreter: what the data packages load, then what all runtime packages load.
_PROBE = '''
import json, sys
def loaded():
    return sorted(m for m in sys.modules if m.startswith('mroi_plugin'))
import mroi_plugin.datasets, mroi_plugin.body_models
data = loaded()
import mroi_plugin.models, mroi_plugin.evaluation, mroi_plugin.engine, mroi_plugin.apis
print(json.dumps(dict(data=data, runtime=loaded())))
'''


def test_runtime_packages_do_not_load_the_generators():
    result = subprocess.run([sys.executable, '-c', _PROBE], capture_output=True, text=True,
                            check=True)
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert 'mroi_plugin.datasets' in loaded['data']  # the probe itself works
    assert 'mroi_plugin.apis' in loaded['runtime']
    # datasets and body_models load neither the generators nor the renderer they use.
    assert not [m for m in loaded['data']
                if m.startswith(('mroi_plugin.synthetic', 'mroi_plugin.visualization'))]
    assert not [m for m in loaded['runtime'] if m.startswith('mroi_plugin.synthetic')]


def test_the_stand_in_is_exported_by_the_synthetic_package_only():
    for name in ('make_standin_smpl', 'make_standin_h36m_regressor', 'write_standin_smpl'):
        assert name in synthetic.__all__ and callable(getattr(synthetic, name))
        assert not hasattr(body_models, name), name
