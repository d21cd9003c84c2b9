"""Write a synthetic dataset: JPEG images and one HumanData ``.npz`` per split.

Sample ``i`` of a split is drawn from ``SeedSequence([seed, split, i])`` and computed
single-threaded, so the arrays and the JPEG bytes depend on ``seed`` only, not on the number
of worker processes.
"""
import multiprocessing
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

import cv2
import numpy as np
import torch
from mmengine.logging import print_log

from mroi_plugin.utils.progress import progress_bar

from .placement import DEPTH_RANGE, TRUNCATION_PROB
from .poses import NUM_BODY_JOINTS
from .rendering import (
    BODY_MODEL_FILES,
    H36M_REGRESSOR_FILE,
    JPEG_QUALITY,
    NUM_BETAS,
    SyntheticOptions,
    check_body_model_dir,
    load_synthetic_body_models,
    render_synthetic_sample,
)
from .standin import write_standin_smpl

__all__ = [
    'DATA_VERSION', 'SPLITS', 'DEFAULT_BODY_MODEL_DIR', 'sample_rng', 'prepare_body_model_dir',
    'generate_synthetic_dataset'
]

# Bump whenever the same options render different images or annotations, so that
# prepare_data re-renders a folder written by an older mroi instead of training on it.
# 2: front-of-torso print, distractor clutter and the max_yaw option.
# 3: smpl_root_joint (the rest-pose root joint J0(betas) of each person's gendered model).
DATA_VERSION = 3
SPLITS = ('train', 'val', 'test')
DEFAULT_BODY_MODEL_DIR = osp.join('data', 'body_models', 'standin')
DATASET_NAME = 'synthetic'
MAX_DEFAULT_WORKERS = 8


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of sample ``index`` of ``split`` in a dataset of ``seed``.

    ``render_synthetic_sample(sample_rng(seed, split, i), ...)`` re-creates exactly the sample
    :func:`generate_synthetic_dataset` wrote, whatever the number of workers.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))


def _image_name(split: str, index: int) -> str:
    return f'images/{split}/{index:05d}.jpg'


def _available_cpus() -> int:
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Tasks are handed to workers in chunks of at most _MAX_CHUNKSIZE samples, and at least
# _CHUNKS_PER_WORKER chunks per worker so that they finish together.
_MAX_CHUNKSIZE = 16
_CHUNKS_PER_WORKER = 4

# Per-process state of the generation workers (the body models are loaded once per process).
_WORKER: Dict[str, Any] = {}


def _init_worker(body_model_dir: str, options: SyntheticOptions, out_dir: str,
                 seed: int) -> None:
    # One thread per process: no oversubscription, and float results independent of the
    # number of workers.
    torch.set_num_threads(1)
    _WORKER.update(body_models=load_synthetic_body_models(body_model_dir), options=options,
                   out_dir=out_dir, seed=seed)


def _init_forked_worker() -> None:
    torch.set_num_threads(1)


def _make_sample(task: Tuple[str, int]) -> Dict[str, Any]:
    split, index = task
    sample = render_synthetic_sample(
        sample_rng(_WORKER['seed'], split, index), _WORKER['body_models'], _WORKER['options'])
    name = _image_name(split, index)
    ok, encoded = cv2.imencode('.jpg', sample.image,
                               [cv2.IMWRITE_JPEG_QUALITY, int(_WORKER['options'].jpeg_quality)])
    if not ok:
        raise RuntimeError(f'Synthetic dataset: JPEG encoding of {name} failed.')
    with open(osp.join(_WORKER['out_dir'], name), 'wb') as f:
        f.write(encoded.tobytes())
    return dict(sample.annotation, image_path=name)


def _humandata(annotations: List[Dict[str, Any]], keypoints_mask: np.ndarray) -> Dict[str, Any]:
    """Stack per-sample annotations into the HumanData dict written with ``np.savez``."""
    num = len(annotations)

    def stack(key: str, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        if not num:
            return np.zeros((0, ) + shape, dtype=dtype)
        return np.stack([a[key] for a in annotations]).astype(dtype).reshape((num, ) + shape)

    return {
        # Not strict: cam_param and image_size are mroi extensions MMHuman3D's strict key
        # check would reject.
        '__key_strict__': np.array(False),
        '__data_len__': np.array(num),
        '__keypoints_compressed__': np.array(False),
        'config': np.array(DATASET_NAME),
        'image_path': np.array([a['image_path'] for a in annotations], dtype=np.str_),
        'bbox_xywh': stack('bbox_xywh', (5, ), np.float32),
        'keypoints2d': stack('keypoints2d', (len(keypoints_mask), 3), np.float32),
        'keypoints2d_mask': keypoints_mask.astype(np.float32),
        'keypoints3d': stack('keypoints3d', (len(keypoints_mask), 4), np.float32),
        'keypoints3d_mask': keypoints_mask.astype(np.float32),
        'smpl': {
            'global_orient': stack('global_orient', (3, ), np.float32),
            'body_pose': stack('body_pose', (NUM_BODY_JOINTS, 3), np.float32),
            'betas': stack('betas', (NUM_BETAS, ), np.float32),
            'transl': stack('transl', (3, ), np.float32),
        },
        # Outside the smpl dict: not an SMPL parameter, so code that poses a body model with
        # the dict's entries as keywords keeps working.
        'smpl_root_joint': stack('root_joint', (3, ), np.float32),
        'meta': {'gender': np.array([a['gender'] for a in annotations], dtype='<U7')},
        'cam_param': {
            'focal_length': stack('focal_length', (2, ), np.float32),
            'principal_point': stack('principal_point', (2, ), np.float32),
        },
        'image_size': stack('image_size', (2, ), np.int32),
    }


def prepare_body_model_dir(body_model_dir: Optional[str] = None,
                           create: bool = True) -> str:
    """Return a body model directory, writing the licence-free stand-in if it is empty.

    Args:
        body_model_dir (str, optional): Directory with ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` and
            ``J_regressor_h36m.npy``. Defaults to :data:`DEFAULT_BODY_MODEL_DIR`.
        create (bool): Write the stand-in (seed 0) when *none* of the files exists. A
            directory with only some of them is an error either way.

    Returns:
        str: the directory.
    """
    body_model_dir = body_model_dir or DEFAULT_BODY_MODEL_DIR
    present = [name for name in BODY_MODEL_FILES + (H36M_REGRESSOR_FILE, )
               if osp.isfile(osp.join(body_model_dir, name))]
    if not present and create:
        print_log(f'Writing the licence-free stand-in body model to {body_model_dir}.',
                  logger='current')
        write_standin_smpl(body_model_dir, seed=0)
    check_body_model_dir(body_model_dir)
    return body_model_dir


def generate_synthetic_dataset(out_dir: str,
                               num_train: int,
                               num_val: int,
                               num_test: int,
                               image_size: Tuple[int, int] = (640, 480),
                               seed: int = 0,
                               body_model_dir: Optional[str] = None,
                               workers: Optional[int] = None,
                               focal_range: Optional[Tuple[float, float]] = None,
                               depth_range: Tuple[float, float] = DEPTH_RANGE,
                               truncation_prob: float = TRUNCATION_PROB,
                               jpeg_quality: int = JPEG_QUALITY,
                               max_yaw: float = np.pi,
                               clutter: bool = True,
                               create_body_model: bool = True) -> Dict[str, str]:
    """Render a synthetic dataset: ``images/{split}/NNNNN.jpg`` and ``{split}.npz``.

    Args:
        out_dir (str): Output directory (created). Image paths in the ``.npz`` files are
            relative to it.
        num_train (int): Number of training samples.
        num_val (int): Number of validation samples.
        num_test (int): Number of test samples.
        image_size (Tuple[int, int]): ``(W, H)`` pixels. Defaults to ``(640, 480)``.
        seed (int): Seed of the whole dataset. Defaults to 0.
        body_model_dir (str, optional): Body model directory, see
            :func:`prepare_body_model_dir`. Defaults to :data:`DEFAULT_BODY_MODEL_DIR`.
        workers (int, optional): Worker processes; the results do not depend on it. Defaults
            to the CPUs available to this process, at most ``MAX_DEFAULT_WORKERS``.
        focal_range (Tuple[float, float], optional): Focal length range, px. Defaults to
            ``FOCAL_RANGE_IN_DIAGONALS`` x the image diagonal.
        depth_range (Tuple[float, float]): Pelvis depth range, metres. Defaults to
            ``DEPTH_RANGE``.
        truncation_prob (float): Probability of a person crossing the border.
        jpeg_quality (int): JPEG quality. Defaults to ``JPEG_QUALITY``.
        max_yaw (float): Largest turn away from the camera, radians. Defaults to pi.
        clutter (bool): Cluttered backgrounds and distractors. Defaults to True.
        create_body_model (bool): Write the stand-in body model if the directory is empty.

    Returns:
        Dict[str, str]: ``{split: path of its .npz}`` for the splits with samples.
    """
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    for split, count in counts.items():
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f'generate_synthetic_dataset: num_{split} must be a non-negative '
                             f'integer, got {count!r}.')
    if workers is None:
        workers = min(_available_cpus(), MAX_DEFAULT_WORKERS)
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f'generate_synthetic_dataset: workers must be >= 1, got {workers!r}.')
    # SyntheticOptions checks that each of these is a pair.
    options = SyntheticOptions(
        image_size=cast(Tuple[int, int], tuple(image_size)),
        focal_range=None if focal_range is None else cast(Tuple[float, float],
                                                          tuple(focal_range)),
        depth_range=cast(Tuple[float, float], tuple(depth_range)),
        truncation_prob=truncation_prob,
        jpeg_quality=jpeg_quality, max_yaw=float(max_yaw), clutter=bool(clutter))
    body_model_dir = prepare_body_model_dir(body_model_dir, create=create_body_model)
    tasks = [(split, i) for split in SPLITS for i in range(counts[split])]
    for split in SPLITS:
        if counts[split]:
            os.makedirs(osp.join(out_dir, 'images', split), exist_ok=True)

    init_args = (body_model_dir, options, out_dir, int(seed))
    num_workers = min(int(workers), max(len(tasks), 1))
    saved_state, saved_threads = dict(_WORKER), torch.get_num_threads()
    try:
        _init_worker(*init_args)
        keypoints_mask = _WORKER['body_models'].keypoints_mask
        if num_workers == 1:
            results = [_make_sample(task) for task in progress_bar(
                tasks, desc='rendering', unit='img')]
        else:
            # Forked workers inherit the loaded models (copy-on-write); spawned ones load them.
            context: Any
            initializer: Callable[..., None]
            initargs: Tuple[Any, ...]
            if 'fork' in multiprocessing.get_all_start_methods():
                context, initializer, initargs = multiprocessing.get_context('fork'), \
                    _init_forked_worker, ()
            else:
                context, initializer, initargs = multiprocessing.get_context('spawn'), \
                    _init_worker, init_args
            chunksize = max(1, min(_MAX_CHUNKSIZE, len(tasks) // (_CHUNKS_PER_WORKER *
                                                                  num_workers)))
            with context.Pool(num_workers, initializer=initializer, initargs=initargs) as pool:
                results = list(progress_bar(pool.imap(_make_sample, tasks, chunksize=chunksize),
                                            total=len(tasks), desc='rendering', unit='img'))
    finally:
        torch.set_num_threads(saved_threads)
        _WORKER.clear()
        _WORKER.update(saved_state)

    paths = {}
    start = 0
    for split in SPLITS:
        annotations = results[start:start + counts[split]]
        start += counts[split]
        if not counts[split]:
            continue
        path = osp.join(out_dir, f'{split}.npz')
        np.savez_compressed(path, **_humandata(annotations, keypoints_mask))
        paths[split] = path
        print_log(f'Synthetic dataset: wrote {counts[split]} {split} samples to {path}.',
                  logger='current')
    return paths
