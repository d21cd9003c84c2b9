__version__ = '0.1.0'

# The mmcv versions mroi runs with (mmcv-lite or the full mmcv): setup.py pins
# mmcv-lite to this range and mroi_plugin checks the installed mmcv against it
# at import time. 2.0 is the first mmengine-based mmcv; 2.2 is the newest tested.
mmcv_minimum_version = '2.0.0'
mmcv_maximum_version = '2.3.0'
