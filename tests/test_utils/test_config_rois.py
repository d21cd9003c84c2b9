"""A config's top-level num_rois reaches every crop step once the tools read the file."""
import argparse
import os.path as osp

from mmengine.config import Config

from mroi_plugin.apis import load_config
from mroi_plugin.utils.config_rois import CROP_TRANSFORMS, apply_num_rois

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TWO_ROIS = osp.join(REPO, 'configs', 'mroi', 'ablations', 'mroi_r50_2rois.py')


def _crop_rois(node) -> list:
    """``num_rois`` of every crop step anywhere in ``node``."""
    if isinstance(node, dict):
        own = [node['num_rois']] if node.get('type') in CROP_TRANSFORMS else []
        return own + [n for value in node.values() for n in _crop_rois(value)]
    if isinstance(node, (list, tuple)):
        return [n for value in node for n in _crop_rois(value)]
    return []


def test_the_paper_rows_are_their_num_rois_once_applied():
    cfg = Config.fromfile(TWO_ROIS)
    steps = _crop_rois(cfg.to_dict())
    # 2 top-level pipelines + 4 training sets + the test set (val and test share it).
    assert len(steps) >= 7 and set(steps) == {5}, steps
    assert set(_crop_rois(apply_num_rois(cfg).to_dict())) == {2}


def test_a_config_without_num_rois_is_left_alone():
    cfg = Config(dict(train_pipeline=[dict(type='MultiRoICrop', num_rois=3)]))
    assert _crop_rois(apply_num_rois(cfg).to_dict()) == [3]


def test_load_config_applies_it_before_the_command_line(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # load_config sets it when absent
    args = argparse.Namespace(config=TWO_ROIS, launcher='none', local_rank=0,
                              cfg_options=None)
    assert set(_crop_rois(load_config(args).to_dict())) == {2}
    # --cfg-options come after: one step can still be set on its own.
    args = argparse.Namespace(config=TWO_ROIS, launcher='none', local_rank=0,
                              cfg_options={'test_dataloader.dataset.pipeline.1.num_rois': 1})
    cfg = load_config(args)
    assert cfg.test_dataloader.dataset.pipeline[1].num_rois == 1
    assert set(_crop_rois(cfg.train_dataloader.to_dict())) == {2}
