"""``--cfg-options``: a malformed item is one argparse error naming it, in every tool.

Crafted items: a forgotten ``=`` (``train_cfg.max_epochs 2``), spaces around ``=``, an empty
key and an unbalanced bracket. Well-formed items must parse exactly as mmengine's
``DictAction`` does (the action is a drop-in replacement).
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import pytest
from mmengine.config import DictAction

from mroi_plugin.utils.cfg_options import CfgOptionsAction, parse_cfg_options

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = str(REPO / 'configs' / 'quickstart' / 'mroi_synthetic.py')
GOOD = ['train_cfg.max_epochs=2', 'optim_wrapper.optimizer.lr=1e-5', 'a.b=[1,(2,3)]',
        'x=true', 'y=None', 'z=1,2', "name='abc'", 'url=a=b']


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'{name}_tool', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parser(action) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='tool')
    parser.add_argument('--cfg-options', nargs='+', action=action)
    return parser


def test_well_formed_items_parse_as_mmengine_does():
    ours = _parser(CfgOptionsAction).parse_args(['--cfg-options', *GOOD]).cfg_options
    theirs = _parser(DictAction).parse_args(['--cfg-options', *GOOD]).cfg_options
    assert ours == theirs
    assert ours['a.b'] == [1, (2, 3)] and ours['url'] == 'a=b' and ours['y'] is None
    # Given twice, the options accumulate as with DictAction.
    twice = _parser(CfgOptionsAction).parse_args(['--cfg-options', 'a=1', '--cfg-options', 'b=2'])
    assert twice.cfg_options == {'a': 1, 'b': 2}


@pytest.mark.parametrize('items, message', [
    (['train_cfg.max_epochs', '2'],
     "item 'train_cfg.max_epochs' has no \"=\": expected key=value (e.g. "
     'train_cfg.max_epochs=2 or model.backbone.widths=[8,16,32,64]); did you mean '
     'train_cfg.max_epochs=2?'),
    (['a=1', 'lr'], "item 'lr' has no \"=\""),
    (['lr', '=1e-5'], 'did you mean lr=1e-5? (no spaces around "=")'),
    (['=3'], "item '=3' has no key before \"=\""),
    (['model.backbone.widths=[8,16'], "item 'model.backbone.widths=[8,16': unbalanced brackets"),
])
def test_malformed_items_are_named(items, message):
    with pytest.raises(ValueError) as error:
        parse_cfg_options(items)
    assert message in str(error.value)


def test_argparse_error_not_traceback(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser(CfgOptionsAction).parse_args(['--cfg-options', 'train_cfg.max_epochs', '2'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: tool')
    assert ("tool: error: argument --cfg-options: item 'train_cfg.max_epochs' has no \"=\""
            in err)


@pytest.mark.parametrize('tool, argv', [
    ('test', [QUICKSTART, 'ckpt.pth']),
    ('benchmark_ablation', []),
    ('demo', ['img.jpg', QUICKSTART, 'ckpt.pth', '--out-dir', 'out']),
    ('convert_checkpoint', ['src.pt', 'dst.pth', '--config', QUICKSTART]),
])
def test_every_tool_rejects_an_item_without_equals(tool, argv, capsys):
    module = _load_tool(tool)
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args([*argv, '--cfg-options', 'train_cfg.max_epochs', '2'])
    assert exit_info.value.code == 2
    assert 'did you mean train_cfg.max_epochs=2?' in capsys.readouterr().err
    args = module.parse_args([*argv, '--cfg-options', 'train_cfg.max_epochs=2'])
    assert args.cfg_options == {'train_cfg.max_epochs': 2}


def test_train_tool_rejects_an_item_without_equals(monkeypatch, capsys):
    """tools/train.py reads sys.argv: the same argparse error, exit status 2."""
    module = _load_tool('train')
    monkeypatch.setattr(sys, 'argv',
                        ['train.py', QUICKSTART, '--cfg-options', 'train_cfg.max_epochs', '2'])
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args()
    assert exit_info.value.code == 2
    assert ("error: argument --cfg-options: item 'train_cfg.max_epochs' has no \"=\""
            in capsys.readouterr().err)
