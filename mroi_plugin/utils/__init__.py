from .checkpoint_conversion import (
    SOURCE_FORMATS,
    ConversionReport,
    convert_checkpoint,
    convert_state_dict,
    detect_format,
    extract_state_dict,
    load_source_state_dict,
    model_state_shapes,
)
from .config_validation import RUNNER_KEYS, ConfigError, check_config_files, validate_config
from .dist import (
    CollectiveFailure,
    collective_failure_message,
    destroy_distributed,
    dist_timeout_seconds,
    prepare_distributed_for_cpu,
    report_collective_failures,
)
from .safe_load import allow_mmengine_checkpoint_globals, mmengine_checkpoint_globals
from .setup_env import register_all_modules

__all__ = [
    'RUNNER_KEYS', 'ConfigError', 'validate_config', 'check_config_files',
    'prepare_distributed_for_cpu',
    'destroy_distributed', 'dist_timeout_seconds', 'collective_failure_message',
    'report_collective_failures', 'CollectiveFailure',
    'register_all_modules', 'allow_mmengine_checkpoint_globals',
    'mmengine_checkpoint_globals', 'SOURCE_FORMATS', 'ConversionReport', 'convert_checkpoint',
    'convert_state_dict', 'detect_format', 'extract_state_dict', 'load_source_state_dict',
    'model_state_shapes'
]
