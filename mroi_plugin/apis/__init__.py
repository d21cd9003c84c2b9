from .inference import (
    CheckpointMismatchError,
    InvalidBoxError,
    bbox_xyxy_to_center_size,
    check_bboxes,
    inference_mesh,
    init_model,
    load_model_checkpoint,
)
from .prepare_data import prepare_data
from .runner import build_runner, default_work_dir

__all__ = [
    'prepare_data', 'build_runner', 'default_work_dir', 'init_model', 'inference_mesh',
    'load_model_checkpoint', 'check_bboxes', 'bbox_xyxy_to_center_size',
    'CheckpointMismatchError', 'InvalidBoxError'
]
