"""mroi: Multi-RoI human mesh recovery (and CLIFF) for the OpenMMLab stack."""
from .dependencies import check_mmcv_installation
from .version import __version__

# Before anything imports mmcv: a missing, doubled or out-of-range mmcv is named
# with the command that fixes it instead of failing somewhere inside mmcv.
check_mmcv_installation()

from .utils.safe_load import allow_mmengine_checkpoint_globals  # noqa: E402

# Resume must work on torch >= 2.6 wherever mroi is imported (tools, configs
# with custom_imports, user code), so this runs once at import.
allow_mmengine_checkpoint_globals()

__all__ = ['__version__']
