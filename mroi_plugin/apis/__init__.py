from .inference import (
    CheckpointMismatchError,
    InvalidBoxError,
    check_bboxes,
    inference_mesh,
    init_model,
    load_model_checkpoint,
)
from .prepare_data import prepare_data
from .runner import build_runner, default_work_dir

__all__ = [
    'prepare_data', 'build_runner', 'default_work_dir', 'init_model', 'inference_mesh',
    'load_model_checkpoint', 'check_bboxes',
    'CheckpointMismatchError', 'InvalidBoxError'
]
