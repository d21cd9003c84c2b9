"""Deployment: export of trained models to other runtimes (ONNX)."""
from .onnx_export import (
    BODY_OUTPUT_NAMES,
    DEFAULT_OPSET,
    INPUT_NAMES,
    OUTPUT_NAMES,
    HMRExportModule,
    compare_with_pytorch,
    crop_layout_from_config,
    example_inputs,
    export_onnx,
    people_per_second,
    run_onnx,
)

__all__ = [
    'HMRExportModule', 'INPUT_NAMES', 'OUTPUT_NAMES', 'BODY_OUTPUT_NAMES', 'DEFAULT_OPSET',
    'crop_layout_from_config', 'example_inputs', 'export_onnx', 'run_onnx',
    'compare_with_pytorch', 'people_per_second'
]
