"""NeRF positional encoding: layout, dimensions, hand-computed values and float64 phases."""
import math

import numpy as np
import pytest
import torch

from mroi_plugin.models.necks import NeRFPositionalEncoding
from mroi_plugin.registry import MODELS

SQRT_HALF = math.sqrt(0.5)


@pytest.mark.parametrize('num_freqs, include_input, expected', [(32, True, 195), (32, False, 192),
                                                                 (4, True, 27), (0, True, 3)])
def test_output_dimension(num_freqs, include_input, expected):
    encoding = NeRFPositionalEncoding(num_freqs=num_freqs, include_input=include_input)
    assert encoding.out_channels == expected
    out = encoding(torch.zeros(2, 5, 3))
    assert out.shape == (2, 5, expected)


def test_values_at_hand_picked_inputs():
    # Layout [x, sin(pi x), cos(pi x), sin(2 pi x), cos(2 pi x), sin(4 pi x), cos(4 pi x)],
    # each block holding the three components.
    encoding = NeRFPositionalEncoding(num_freqs=3)
    x = torch.tensor([0.5, 0.25, 0.0])
    expected = torch.tensor([
        [0.5, 0.25, 0.0],
        [1.0, SQRT_HALF, 0.0],  # sin(pi x)
        [0.0, SQRT_HALF, 1.0],  # cos(pi x)
        [0.0, 1.0, 0.0],  # sin(2 pi x)
        [-1.0, 0.0, 1.0],  # cos(2 pi x)
        [0.0, 0.0, 0.0],  # sin(4 pi x)
        [1.0, -1.0, 1.0],  # cos(4 pi x)
    ]).reshape(-1)
    torch.testing.assert_close(encoding(x), expected, atol=1e-6, rtol=0)


def test_without_input_starts_with_sines():
    encoding = NeRFPositionalEncoding(num_freqs=1, in_channels=2, include_input=False)
    out = encoding(torch.tensor([0.5, 1.0]))
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 0.0, -1.0]), atol=1e-6, rtol=0)


def test_high_frequencies_are_computed_in_float64():
    # x = 2^-20 is exact in float32; the phase pi 2^k x = pi 2^(k - 20) is a multiple of
    # 2 pi for k >= 21 (sin = 0, cos = 1 exactly). A float32 phase would be off by ~2e-4 at
    # the top frequency (float32(pi) * 2^11).
    encoding = NeRFPositionalEncoding(num_freqs=32, in_channels=1, include_input=False)
    out = encoding(torch.tensor([2.0**-20]))
    assert out.dtype == torch.float32
    sines, cosines = out[0::2], out[1::2]
    expected_sines = torch.tensor([math.sin(math.pi * 2.0**(k - 20)) for k in range(32)])
    expected_cosines = torch.tensor([math.cos(math.pi * 2.0**(k - 20)) for k in range(32)])
    torch.testing.assert_close(sines, expected_sines, atol=1e-6, rtol=0)
    torch.testing.assert_close(cosines, expected_cosines, atol=1e-6, rtol=0)
    assert sines[21:].abs().max() < 1e-9


def test_matches_float64_reference_of_float32_input():
    x32 = torch.tensor([1.0 / 3.0, -0.7, 2.3])
    out = NeRFPositionalEncoding(num_freqs=32)(x32)
    x64 = x32.double().numpy()
    phases = np.stack([math.pi * 2.0**k * x64 for k in range(32)])  # (L, 3)
    reference = np.concatenate(
        [x64, np.stack([np.sin(phases), np.cos(phases)], axis=1).reshape(-1)])
    np.testing.assert_allclose(out.numpy(), reference, atol=1e-6)


def test_float64_input_stays_float64_and_has_gradient():
    x = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    encoding = NeRFPositionalEncoding(num_freqs=2)
    assert encoding(x).dtype == torch.float64
    assert torch.autograd.gradcheck(encoding, (x, ))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='in_channels'):
        NeRFPositionalEncoding()(torch.zeros(2, 4))
    with pytest.raises(ValueError, match='num_freqs'):
        NeRFPositionalEncoding(num_freqs=-1)
    with pytest.raises(ValueError, match='empty'):
        NeRFPositionalEncoding(num_freqs=0, include_input=False)


def test_registered():
    encoding = MODELS.build(dict(type='NeRFPositionalEncoding', num_freqs=5))
    assert encoding.out_channels == 33
