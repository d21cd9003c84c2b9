"""Type aliases shared by mroi's components (as in mmdet.utils.typing_utils)."""
from typing import Optional, Union

from mmengine.config import ConfigDict

__all__ = ['ConfigType', 'OptConfigType']

# A component config: a plain dict or mmengine's ConfigDict.
ConfigType = Union[dict, ConfigDict]
OptConfigType = Optional[ConfigType]
