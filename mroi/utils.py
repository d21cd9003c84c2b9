"""Re-export of :func:`mroi_plugin.utils.register_all_modules`."""
from mroi_plugin.utils import register_all_modules

__all__ = ['register_all_modules']
