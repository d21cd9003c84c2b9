"""mroi: Multi-RoI human mesh recovery (and CLIFF) for the OpenMMLab stack."""
from .utils.safe_load import allow_mmengine_checkpoint_globals
from .version import __version__

# Resume must work on torch >= 2.6 wherever mroi is imported (tools, configs
# with custom_imports, user code), so this runs once at import.
allow_mmengine_checkpoint_globals()

__all__ = ['__version__']
