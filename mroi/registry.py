"""Re-export of :mod:`mroi_plugin.registry` for mmengine's scope lookup."""
from mroi_plugin.registry import *  # noqa: F401,F403
from mroi_plugin.registry import __all__  # noqa: F401
