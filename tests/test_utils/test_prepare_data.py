"""prepare_data writes the quickstart's files once and regenerates on new arguments."""
import json

import pytest
from mmengine.config import Config

from mroi_plugin.apis import prepare_data


def test_writes_once_and_regenerates_when_the_arguments_change(tmp_path, monkeypatch):
    import mroi_plugin.synthetic as synthetic
    calls = []

    def fake_generate(out_dir, body_model_dir, **kwargs):
        calls.append(kwargs)

    monkeypatch.setattr(synthetic, 'generate_synthetic_dataset', fake_generate)
    body = tmp_path / 'body'
    body.mkdir()
    spec = dict(synthetic_dataset=dict(out_dir=str(tmp_path / 'syn'), body_model_dir=str(body),
                                       num_train=4, num_val=0, num_test=2, seed=0,
                                       image_size=(32, 24)))
    (tmp_path / 'syn').mkdir()
    prepare_data(Config(dict(prepare_data=spec)))
    # The tuple image_size reads back from the JSON marker as a list: still the same data.
    prepare_data(Config(dict(prepare_data=spec)))
    assert len(calls) == 1
    marker = json.loads((tmp_path / 'syn' / '.mroi_prepared.json').read_text())
    assert marker['args'] == dict(num_train=4, num_val=0, num_test=2, seed=0,
                                  image_size=[32, 24], data_version=synthetic.DATA_VERSION)
    spec['synthetic_dataset']['num_train'] = 8
    prepare_data(Config(dict(prepare_data=spec)))
    assert len(calls) == 2 and calls[-1]['num_train'] == 8
    # A newer generator renders the same options differently: the folder is re-rendered,
    # and the generator itself never sees the version.
    monkeypatch.setattr(synthetic, 'DATA_VERSION', synthetic.DATA_VERSION + 1)
    prepare_data(Config(dict(prepare_data=spec)))
    assert len(calls) == 3 and 'data_version' not in calls[-1]
    prepare_data(Config(dict(prepare_data=spec)))
    assert len(calls) == 3


def test_a_folder_from_before_the_version_marker_is_rendered_again(tmp_path, monkeypatch):
    import mroi_plugin.synthetic as synthetic
    calls = []
    monkeypatch.setattr(synthetic, 'generate_synthetic_dataset',
                        lambda out_dir, body_model_dir, **kwargs: calls.append(kwargs))
    args = dict(num_train=4, num_val=0, num_test=2, seed=0, image_size=[32, 24])
    (tmp_path / 'syn').mkdir()
    (tmp_path / 'syn' / '.mroi_prepared.json').write_text(json.dumps(dict(args=args)))
    (tmp_path / 'body').mkdir()
    spec = dict(synthetic_dataset=dict(out_dir=str(tmp_path / 'syn'),
                                       body_model_dir=str(tmp_path / 'body'), **args))
    prepare_data(Config(dict(prepare_data=spec)))
    assert calls == [args]


def test_unknown_entries_are_rejected():
    with pytest.raises(KeyError, match="unknown keys \\['synthetic'\\]"):
        prepare_data(Config(dict(prepare_data=dict(synthetic=dict()))))


def test_mean_params_follow_the_training_crop_box(tmp_path, monkeypatch):
    import os.path as osp
    import sys

    import mroi_plugin.synthetic as synthetic
    from mroi_plugin.datasets.mean_params import mean_params_crop_box
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_datasets'))
    from humandata_factory import dump_human_data, make_human_data

    def fake_generate(out_dir, body_model_dir, **kwargs):
        dump_human_data(osp.join(out_dir, 'train.npz'), make_human_data(camera='focal_length'))

    monkeypatch.setattr(synthetic, 'generate_synthetic_dataset', fake_generate)
    (tmp_path / 'syn').mkdir()
    spec = dict(synthetic_dataset=dict(out_dir=str(tmp_path / 'syn'), body_model_dir='body',
                                       num_train=4, num_val=0, num_test=2, seed=0))
    mean_file = str(tmp_path / 'syn' / 'mean_params.npz')

    def run(crop_size, padding=1.2):
        # The crop box is the training pipeline's: GetBBoxCenterScale and the crop size.
        pipeline = [dict(type='GetBBoxCenterScale', padding=padding),
                    dict(type='MultiRoICrop', crop_size=crop_size)]
        dataset = dict(type='HumanDataDataset', ann_file='train.npz', pipeline=pipeline)
        prepare_data(Config(dict(prepare_data=spec, train_dataloader=dict(dataset=dataset))))
        return mean_params_crop_box(mean_file)

    assert run((100, 100)) == dict(crop_aspect=1.0, padding=1.2)
    # Same data, another crop box: the mean camera is measured again, the data are kept.
    assert run((100, 50)) == dict(crop_aspect=0.5, padding=1.2)
    assert run((100, 50), padding=1.1) == dict(crop_aspect=0.5, padding=1.1)
