"""Work dirs and resumes for ``tools/train.py`` that lose nothing and never pick the wrong file.

mmengine on its own (0.10):

- trains into a work dir that already holds checkpoints and overwrites them,
  repointing ``last_checkpoint``;
- resumes from the absolute path written in ``last_checkpoint``, so a copied
  work dir resumes from the *original* dir's checkpoint and a moved one fails;
- without ``last_checkpoint`` silently trains from scratch, over the dir's
  checkpoints;
- loads a damaged checkpoint until it fails somewhere inside ``torch.load``;
- resumes another config's checkpoint non-strictly (weights of another shape are
  skipped with a log line) and fails only at the first optimiser step when
  Adam's moments have other shapes;
- executes ``meta['config']`` of the checkpoint (``Config.fromstring``) if the
  file has one.

:func:`prepare_resume` (before anything is built) and :func:`check_resume_compatible`
(once the model is built, before training) turn each of these into one error
that names the file and says what to do.
"""
import copy
import difflib
import logging
import os
import os.path as osp
import pickle
import re
from itertools import chain
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper

from .inference import MAX_KEYS_SHOWN, CheckpointMismatchError, _state_dict_mismatch

__all__ = [
    'WorkDirInUseError', 'DamagedCheckpointError', 'ResumeCheckpointError',
    'CheckpointMismatchError', 'CheckpointSummary', 'checkpoint_dir', 'list_checkpoints',
    'check_work_dir_unused', 'resolve_last_checkpoint', 'load_checkpoint_summary',
    'prepare_resume', 'check_resume_compatible', 'check_amp_device'
]

#: The file mmengine's ``CheckpointHook`` writes the latest checkpoint's path into.
LAST_CHECKPOINT = 'last_checkpoint'
#: Top-level config blocks compared when a checkpoint does not fit.
_COMPARED_BLOCKS = ('model', 'optim_wrapper')
#: Differing config lines shown per error.
_MAX_DIFF_LINES = 8
_STEP = re.compile(r'(\d+)\.pth$')


class WorkDirInUseError(RuntimeError):
    """A fresh (not resumed) run would overwrite the work dir's checkpoints."""


class DamagedCheckpointError(RuntimeError):
    """The checkpoint to resume from is empty, truncated or not an mmengine checkpoint."""


class ResumeCheckpointError(RuntimeError):
    """``last_checkpoint`` names no usable file of this work dir."""


class CheckpointSummary(dict):
    """What the compatibility check needs from a checkpoint, without its tensors' data.

    Keys: ``path`` (str); ``state_dict`` ({name: torch.Size}); ``optimizer``
    (``{'param_groups': [...], 'state': {index: {name: torch.Size}}}`` or None);
    ``meta`` (dict without tensors: ``epoch``, ``iter``, ``cfg`` (str),
    ``experiment_name`` ...); after :func:`prepare_resume` also ``notes`` (the
    messages about the file chosen, for the run's log).
    """


def _note(message: str, level: int = logging.INFO) -> None:
    """Log to the console before the Runner (and its log file) exists.

    Not to mmengine's ``'current'`` logger: in a process that ran another Runner
    before, that one writes into the other run's log file.
    """
    name = 'mroi_resume'
    logger = (MMLogger.get_instance(name) if MMLogger.check_instance_created(name) else
              MMLogger.get_instance(name, logger_name=name))
    logger.log(level, message)


# ------------------------------------------------------------------------ the work dir
def checkpoint_dir(cfg: Config) -> str:
    """The folder the run's ``CheckpointHook`` writes into (absolute).

    ``cfg.work_dir``, or ``<out_dir>/<work dir name>`` when the hook has an
    ``out_dir`` (mmengine's rule).
    """
    work_dir = osp.abspath(cfg.work_dir)
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    out_dir = hook.get('out_dir')
    if out_dir and osp.abspath(out_dir) != work_dir:
        return osp.join(osp.abspath(out_dir), osp.basename(work_dir))
    return work_dir


def list_checkpoints(folder: str) -> List[str]:
    """The ``.pth`` files directly in ``folder``, oldest first.

    Ordered by the step number in the name (``epoch_3.pth`` < ``epoch_12.pth``),
    then by modification time; files without a number come first.
    """
    if not osp.isdir(folder):
        return []
    paths = [osp.join(folder, name) for name in os.listdir(folder) if name.endswith('.pth')]
    paths = [p for p in paths if osp.isfile(p)]

    def order(path: str) -> Tuple[int, float]:
        match = _STEP.search(osp.basename(path))
        return (int(match.group(1)) if match else -1, osp.getmtime(path))

    return sorted(paths, key=order)


def check_work_dir_unused(cfg: Config, overwrite: bool = False) -> None:
    """Refuse to start a fresh run over a work dir that holds checkpoints.

    Args:
        cfg (Config): The run's config (``work_dir`` set).
        overwrite (bool): The user asked to overwrite (``--overwrite``): only log
            what will be replaced.

    Raises:
        WorkDirInUseError: ``*.pth`` files or ``last_checkpoint`` are there and
            ``overwrite`` is False.
    """
    work_dir, folder = osp.abspath(cfg.work_dir), checkpoint_dir(cfg)
    found = [osp.basename(p) for p in list_checkpoints(folder)]
    if osp.isfile(osp.join(work_dir, LAST_CHECKPOINT)):
        found.append(LAST_CHECKPOINT)
    if not found:
        return
    shown = ', '.join(found[:MAX_KEYS_SHOWN]) + (
        f', ... ({len(found) - MAX_KEYS_SHOWN} more)' if len(found) > MAX_KEYS_SHOWN else '')
    if overwrite:
        _note(f'--overwrite: the new run writes into {folder}, which holds {shown}; '
              'checkpoints of the same name and last_checkpoint will be replaced.',
              logging.WARNING)
        return
    raise WorkDirInUseError(
        f'The work dir {work_dir} already holds checkpoints ({shown} in {folder}); a new run '
        'would overwrite them and repoint last_checkpoint. Continue that run with --resume, '
        'start a new one with another --work-dir, or pass --overwrite to overwrite them. '
        '(To fine-tune from one of them, set load_from and use another --work-dir.)')


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return osp.commonpath([path, folder]) == folder


def resolve_last_checkpoint(cfg: Config) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) continues from, in *this* work dir.

    ``last_checkpoint`` holds the absolute path mmengine wrote, which points into
    the original dir after the work dir was copied or moved. A recorded path
    outside this run's checkpoint folder is replaced by its file name inside
    that folder; the file used is logged.

    Args:
        cfg (Config): The run's config (``work_dir`` set).

    Returns:
        str | None: The checkpoint's path; None when the work dir holds neither
        ``last_checkpoint`` nor checkpoints (nothing to resume: a fresh start).

    Raises:
        ResumeCheckpointError: No ``last_checkpoint`` but checkpoints are there
            (which one is unknown), or the file it names is not in this dir.
    """
    path, note = _resolve_last_checkpoint(cfg)
    if note:
        _note(note, logging.WARNING)
    return path


def _resolve_last_checkpoint(cfg: Config) -> Tuple[Optional[str], Optional[str]]:
    """:func:`resolve_last_checkpoint`, and what to say about the file chosen."""
    work_dir, folder = osp.abspath(cfg.work_dir), checkpoint_dir(cfg)
    record = osp.join(work_dir, LAST_CHECKPOINT)
    found = list_checkpoints(folder)
    if not osp.isfile(record):
        if found:
            raise ResumeCheckpointError(
                f'--resume: {work_dir} has no {LAST_CHECKPOINT} file but holds '
                f'{", ".join(osp.basename(p) for p in found)}; name the one to continue from, '
                f'e.g. --resume {found[-1]}')
        return None, None
    with open(record, encoding='utf-8', errors='replace') as f:
        recorded = f.read().strip()
    if not recorded:
        raise ResumeCheckpointError(
            f'--resume: {record} is empty; name the checkpoint to continue from, e.g. '
            f'--resume {found[-1] if found else osp.join(folder, "epoch_N.pth")}')
    if _inside(recorded, folder) and osp.isfile(recorded):
        return recorded, None
    local = osp.join(folder, osp.basename(recorded))
    if osp.isfile(local):
        return local, (f'{record} names {recorded}, which is not in this work dir (it was '
                       f'copied or moved); resuming from {local} instead.')
    elsewhere = (f' It exists outside this work dir: to continue from it deliberately, pass '
                 f'--resume {recorded}.' if osp.isfile(recorded) else '')
    listed = (f' This dir holds {", ".join(osp.basename(p) for p in found)}.' if found else
              ' This dir holds no checkpoint.')
    raise ResumeCheckpointError(
        f'--resume: {record} names {recorded}, and {local} does not exist.{elsewhere}{listed}')


# ------------------------------------------------------------------------ the checkpoint
def _shapes(value: Any) -> Any:
    """The same structure with every tensor replaced by its shape (data freed)."""
    if isinstance(value, torch.Tensor):
        return value.shape
    if isinstance(value, dict):
        return {k: _shapes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_shapes(v) for v in value)
    return value


def _read(path: str) -> Any:
    """``torch.load`` with safe loading; errors become a one-line reason."""
    try:
        if osp.getsize(path) == 0:
            raise DamagedCheckpointError('it is empty (0 bytes)')
        return torch.load(path, map_location='cpu', weights_only=True)
    except DamagedCheckpointError:
        raise
    except Exception as error:  # torch raises many types for truncated / foreign files
        text = str(error).strip()
        # First sentence only: torch appends pages of advice about weights_only.
        first = text.splitlines()[0].split('. ')[0].rstrip('.')[:200] if text else ''
        what = ('holds objects that safe loading (weights_only=True) refuses'
                if isinstance(error, pickle.UnpicklingError) else
                'is truncated, damaged or not a checkpoint')
        raise DamagedCheckpointError(
            f'it cannot be read ({type(error).__name__}: {first}); it {what}') from error


def _summarise(path: str) -> CheckpointSummary:
    loaded = _read(path)
    # What mmengine's Runner.resume indexes without a check.
    if not isinstance(loaded, dict) or not isinstance(loaded.get('state_dict'), dict) \
            or not isinstance(loaded.get('meta'), dict) or 'message_hub' not in loaded:
        keys = sorted(map(str, loaded))[:MAX_KEYS_SHOWN] if isinstance(loaded, dict) else []
        raise DamagedCheckpointError(
            f'it holds no mmengine training state (top-level keys {keys}; a resumable '
            "checkpoint has 'meta', 'state_dict' and 'message_hub', as written by "
            'tools/train.py)')
    meta = loaded['meta']
    if 'config' in meta:
        # mmengine's Runner.resume feeds meta['config'] to Config.fromstring, which runs it.
        raise DamagedCheckpointError(
            "its meta has a 'config' entry, which mmengine's resume would execute as Python; "
            'mmengine 0.10 never writes it. Do not resume from a file of unknown origin')
    for key in ('epoch', 'iter'):
        if not isinstance(meta.get(key), int):
            raise DamagedCheckpointError(f"its meta['{key}'] is {meta.get(key)!r}, not a step")
    optimizer = loaded.get('optimizer')
    summary = CheckpointSummary(
        path=path, state_dict=_shapes(loaded['state_dict']),
        optimizer=_shapes(optimizer) if isinstance(optimizer, dict) else None,
        meta={k: v for k, v in meta.items() if not isinstance(v, torch.Tensor)})
    del loaded
    return summary


def load_checkpoint_summary(path: str) -> CheckpointSummary:
    """Read a checkpoint to resume from, or say why it cannot be used and what to use instead.

    The whole file is read with safe loading (``weights_only=True``), so a 0-byte,
    truncated or otherwise damaged file fails here, before anything is built.

    Args:
        path (str): The ``.pth`` file.

    Returns:
        CheckpointSummary: Its tensors' shapes and its ``meta``.

    Raises:
        FileNotFoundError: No such file.
        DamagedCheckpointError: The file cannot be used; the message names the
            newest readable checkpoint beside it (``--resume <that file>``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'--resume checkpoint not found: {path}')
    try:
        return _summarise(path)
    except DamagedCheckpointError as error:
        reason = str(error)
    folder = osp.dirname(osp.abspath(path))
    previous = None
    for candidate in reversed(list_checkpoints(folder)):
        if osp.samefile(candidate, path):
            continue
        try:
            _summarise(candidate)
        except DamagedCheckpointError:
            continue
        previous = candidate
        break
    advice = (f' The newest readable checkpoint in {folder} is {osp.basename(previous)}: '
              f'continue from it with --resume {previous}' if previous else
              f' {folder} holds no other readable checkpoint: start again with --overwrite '
              'or another --work-dir')
    raise DamagedCheckpointError(f'Cannot resume from {path}: {reason}.{advice}.')


def prepare_resume(cfg: Config, resume: Optional[str], overwrite: bool = False
                   ) -> Optional[CheckpointSummary]:
    """Everything about ``--resume`` / ``--overwrite`` that needs no built Runner.

    Sets ``cfg.resume`` and ``cfg.load_from`` (the checkpoint chosen here, so
    mmengine does not read ``last_checkpoint`` itself) and checks that file.

    Args:
        cfg (Config): The run's config (``work_dir`` set); modified in place.
        resume (str, optional): None (a fresh run), ``'auto'`` (the latest
            checkpoint of the work dir) or a checkpoint path.
        overwrite (bool): A fresh run may overwrite the work dir's checkpoints.

    Returns:
        CheckpointSummary | None: The checkpoint to resume from, for
        :func:`check_resume_compatible`; None for a fresh run.

    Raises:
        ValueError: ``--resume`` and ``--overwrite`` together.
        WorkDirInUseError, ResumeCheckpointError, DamagedCheckpointError,
        FileNotFoundError: see :func:`check_work_dir_unused`,
            :func:`resolve_last_checkpoint`, :func:`load_checkpoint_summary`.
    """
    if resume is None:
        cfg.resume = False
        check_work_dir_unused(cfg, overwrite)
        return None
    if overwrite:
        raise ValueError('--resume continues the run in the work dir and --overwrite starts a '
                         'new one over it: pass only one of them.')
    path, note = _resolve_last_checkpoint(cfg) if resume == 'auto' else (resume, None)
    if path is None:
        _note(f'--resume: {osp.abspath(cfg.work_dir)} holds no checkpoint yet; training '
              'starts from scratch.', logging.WARNING)
        cfg.resume = False
        cfg.load_from = None
        return None
    summary = load_checkpoint_summary(path)
    summary['notes'] = [note] if note else []
    summary['notes'].append(f'Resuming from {path} (epoch {summary["meta"]["epoch"]}, '
                            f'iter {summary["meta"]["iter"]}).')
    for message in summary['notes']:
        _note(message, logging.WARNING if message is note else logging.INFO)
    cfg.resume = True
    cfg.load_from = path
    return summary


# ------------------------------------------------------------------------ compatibility
def _config_blocks(text: str) -> Dict[str, List[str]]:
    """Top-level ``name = ...`` blocks of a ``Config.pretty_text`` (read, never executed)."""
    blocks: Dict[str, List[str]] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r'([A-Za-z_]\w*)\s*=', line)
        if match and not line[:1].isspace():
            current = match.group(1)
            blocks[current] = []
        if current is not None:
            blocks[current].append(line)
    return blocks


def _config_difference(saved: Any, current: Config) -> str:
    """The first differing lines of the model and optimiser blocks, checkpoint vs this config."""
    if not isinstance(saved, str):
        return ' The checkpoint records no config.'
    try:
        current_text = current.pretty_text
    except Exception:  # pretty_text formats with yapf, which can fail on odd values
        current_text = current.text if hasattr(current, 'text') else str(current._cfg_dict)
    old, new = _config_blocks(saved), _config_blocks(current_text)
    lines = []
    for block in _COMPARED_BLOCKS:
        diff = difflib.unified_diff(old.get(block, []), new.get(block, []), lineterm='', n=0)
        lines += [line for line in diff
                  if line[:1] in '+-' and not line.startswith(('+++', '---'))]
    if not lines:
        return ' The model and optim_wrapper sections of the two configs read the same.'
    more = (f'\n  ... ({len(lines) - _MAX_DIFF_LINES} more lines)'
            if len(lines) > _MAX_DIFF_LINES else '')
    return (' Config differences (- checkpoint, + this config):\n  ' +
            '\n  '.join(line[:160] for line in lines[:_MAX_DIFF_LINES]) + more)


def _optimizer_mismatch(saved: Optional[Dict[str, Any]], optim_wrapper: Any,
                        names: Dict[int, str]) -> List[str]:
    """Where the saved optimiser state does not fit ``optim_wrapper`` as torch would map it.

    torch's ``Optimizer.load_state_dict`` pairs the saved and the current
    parameters in the order of their groups; Adam's moments of one must have the
    other's shape, and the groups must hold the same hyper-parameters (another
    optimiser type fails at its first step).
    """
    if saved is None or not isinstance(optim_wrapper, OptimWrapper):
        return []  # no optimiser state, or several optimisers: mmengine checks those
    groups = optim_wrapper.optimizer.param_groups
    saved_groups = saved.get('param_groups') or []
    if len(saved_groups) != len(groups):
        return [f'the optimizer has {len(groups)} parameter group(s), the checkpoint '
                f'{len(saved_groups)}']
    problems = []
    sizes = [(len(s['params']), len(g['params'])) for s, g in zip(saved_groups, groups)]
    if any(a != b for a, b in sizes):
        problems.append('parameters per optimizer group: checkpoint '
                        f'{[a for a, _ in sizes]}, this model {[b for _, b in sizes]}')
    # Schedulers add ``initial_*`` to the groups after the optimizer is built.
    hyper = {k for g in groups for k in g if k != 'params'}
    saved_hyper = {k for g in saved_groups for k in g
                   if k != 'params' and not k.startswith('initial_')}
    if saved_hyper - hyper:
        problems.append(f'the checkpoint\'s optimizer groups hold {sorted(saved_hyper - hyper)}, '
                        f'which {type(optim_wrapper.optimizer).__name__} does not use (another '
                        'optimizer type)')
    shapes = []
    pairs = zip(chain.from_iterable(g['params'] for g in saved_groups),
                chain.from_iterable(g['params'] for g in groups))
    for index, param in pairs:
        for name, shape in (saved.get('state') or {}).get(index, {}).items():
            if isinstance(shape, torch.Size) and len(shape) and shape != param.shape:
                shapes.append(f'{names.get(id(param), index)}.{name} (checkpoint '
                              f'{tuple(shape)}, model {tuple(param.shape)})')
                break
    if shapes:
        more = (f', ... ({len(shapes) - MAX_KEYS_SHOWN} more)'
                if len(shapes) > MAX_KEYS_SHOWN else '')
        problems.append(f'{len(shapes)} optimizer state shape mismatch(es): '
                        + ', '.join(shapes[:MAX_KEYS_SHOWN]) + more)
    return problems


class _ShapeOnly:
    """Stands in for a tensor in :func:`_state_dict_mismatch`, which reads only ``.shape``."""

    def __init__(self, shape: torch.Size) -> None:
        self.shape = shape


def check_resume_compatible(runner: Any, summary: Optional[CheckpointSummary]) -> None:
    """Fail before training when the checkpoint was written by another model or optimiser.

    mmengine's resume loads weights non-strictly (a weight of another shape is
    skipped with a log line and stays random) and Adam's moments of another shape
    fail only at the first step. Call this after the Runner is built and before
    ``runner.train()``.

    Args:
        runner (Runner): The built Runner (model built, optimiser not yet).
        summary (CheckpointSummary, optional): From :func:`prepare_resume`; None
            does nothing.

    Raises:
        CheckpointMismatchError: One message with the checkpoint's run name, the
            first mismatching keys with both shapes and the first differing config
            lines of the ``model`` and ``optim_wrapper`` sections.
    """
    if summary is None:
        return
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    saved_state = {k: _ShapeOnly(s) for k, s in summary['state_dict'].items()}
    problems = _state_dict_mismatch(model.state_dict(), saved_state)
    optim_cfg = getattr(runner, 'optim_wrapper', None)
    if not problems and optim_cfg is not None:
        # A throwaway wrapper: the same parameter grouping the Runner will build.
        optim_wrapper = (optim_cfg if isinstance(optim_cfg, OptimWrapper) else
                         runner.build_optim_wrapper(copy.deepcopy(optim_cfg)))
        names = {id(p): n for n, p in model.named_parameters()}
        problems = _optimizer_mismatch(summary['optimizer'], optim_wrapper, names)
    if not problems:
        for message in summary.get('notes', []):
            runner.logger.info(message)  # the run's log file says which file it continued
        return
    meta = summary['meta']
    written_by = meta.get('experiment_name') or 'an unnamed run'
    raise CheckpointMismatchError(
        f'Cannot resume from {summary["path"]}: it was written by {written_by!r} with another '
        f'model or optimizer than this config ({runner.experiment_name!r}): ' +
        '; '.join(problems) + '.' + _config_difference(meta.get('cfg'), runner.cfg) +
        '\nResume with the config that wrote the checkpoint, or start a new run with '
        'another --work-dir (set load_from to fine-tune from its weights).')


# ------------------------------------------------------------------------ AMP
def check_amp_device(cfg: Config) -> None:
    """Refuse mixed precision (``AmpOptimWrapper``) without a GPU, before anything is built.

    On CPU mmengine's ``AmpOptimWrapper`` disables its gradient scaler and
    autocasts to bfloat16, which this model was never validated with; ``--amp``
    is for CUDA (and the NPU/MLU/MUSA devices mmengine supports).

    Raises:
        RuntimeError: The config's optimiser wrapper is ``AmpOptimWrapper`` and
            only the CPU is available.
    """
    from mmengine.device import get_device
    optim_cfg = cfg.get('optim_wrapper') or {}
    if optim_cfg.get('type') != 'AmpOptimWrapper' or get_device() != 'cpu':
        return
    raise RuntimeError(
        'Mixed precision (--amp, or optim_wrapper.type=AmpOptimWrapper) needs a GPU, but '
        'torch sees none (torch.cuda.is_available() is False). Train without --amp on CPU, '
        'or run on a machine with CUDA.')
