"""Create the licence-free files a config needs before the Runner is built.

A config may carry a top-level ``prepare_data`` dict::

    prepare_data = dict(
        standin_body_model=dict(out_dir='data/body_models/standin', seed=0),
        synthetic_dataset=dict(out_dir='data/synthetic', num_train=1200,
                               num_val=0, num_test=200, seed=0))

``tools/train.py`` and ``tools/test.py`` call :func:`prepare_data` first, so the
quickstart runs on a fresh clone. Next to a synthetic training split it writes
``mean_params.npz`` (the training set's mean pose and shape, SPIN's format) for
the regressor's initialisation. Files that exist are kept; only the first
local process writes, the others wait for it. A synthetic set generated with
other arguments than the config's is generated again.
"""
import json
import os
import os.path as osp
import time
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['prepare_data']

_MARKER = '.mroi_prepared.json'
_WAIT_SECONDS = 3600


def _is_writer() -> bool:
    return int(os.environ.get('LOCAL_RANK', '0')) == 0


def _marker_args(marker: str):
    """The arguments recorded in a marker file, or None while it is absent."""
    try:
        with open(marker) as f:
            return json.load(f).get('args')
    except (OSError, ValueError):
        return None


def _wait_for(marker: str, args=None) -> None:
    """Wait until local rank 0 has written ``marker`` (recording ``args`` if given)."""
    start = time.time()
    while not osp.exists(marker) or (args is not None and _marker_args(marker) != args):
        if time.time() - start > _WAIT_SECONDS:
            raise TimeoutError(f'Timed out waiting for local rank 0 to write {marker}.')
        time.sleep(1.0)


def _prepare_standin(out_dir: str, seed: int = 0) -> None:
    marker = osp.join(out_dir, _MARKER)
    if osp.exists(marker):
        return
    if not _is_writer():
        _wait_for(marker)
        return
    from mroi_plugin.synthetic import write_standin_smpl
    print_log(f'Writing the licence-free stand-in body model to {out_dir}', logger='current')
    paths = write_standin_smpl(out_dir, seed=seed)
    with open(marker, 'w') as f:
        json.dump(dict(seed=seed, files={k: str(v) for k, v in paths.items()}), f)


def _crop_box(cfg: Config) -> dict:
    """The training pipeline's crop box (what the mean crop camera is measured with).

    ``crop_size`` and ``padding`` of the first training dataset's pipeline
    (:func:`~mroi_plugin.datasets.transforms.pipeline_crop_box`); the defaults for a config
    without one.
    """
    from mroi_plugin.datasets.transforms import pipeline_crop_box
    from mroi_plugin.geometry import DEFAULT_BBOX_PADDING, DEFAULT_CROP_SIZE
    box = dict(crop_size=DEFAULT_CROP_SIZE, padding=DEFAULT_BBOX_PADDING)
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    for candidate in [dataset, *dataset.get('datasets', [])]:
        if candidate.get('pipeline'):
            padding, crop_size = pipeline_crop_box(candidate['pipeline'])
            return dict(crop_size=crop_size, padding=padding)
    return box


def _write_mean_params(out_dir: str, crop_box: dict, overwrite: bool = False) -> None:
    """SPIN-style regressor initialisation from the synthetic training split.

    A file written for another crop box, or by an mroi that did not yet record the mean
    camera, is written again.
    """
    train_file = osp.join(out_dir, 'train.npz')
    out_file = osp.join(out_dir, 'mean_params.npz')
    if not _is_writer() or not osp.exists(train_file):
        return
    from mroi_plugin.datasets.mean_params import mean_params_crop_box, write_mean_params
    crop_h, crop_w = crop_box['crop_size']
    recorded = dict(crop_aspect=crop_w / crop_h, padding=crop_box['padding'])
    if osp.exists(out_file) and not overwrite and mean_params_crop_box(out_file) == recorded:
        return
    write_mean_params(train_file, out_file, **crop_box)


def _prepare_synthetic(out_dir: str, body_model_dir: str, crop_box: dict, **kwargs) -> None:
    marker = osp.join(out_dir, _MARKER)
    from mroi_plugin.synthetic import DATA_VERSION, generate_synthetic_dataset

    # Compare as the marker stores them: JSON has no tuples, so (320, 240) reads back as
    # [320, 240] and would otherwise look like a change and regenerate the data every run.
    kwargs = json.loads(json.dumps(kwargs))
    # The generator's version is part of what the data depend on: a folder rendered by an
    # older mroi (no version recorded) is rendered again.
    record = dict(kwargs, data_version=DATA_VERSION)
    if osp.exists(marker):
        written = _marker_args(marker)
        if written == record:
            _write_mean_params(out_dir, crop_box)
            return
        if _is_writer():
            print_log(
                f'{out_dir} was generated with {written}; this mroi renders {record}, so it '
                'is generated again (the generator is deterministic: same args, same data).',
                logger='current', level=30)
            os.remove(marker)
    if not _is_writer():
        _wait_for(marker, record)
        return
    print_log(f'Generating the synthetic dataset in {out_dir} ({kwargs})', logger='current')
    start = time.time()
    generate_synthetic_dataset(out_dir, body_model_dir=body_model_dir, **kwargs)
    _write_mean_params(out_dir, crop_box, overwrite=True)
    with open(marker, 'w') as f:
        json.dump(dict(args=record), f)
    print_log(f'Synthetic dataset ready in {time.time() - start:.1f} s', logger='current')


def prepare_data(cfg: Config) -> Optional[dict]:
    """Write the stand-in body model and synthetic data a config asks for.

    Args:
        cfg (Config): A config; only its ``prepare_data`` entry is read.

    Returns:
        dict | None: The ``prepare_data`` entry that was acted on.
    """
    spec = cfg.get('prepare_data')
    if not spec:
        return None
    unknown = set(spec) - {'standin_body_model', 'synthetic_dataset'}
    if unknown:
        raise KeyError(f'prepare_data has unknown keys {sorted(unknown)}; '
                       "valid keys are 'standin_body_model' and 'synthetic_dataset'.")
    body_model_dir = None
    if spec.get('standin_body_model'):
        standin = dict(spec['standin_body_model'])
        body_model_dir = standin['out_dir']
        _prepare_standin(**standin)
    if spec.get('synthetic_dataset'):
        synthetic = dict(spec['synthetic_dataset'])
        out_dir = synthetic.pop('out_dir')
        model_dir = synthetic.pop('body_model_dir', body_model_dir)
        if model_dir is None:
            raise KeyError('prepare_data.synthetic_dataset needs body_model_dir (or a '
                           'prepare_data.standin_body_model entry to take it from).')
        _prepare_synthetic(out_dir, model_dir, _crop_box(cfg), **synthetic)
    return spec
