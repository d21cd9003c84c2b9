"""NeRF-style sinusoidal positional encoding of low-dimensional vectors.

See docs/method.md#positional-encoding.
"""
import math
from typing import Optional, Union

import torch
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from torch import Tensor

from mroi_plugin.registry import MODELS

__all__ = ['NeRFPositionalEncoding']

OptConfigType = Optional[Union[dict, ConfigDict]]

# The paper's number of frequencies and the authors' base frequency: frequency k is
# pi * 2^k, k = 0..L-1 (docs/method.md#positional-encoding).
DEFAULT_NUM_FREQS = 32
BASE_FREQUENCY = math.pi


@MODELS.register_module()
class NeRFPositionalEncoding(BaseModule):
    """``PE(x) = [x, sin(w_0 x), cos(w_0 x), ..., sin(w_{L-1} x), cos(w_{L-1} x)]``.

    ``w_k = pi * 2^k`` (k = 0..L-1) and each term is applied to every component of ``x``,
    so the output layout is ``[x (C), sin(w_0 x) (C), cos(w_0 x) (C), sin(w_1 x) (C), ...]``
    with dimension ``C * (2 L + 1)`` (``C * 2 L`` without the input); for the bbox_info
    3-vectors and L = 32 that is 195, as in the authors' code.

    Precision: with L = 32 the largest frequency is ``pi * 2^31 ~ 6.7e9``. In float32,
    ``w_k * x`` loses every digit of the phase for k above about 8-10 (the product's spacing
    exceeds 2 pi), so those channels would be rounding noise that also differs between CPU
    and GPU ``sin`` implementations. The encoding is therefore
    computed in float64 and cast back to the input's dtype: it is then an accurate,
    device-independent function of the (float32) input. It remains true that the highest
    channels vary on scales far below the input's own precision, so they carry no usable
    signal; keep ``num_freqs`` configurable and prefer small values (about 8-12) when not
    reproducing the paper.

    Args:
        num_freqs (int): Number of frequencies ``L`` (>= 0). Defaults to 32 (the paper).
        in_channels (int): Size ``C`` of the encoded vectors. Defaults to 3 (bbox_info).
        include_input (bool): Keep ``x`` itself as the first ``C`` channels. Defaults to True.
        init_cfg (dict, optional): mmengine initialisation config (no parameters here).
    """

    def __init__(self,
                 num_freqs: int = DEFAULT_NUM_FREQS,
                 in_channels: int = 3,
                 include_input: bool = True,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_freqs < 0 or int(num_freqs) != num_freqs:
            raise ValueError(f'NeRFPositionalEncoding: num_freqs must be an integer >= 0, got '
                             f'{num_freqs!r}.')
        if in_channels < 1:
            raise ValueError(f'NeRFPositionalEncoding: in_channels must be >= 1, got '
                             f'{in_channels!r}.')
        if num_freqs == 0 and not include_input:
            raise ValueError('NeRFPositionalEncoding: num_freqs=0 with include_input=False '
                             'gives an empty encoding; use pos_encoding="none" instead.')
        self.num_freqs = int(num_freqs)
        self.in_channels = int(in_channels)
        self.include_input = include_input
        # Python floats -> exact float64 tensor, built on the fly on the input's device.
        self._freqs = [BASE_FREQUENCY * 2.0**k for k in range(self.num_freqs)]

    @property
    def out_channels(self) -> int:
        """Output size ``C * (2 L + include_input)``."""
        return self.in_channels * (2 * self.num_freqs + int(self.include_input))

    def forward(self, x: Tensor) -> Tensor:
        """Encode ``x``.

        Args:
            x (Tensor): ``(.., C)`` vectors (dimensionless, e.g. bbox_info differences).

        Returns:
            Tensor: ``(.., out_channels)`` in ``x``'s dtype.
        """
        if x.shape[-1] != self.in_channels:
            raise ValueError(f'NeRFPositionalEncoding: expected input of shape (..., '
                             f'{self.in_channels}) (in_channels), got {tuple(x.shape)}.')
        parts = [x] if self.include_input else []
        if self.num_freqs:
            # MPS has no float64; elsewhere compute the phases in float64 (see class doc).
            dtype = torch.float32 if x.device.type == 'mps' else torch.float64
            freqs = torch.tensor(self._freqs, dtype=dtype, device=x.device)
            phases = x.to(dtype).unsqueeze(-2) * freqs.unsqueeze(-1)  # (.., L, C)
            # (.., L, 2, C) -> (.., 2 L C): sin then cos for each frequency, as in NeRF.
            sincos = torch.stack([phases.sin(), phases.cos()], dim=-2)
            parts.append(sincos.flatten(-3).to(x.dtype))
        return torch.cat(parts, dim=-1)
