"""Forwarder: the converter lives in ``tools/model_converters/convert_checkpoint.py``.

Converters sit under ``tools/model_converters/`` as in mmdetection; this file keeps the old
command ``python tools/convert_checkpoint.py SRC DST ...`` working with the same arguments,
output and exit status.
"""
import importlib.util
import os.path as osp
import sys

_TOOL = osp.join(osp.dirname(osp.abspath(__file__)), 'model_converters', 'convert_checkpoint.py')
_spec = importlib.util.spec_from_file_location('mroi_tools_convert_checkpoint', _TOOL)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
parse_args = _module.parse_args
main = _module.main

if __name__ == '__main__':
    sys.exit(main())
