"""tools/test.py: strict checkpoint loading, ``--out`` checked first, metrics never lost.

The tool runs in-process (``main(argv)``) on the quickstart model at test size and a 3-person
synthetic test split. Crafted inputs: a checkpoint of another model (wider backbone: shape
mismatches), one with a key renamed (missing + unexpected), one with a file that holds no
state dict, ``--out`` under a regular file (its folder cannot be created, even as root) and a
dump that fails with ``ENOSPC`` after the evaluation.
"""
import errno
import importlib.util
import itertools
import re
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mroi_plugin.registry import MODELS
from mroi_plugin.utils import register_all_modules
from tests.tiny_configs import tiny_quickstart_config

REPO = Path(__file__).resolve().parents[2]
NUM_TEST = 3
_RUN_IDS = itertools.count()
METRIC_LINE = re.compile(r'hmr/mpjpe: (\d+\.\d+)')


def _load_tool():
    spec = importlib.util.spec_from_file_location('test_tool', REPO / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _test_config(body_dir: Path, data_root: Path, widths=(8, 16, 32, 64)) -> Config:
    cfg = tiny_quickstart_config(body_dir, widths=widths, num_rois=2, crop_size=(32, 24))
    loader = cfg.test_dataloader
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.batch_size = NUM_TEST
    loader.dataset.data_root = str(data_root)
    loader.dataset.ann_file = 'test.npz'
    cfg.test_evaluator = [
        dict(type='HMRMetric', body_model_dir=str(body_dir),
             joint_regressor=str(body_dir / 'J_regressor_h36m.npy'))
    ]
    cfg.custom_hooks = []
    cfg.visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    return cfg


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict:
    """Stand-in body, 3 test people, a config file and checkpoints (fitting and not)."""
    from mroi_plugin.synthetic import generate_synthetic_dataset
    from mroi_plugin.synthetic.standin import write_standin_smpl
    root = tmp_path_factory.mktemp('test_tool')
    body = root / 'body_models'
    write_standin_smpl(str(body), seed=0)
    generate_synthetic_dataset(
        str(root / 'synthetic'), num_train=0, num_val=0, num_test=NUM_TEST,
        image_size=(160, 120), seed=0, body_model_dir=str(body), workers=1)
    register_all_modules()
    cfg = _test_config(body, root / 'synthetic')
    config = root / 'tiny_test.py'
    cfg.dump(str(config))

    # Shifted so that no value equals a fresh initialisation (the Runner seeds its own).
    state = {k: v + 1e-3 if v.is_floating_point() else v
             for k, v in MODELS.build(cfg.model).state_dict().items()}
    good = root / 'good.pth'
    torch.save({'state_dict': state, 'meta': {}}, good)
    # Another model: the same names, a wider backbone and head input.
    torch.manual_seed(0)
    wide_cfg = _test_config(body, root / 'synthetic', widths=(8, 16, 32, 96))
    wide = root / 'wide.pth'
    torch.save({'state_dict': MODELS.build(wide_cfg.model).state_dict()}, wide)
    # One parameter under a name the model does not have: 1 missing + 1 unexpected key.
    renamed_state = dict(state)
    renamed_key = next(k for k in state if k.startswith('head.'))
    renamed_state[renamed_key.replace('head.', 'old_head.', 1)] = renamed_state.pop(renamed_key)
    renamed = root / 'renamed.pth'
    torch.save({'state_dict': renamed_state}, renamed)
    no_weights = root / 'no_weights.pth'
    torch.save({'epoch': 3}, no_weights)
    return dict(root=root, config=str(config), good=str(good), wide=str(wide),
                renamed=str(renamed), renamed_key=renamed_key, no_weights=str(no_weights))


def _argv(data, checkpoint, work_dir, *extra):
    # mmengine names a run's logger by its start second: two runs in one second share one
    # logger, whose handler writes to the first test's captured stdout. A name per run keeps
    # each test's log in its own capture.
    return [data['config'], data[checkpoint], '--work-dir', str(work_dir), *extra,
            '--cfg-options', f'experiment_name=test_tool_{next(_RUN_IDS)}']


def _forbid_evaluation(monkeypatch, tool):
    """Fail the test if the tool gets as far as building the test loop."""

    def no_evaluation(self, *args, **kwargs):
        raise AssertionError('the test loop was built: the tool did not stop before evaluating')

    monkeypatch.setattr(tool.Runner, 'build_test_loop', no_evaluation)


def _mpjpe(text: str) -> float:
    found = METRIC_LINE.findall(text)
    assert found, f'no metrics in the output:\n{text[-2000:]}'
    return float(found[-1])


# --------------------------------------------------------------------------- strict loading
@pytest.mark.parametrize('checkpoint, expected', [
    # The last backbone stage's 3x3 conv, 32 -> 96 channels in the checkpoint, 32 -> 64 here.
    ('wide', r'does not match the MultiRoIHMR built from the config: \d+ shape mismatch\(es\): '
     r'backbone\.stages\.3\.0\.weight \(checkpoint \(96, 32, 3, 3\), model \(64, 32, 3, 3\)\)'),
    ('renamed', r'1 missing key\(s\) in the checkpoint: head\..*1 unexpected key\(s\) in the '
     r'checkpoint: old_head\.'),
])
def test_checkpoint_of_another_model_is_refused_before_evaluating(
        data, tool, tmp_path, monkeypatch, capsys, checkpoint, expected):
    _forbid_evaluation(monkeypatch, tool)
    assert tool.main(_argv(data, checkpoint, tmp_path)) == tool.EXIT_ERROR
    err = capsys.readouterr().err
    assert re.search(expected, err, re.S), err
    assert data[checkpoint] in err and '--non-strict' in err and 'Nothing was evaluated' in err


def test_file_without_weights_is_refused(data, tool, tmp_path, monkeypatch, capsys):
    _forbid_evaluation(monkeypatch, tool)
    assert tool.main(_argv(data, 'no_weights', tmp_path)) == tool.EXIT_ERROR
    err = capsys.readouterr().err
    assert 'no_weights.pth' in err and "keys ['epoch'] do not hold tensors" in err


def test_missing_checkpoint_is_one_error(data, tool, tmp_path, capsys):
    code = tool.main([data['config'], str(tmp_path / 'nope.pth'), '--work-dir', str(tmp_path)])
    assert code == tool.EXIT_ERROR
    assert 'Checkpoint not found' in capsys.readouterr().err


def test_check_runs_on_the_runner_model_and_keeps_load_from(data, tool, tmp_path):
    """The check loads into the Runner's own model; mmengine's load_from stays for its hooks."""
    args = tool.parse_args(_argv(data, 'good', tmp_path))
    register_all_modules(init_default_scope=False)
    cfg = tool.build_config(args)
    assert cfg.load_from == data['good']
    runner = tool.build_runner(cfg, 'none', mode='test')
    saved = torch.load(data['good'], weights_only=True)['state_dict']
    key = 'head.mesh_decoder.decoders.pose.weight'
    assert key in saved
    assert not torch.equal(runner.model.state_dict()[key], saved[key])  # fresh initialisation
    assert tool.check_checkpoint_fits(runner, data['good']) is True
    assert torch.equal(runner.model.state_dict()[key], saved[key])
    # A mismatch leaves the model untouched and, with strict=False, only warns.
    fresh = {k: v.clone() for k, v in runner.model.state_dict().items()}
    assert tool.check_checkpoint_fits(runner, data['wide'], strict=False) is False
    assert all(torch.equal(v, runner.model.state_dict()[k]) for k, v in fresh.items())
    with pytest.raises(tool.CheckpointMismatchError, match='shape mismatch'):
        tool.check_checkpoint_fits(runner, data['wide'])


def test_remote_checkpoint_is_checked_too(data, tool, tmp_path, monkeypatch):
    """A URL goes through mmengine's CheckpointLoader (stubbed: nothing is downloaded)."""
    url = 'https://example.com/models/wide.pth'
    fetched = []

    def fake_remote(filename, map_location=None):
        fetched.append(filename)
        return torch.load({url: data['wide'], url[:-8] + 'good.pth': data['good']}[filename],
                          map_location=map_location, weights_only=True)

    monkeypatch.setattr(tool.CheckpointLoader, 'load_checkpoint', fake_remote)
    _forbid_evaluation(monkeypatch, tool)
    args = tool.parse_args([data['config'], url, '--work-dir', str(tmp_path)])
    register_all_modules(init_default_scope=False)
    runner = tool.build_runner(tool.build_config(args), 'none', mode='test')
    with pytest.raises(tool.CheckpointMismatchError,
                       match=f'Checkpoint {url} does not match .* shape mismatch'):
        tool.check_checkpoint_fits(runner, url)
    assert tool.check_checkpoint_fits(runner, url[:-8] + 'good.pth') is True
    assert fetched == [url, url[:-8] + 'good.pth']


@pytest.mark.slow
def test_fitting_and_non_strict_checkpoints_are_evaluated(data, tool, tmp_path, capsys):
    """The exact checkpoint evaluates as mmengine loads it; --non-strict evaluates another."""
    assert tool.main(_argv(data, 'good', tmp_path / 'good')) == tool.EXIT_OK
    good = _mpjpe(capsys.readouterr().out)
    assert tool.main(_argv(data, 'renamed', tmp_path / 'renamed', '--non-strict')) == 0
    out = capsys.readouterr().out
    assert '--non-strict:' in out and '1 missing key(s)' in out
    assert np.isfinite(_mpjpe(out))
    # Shape mismatches, which torch's load_state_dict would raise on, are skipped too.
    assert tool.main(_argv(data, 'wide', tmp_path / 'wide', '--non-strict')) == 0
    out = capsys.readouterr().out
    assert '--non-strict:' in out and re.search(r'\d+ shape mismatch\(es\)', out)
    assert np.isfinite(_mpjpe(out))
    # Evaluation is deterministic: the same checkpoint gives the same numbers again.
    assert tool.main(_argv(data, 'good', tmp_path / 'again')) == tool.EXIT_OK
    assert _mpjpe(capsys.readouterr().out) == good


# --------------------------------------------------------------------------- --out
def test_unwritable_out_fails_before_anything_is_built(data, tool, tmp_path, monkeypatch,
                                                        capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')

    def no_build(*args, **kwargs):
        raise AssertionError('the runner was built before --out was checked')

    monkeypatch.setattr(tool, 'build_runner', no_build)
    out = blocker / 'sub' / 'preds.pkl'
    assert tool.main(_argv(data, 'good', tmp_path, '--out', str(out))) == tool.EXIT_ERROR
    err = capsys.readouterr().err
    assert f'--out {out} cannot be written' in err and 'nothing has been computed yet' in err
    assert blocker.read_text() == 'not a folder'
    # A folder given as --out, and a file that is not a pickle.
    folder = tmp_path / 'folder.pkl'
    folder.mkdir()
    assert tool.main(_argv(data, 'good', tmp_path, '--out', str(folder))) == tool.EXIT_ERROR
    assert f'--out {folder} is a folder' in capsys.readouterr().err
    assert tool.main(_argv(data, 'good', tmp_path, '--out', 'x.json')) == tool.EXIT_ERROR
    assert '--out must be a .pkl or .pickle file' in capsys.readouterr().err


@pytest.mark.slow
def test_metrics_are_printed_when_the_dump_fails(data, tool, tmp_path, monkeypatch, capsys):
    """A disk that fills up during the dump: metrics still logged, exit 1, no partial file."""
    out = tmp_path / 'preds.pkl'

    def full_disk(obj, file, **kwargs):
        Path(file).write_bytes(b'half')
        raise OSError(errno.ENOSPC, 'No space left on device', str(file))

    monkeypatch.setattr(tool, 'dump', full_disk)
    assert tool.main(_argv(data, 'good', tmp_path / 'w', '--out', str(out))) == tool.EXIT_ERROR
    captured = capsys.readouterr()
    assert np.isfinite(_mpjpe(captured.out))
    assert f'--out {out} could not be written' in captured.err
    assert 'No space left on device' in captured.err
    assert list(tmp_path.glob('*preds*')) == []  # neither the file nor its temporary


@pytest.mark.slow
def test_out_is_written(data, tool, tmp_path, capsys):
    out = tmp_path / 'new_dir' / 'preds.pkl'
    assert tool.main(_argv(data, 'good', tmp_path / 'w', '--out', str(out))) == tool.EXIT_OK
    _mpjpe(capsys.readouterr().out)
    samples = mmengine.load(str(out))  # the file this test just wrote
    assert len(samples) == NUM_TEST
    assert [p.name for p in out.parent.iterdir()] == ['preds.pkl']
