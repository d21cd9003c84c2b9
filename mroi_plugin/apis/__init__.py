from .inference import (
    CheckpointMismatchError,
    InvalidBoxError,
    check_bboxes,
    inference_mesh,
    init_model,
    load_model_checkpoint,
    pack_people,
    unpack_people,
)
from .mesh_inferencer import MeshInferencer
from .prepare_data import prepare_data
from .runner import add_launch_args, build_runner, default_work_dir, load_config

__all__ = [
    'prepare_data', 'build_runner', 'default_work_dir', 'add_launch_args', 'load_config',
    'init_model', 'inference_mesh', 'pack_people', 'unpack_people', 'load_model_checkpoint',
    'check_bboxes',
    'CheckpointMismatchError', 'InvalidBoxError', 'MeshInferencer'
]
